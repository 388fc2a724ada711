import type { TF } from "./tf.js";

type Tensor = import("../runtime/tfjs.js").Tensor;

/**
 * Whether a tensor's gradient can be asked for by the gradient computation now recording: so that an
 * op whose backward pass computes every input's gradient at once (the fused recurrent op) can leave
 * out one nobody will read. TF.js's tape prunes an input that no differentiated tensor (`xs`) leads
 * to, but only after the op has run, and the op's gradient function is not told. So rnnp notes the
 * `xs` of every gradient computation as it starts (`trackGradientTargets`, once per engine), and a
 * tensor needs a gradient unless the tape is recording, it is not one of the `xs`, and no op on the
 * tape made it: a leaf such as a batch of training data. Whatever cannot be told counts as needed.
 */
interface TapeNode {
  outputs: Tensor[];
}
interface Engine {
  gradients(f: () => Tensor, xs: Tensor[], ...rest: unknown[]): unknown;
  /** gradientDepth: the gradient computations whose tape is recording (nested ones add one each). */
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

/** The `xs` of the gradient computations under way, innermost last, per engine. */
const targets = new WeakMap<object, Set<number>[]>();

/** Notes the `xs` of every gradient computation of tf's engine from now on (idempotent). */
export function trackGradientTargets(tf: TF): void {
  const engine = tf.engine() as unknown as Engine;
  if (targets.has(engine)) return;
  const stack: Set<number>[] = [];
  targets.set(engine, stack);
  const gradients = engine.gradients.bind(engine);
  engine.gradients = (f, xs, ...rest) => {
    stack.push(new Set(xs.map((x) => x.id)));
    try {
      return gradients(f, xs, ...rest);
    } finally {
      stack.pop();
    }
  };
}

/** False only when `t`'s gradient cannot be asked for (see above). */
export function needsGradient(tf: TF, t: Tensor): boolean {
  const engine = tf.engine() as unknown as Engine;
  const stack = targets.get(engine);
  const tape = engine.state.activeTape;
  // A computation under way that started before tracking did: its xs are unknown.
  if (!stack || stack.length === 0 || !tape || stack.length < engine.state.gradientDepth)
    return true;
  if (stack.some((xs) => xs.has(t.id))) return true;
  return tape.some((node) => node.outputs.some((o) => o.id === t.id));
}

/**
 * Whether a gradient computation is recording now: then a gradient computed now (inside another
 * computation's function) is itself differentiated by the outer one.
 */
export function recordingGradients(tf: TF): boolean {
  return (tf.engine() as unknown as Engine).state.gradientDepth > 0;
}
