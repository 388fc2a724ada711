import type { TF } from "./tf.js";

/**
 * Kernels the wasm backend of TF.js 4.22 lacks but training needs, registered for it here.
 *
 * UnsortedSegmentSum is the gradient of Gather, hence of every Embedding layer. Ours sums rows in
 * ascending index order (deterministic, like every other kernel rnnp relies on) in one pass over the
 * data: O(N x inner) instead of the cpu backend's O(numSegments x N x inner).
 */
interface WasmBackend {
  readSync(dataId: unknown): ArrayLike<number>;
  makeOutput(shape: number[], dtype: string): { dataId: unknown; shape: number[]; dtype: string };
  typedArrayFromHeap(info: { dataId: unknown; shape: number[]; dtype: string }): Float32Array | Int32Array;
}

interface TensorInfo {
  dataId: unknown;
  shape: number[];
  dtype: string;
}

export function registerWasmKernels(tf: TF): void {
  if (tf.getKernel("UnsortedSegmentSum", "wasm")) return;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as unknown as { x: TensorInfo; segmentIds: TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const b = backend as unknown as WasmBackend;
      const ids = b.readSync(segmentIds.dataId);
      const values = b.readSync(x.dataId);
      const inner = ids.length === 0 ? 0 : values.length / ids.length;
      const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
      const out = b.makeOutput(shape, x.dtype);
      const acc = b.typedArrayFromHeap(out);
      acc.fill(0);
      for (let i = 0; i < ids.length; i++) {
        const s = ids[i]!;
        if (s < 0 || s >= numSegments) continue; // as in TensorFlow: out-of-range ids are dropped
        const from = i * inner;
        const to = s * inner;
        for (let j = 0; j < inner; j++) acc[to + j] = acc[to + j]! + values[from + j]!;
      }
      return out as never;
    },
  });
}
