import { kernelsOnWasm } from "./fused/kernels.js";
import type { TF } from "./tf.js";
import type { WasmBackend } from "./wasm-kernels.js";

type Tensor = import("../runtime/tfjs.js").Tensor;

/**
 * Each tensor's sum of squares, as float32: tf.sum(tf.square(t)). On the wasm backend with the
 * native kernels loaded, read where the backend keeps each tensor and summed by the add-on in the
 * order TF.js's wasm Sum adds (native/addon.cc): the same bytes without 2n + 1 TF.js ops and a read
 * back (test/numerics/squared-norms.test.ts). Elsewhere, TF.js's ops.
 */
export function squaredNorms(tf: TF, tensors: Tensor[]): Float32Array {
  const native = kernelsOnWasm(tf.getBackend())?.sumSquares;
  // Empty tensors: TF.js's Sum leaves its output unwritten; float32 only ever comes from train().
  if (!native || tensors.some((t) => t.dtype !== "float32" || t.size === 0))
    return tf.tidy(
      () => tf.stack(tensors.map((t) => tf.sum(tf.square(t)))).dataSync() as Float32Array,
    );
  const backend = tf.backend() as unknown as WasmBackend;
  return Float32Array.from(tensors, (t) => native(backend.typedArrayFromHeap(t) as Float32Array));
}
