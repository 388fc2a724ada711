/**
 * TensorFlow.js as rnnp uses it: core (its Node build registers the gradients), layers, and the cpu
 * backend (wasm is loaded on demand in numerics/tf.ts). Not the umbrella @tensorflow/tfjs, which
 * adds the webgl backend, the graph-model converter and tf.data: about 190 MB installed that a
 * Node command line never runs.
 */
import "@tensorflow/tfjs-backend-cpu";
// Tensor methods (t.flatten(), ...) that tfjs-layers calls, e.g. in its orthogonal initializer: the
// umbrella package registers them; importing core alone does not.
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js";

export * from "@tensorflow/tfjs-core";
export * from "@tensorflow/tfjs-layers";
