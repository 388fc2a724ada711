import { kernelsOnWasm } from "./fused/kernels.js";
import type { TF } from "./tf.js";
import type { TensorInfo, WasmBackend } from "./wasm-kernels.js";

type Optimizer = import("../runtime/tfjs.js").Optimizer;
type Tensor = import("../runtime/tfjs.js").Tensor;
type Variable = import("../runtime/tfjs.js").Variable;

/** What TF.js's AdamOptimizer keeps (private in its types). */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: Variable;
  accBeta2: Variable;
  accumulatedFirstMoment: { originalName: string; variable: Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: Variable }[];
  incrementIterations(): void;
}

/**
 * TF.js's Adam with its step computed in one native call per weight (the kernels' add-on: native/
 * addon.cc) instead of thirteen TF.js ops per weight, each a kernel call with its bookkeeping: on
 * the reference workload those were about 1 to 1.5 ms of every batch, half of the ops a batch runs.
 * The same float32 operations in the same order (IEEE's +, ×, ÷ and √, no fused multiply-add), so
 * the same bytes (test/numerics/adam.test.ts). The state stays where TF.js keeps it (its slot
 * variables, accBeta1 and accBeta2), so getWeights, setWeights and optimizer-state.ts see the same
 * optimizer. The step reads its operands where the wasm backend keeps them and writes new tensors,
 * as a TF.js kernel does (a variable's memory may be shared with a clone: it is never written). Only
 * where the fused kernels run natively and on the wasm backend; elsewhere, TF.js's step. Replaces the
 * instance's applyGradients.
 */
export function onePassAdam(tf: TF, opt: Optimizer): Optimizer {
  const o = opt as unknown as AdamInternals;
  const tfjs = opt.applyGradients.bind(opt);
  opt.applyGradients = (given) => {
    const native = kernelsOnWasm(tf.getBackend())?.adam;
    const names = Array.isArray(given) ? given.map((v) => v.name) : Object.keys(given);
    const gradientOf = (name: string, i: number): Tensor | undefined =>
      Array.isArray(given) ? given[i]!.tensor : given[name];
    // Only float32 ever comes from train(); anything else keeps TF.js's casts.
    if (!native || names.some((n, i) => (gradientOf(n, i)?.dtype ?? "float32") !== "float32"))
      return tfjs(given);
    const f = Math.fround;
    // TF.js's scalars: numbers become float32 tensors; 1 - accBeta is a float32 op.
    const acc1 = o.accBeta1.dataSync()[0]!;
    const acc2 = o.accBeta2.dataSync()[0]!;
    const k = Float32Array.of(
      o.beta1,
      1 - o.beta1,
      o.beta2,
      1 - o.beta2,
      f(1 - acc1),
      f(1 - acc2),
      o.epsilon,
      -o.learningRate,
    );
    const backend = tf.backend() as unknown as WasmBackend;
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        // Slots by position, created as TF.js creates them (also for a weight without a gradient).
        o.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        o.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        const gradient = gradientOf(name, i);
        if (gradient == null) return;
        const first = o.accumulatedFirstMoment[i]!.variable;
        const second = o.accumulatedSecondMoment[i]!.variable;
        // All outputs first: allocating may grow the backend's memory, which detaches views of it.
        const outs = [first, second, value].map((t) => backend.makeOutput(t.shape, "float32"));
        // Float32 all (train() gives nothing else; other dtypes took TF.js's step above).
        const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
        native(
          heap(gradient),
          heap(first),
          heap(second),
          heap(value),
          heap(outs[0]!),
          heap(outs[1]!),
          heap(outs[2]!),
          k,
        );
        const [m, v, w] = outs.map((t) =>
          tf.engine().makeTensorFromTensorInfo(t as import("../runtime/tfjs.js").TensorInfo),
        );
        first.assign(m!);
        second.assign(v!);
        value.assign(w!);
      });
      o.accBeta1.assign(tf.scalar(f(acc1 * k[0]!), "float32"));
      o.accBeta2.assign(tf.scalar(f(acc2 * k[2]!), "float32"));
    });
    o.incrementIterations();
  };
  return opt;
}
