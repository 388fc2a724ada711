/**
 * TensorFlow.js as rnnp uses it: core (its Node build registers the gradients), layers, and the cpu
 * backend (wasm is loaded on demand in numerics/tf.ts). Not the umbrella @tensorflow/tfjs, which
 * adds the webgl backend, the graph-model converter and tf.data: about 190 MB installed that a
 * Node command line never runs.
 */
import "@tensorflow/tfjs-backend-cpu";

export * from "@tensorflow/tfjs-core";
export * from "@tensorflow/tfjs-layers";

import * as core from "@tensorflow/tfjs-core";

/**
 * tfjs-layers calls some of core's chained tensor methods (its orthogonal initializer:
 * `r.flatten().stridedSlice(...).sign()`, `q.transpose()`). The umbrella package registers them
 * from core's ES module build, which Node cannot load (directory imports); core's Node bundle
 * registers none. So they are defined here as core defines them: `t.op(...args)` is
 * `op(t, ...args)` (flatten is a reshape). Only where missing.
 */
const CHAINED = [
  "abs",
  "add",
  "argMax",
  "argMin",
  "broadcastTo",
  "cast",
  "clipByValue",
  "div",
  "equal",
  "exp",
  "expandDims",
  "gather",
  "greater",
  "less",
  "log",
  "matMul",
  "max",
  "maximum",
  "mean",
  "min",
  "minimum",
  "mul",
  "neg",
  "pow",
  "relu",
  "reshape",
  "sigmoid",
  "sign",
  "slice",
  "softmax",
  "sqrt",
  "square",
  "squeeze",
  "stridedSlice",
  "sub",
  "sum",
  "tanh",
  "tile",
  "transpose",
] as const;
const proto = core.Tensor.prototype as unknown as Record<string, unknown>;
const ops = core as unknown as Record<string, (...args: unknown[]) => core.Tensor>;
for (const name of CHAINED) {
  const op = ops[name];
  if (typeof op === "function" && typeof proto[name] !== "function")
    proto[name] = function (this: core.Tensor, ...args: unknown[]) {
      return op(this, ...args);
    };
}
if (typeof proto.flatten !== "function")
  proto.flatten = function (this: core.Tensor) {
    return core.reshape(this, [this.size]);
  };
