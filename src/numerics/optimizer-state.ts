import { UserError } from "../core/diagnostic.js";
import type { OptimizerState } from "../artifacts/model.js";
import type { TF } from "./tf.js";

type Optimizer = import("../runtime/tfjs.js").Optimizer;
type Variable = import("../runtime/tfjs.js").Variable;

/**
 * An optimizer's state, out of TF.js and back, exactly. TF.js keeps it as `getWeights()`: the step
 * count, then each slot's tensors in the order the optimizer first met the variables (all first
 * moments, then all second moments for Adam). `setWeights()` restores them but recomputes Adam's
 * running powers of beta1 and beta2 with `pow`, which rounds otherwise than the product the steps
 * took: those two are saved and put back as they were, so training that resumes gives the bytes of
 * training that never stopped.
 */

/** Scalars TF.js optimizers keep outside getWeights, by optimizer: Adam's accumulated powers. */
const SCALARS: Readonly<Record<string, readonly string[]>> = {
  adam: ["accBeta1", "accBeta2"],
};

export interface Trained {
  variable: Variable;
  /** The weight's stable name (`lstm_2/kernel`); TF.js's variable names may carry suffixes. */
  name: string;
}

export async function saveOptimizer(
  opt: Optimizer,
  call: string,
  variables: readonly Trained[],
): Promise<OptimizerState> {
  const [iterations, ...slots] = await opt.getWeights();
  const n = variables.length;
  // Before the first step TF.js holds no slots yet.
  const k = n && slots.length ? slots.length / n : 0;
  if (!Number.isInteger(k)) throw new Error(`${call}: ${slots.length} slots for ${n} weights`);
  const holder = opt as unknown as Record<string, Variable | undefined>;
  return {
    call,
    iterations: iterations ? (iterations.tensor.dataSync()[0] ?? 0) : 0,
    weights: variables.map((v) => v.name),
    slots: Array.from({ length: k }, (_, s) =>
      variables.map((_v, i) => Float32Array.from(slots[s * n + i]!.tensor.dataSync())),
    ),
    scalars: Object.fromEntries(
      (SCALARS[call] ?? []).flatMap((name) => {
        const v = holder[name];
        return v ? [[name, v.dataSync()[0]!]] : [];
      }),
    ),
  };
}

/**
 * Puts a saved state into a fresh optimizer of the same kind, for these variables: by weight name,
 * so a state saved with other trained weights (some frozen now, some new) still fits. A weight the
 * state does not know starts with zero slots, as TF.js would start it.
 */
/**
 * A slot of a weight that has grown since (an embedding of an extended vocabulary): the saved rows,
 * then zeros for the rows added (a fresh slot's value, as TF.js starts one).
 */
function grown(
  values: Float32Array | undefined,
  shape: readonly number[],
): Float32Array | undefined {
  if (!values || shape.length < 1) return values;
  const size = shape.reduce((a, b) => a * b, 1);
  const row = size / shape[0]!;
  if (values.length >= size || values.length % row !== 0) return values;
  const out = new Float32Array(size);
  out.set(values);
  return out;
}

export async function restoreOptimizer(
  tf: TF,
  opt: Optimizer,
  call: string,
  state: OptimizerState,
  variables: readonly Trained[],
): Promise<void> {
  if (state.call !== call)
    throw new UserError(
      `init was trained with ${state.call}, this stage with ${call}: an optimizer's state continues only in the same optimizer`,
      { hint: "use the same optimizer, or resetOptimizer: true" },
    );
  const index = new Map(state.weights.map((w, i) => [w, i]));
  const named = [
    { name: "iter", tensor: tf.scalar(state.iterations, "int32") },
    ...state.slots.flatMap((slot, s) =>
      variables.map((v) => {
        const i = index.get(v.name);
        const values = grown(i === undefined ? undefined : slot[i], v.variable.shape as number[]);
        if (values && values.length !== v.variable.size)
          throw new UserError(
            `init's optimizer state for ${v.name} has ${values.length} values, the weight ${v.variable.size}`,
            { hint: "resetOptimizer: true starts a fresh optimizer" },
          );
        return {
          name: `${v.variable.name}/slot${s}`,
          tensor: values
            ? tf.tensor(values, v.variable.shape, "float32")
            : tf.zeros(v.variable.shape, "float32"),
        };
      }),
    ),
  ];
  await opt.setWeights(named);
  tf.dispose(named.map((n) => n.tensor));
  const holder = opt as unknown as Record<string, Variable | undefined>;
  for (const [name, value] of Object.entries(state.scalars)) {
    const v = holder[name];
    if (!v) throw new Error(`${call} has no ${name} to restore`);
    v.assign(tf.scalar(value, "float32"));
  }
}
