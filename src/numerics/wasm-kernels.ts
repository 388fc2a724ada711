import type { TF } from "./tf.js";

/** A tensor as a backend holds it. */
export interface TensorInfo {
  dataId: unknown;
  shape: number[];
  dtype: string;
}

/** What of TF.js's wasm backend rnnp reads and writes tensors' memory with. */
export interface WasmBackend {
  disposeData(dataId: unknown): void;
  readSync(dataId: unknown): ArrayLike<number>;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array;
}

/**
 * Kernels the wasm backend of TF.js 4.22 lacks but training needs, registered for it here.
 *
 * UnsortedSegmentSum is the gradient of Gather, hence of every Embedding layer. Ours sums rows in
 * ascending index order (deterministic, like every other kernel rnnp relies on) in one pass over the
 * data: O(N x inner) instead of the cpu backend's O(numSegments x N x inner).
 */
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

type KernelFunc = (args: {
  inputs: Record<string, TensorInfo>;
  attrs: Record<string, unknown>;
  backend: unknown;
}) => TensorInfo;

export function patchWasmMatMul(tf: TF): void {
  const original = tf.getKernel("BatchMatMul", "wasm");
  const batchMatMul = original?.kernelFunc as unknown as KernelFunc | undefined;
  const transpose = tf.getKernel("Transpose", "wasm")?.kernelFunc as unknown as
    | KernelFunc
    | undefined;
  if (!batchMatMul || !transpose || (batchMatMul as { patched?: boolean }).patched) return;
  const patched: KernelFunc = ({ inputs, attrs, backend }) => {
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return batchMatMul({ inputs, attrs, backend });
    const swapped = (t: TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      perm.splice(-2, 2, perm.length - 1, perm.length - 2);
      return transpose({ inputs: { x: t }, attrs: { perm }, backend });
    };
    const a = transposeA ? swapped(inputs.a!) : inputs.a!;
    const b = transposeB ? swapped(inputs.b!) : inputs.b!;
    try {
      return batchMatMul({
        inputs: { a, b },
        attrs: { ...attrs, transposeA: false, transposeB: false },
        backend,
      });
    } finally {
      for (const t of [transposeA && a, transposeB && b])
        if (t) (backend as WasmBackend).disposeData(t.dataId);
    }
  };
  Object.assign(patched, { patched: true });
  tf.unregisterKernel("BatchMatMul", "wasm");
  // The original's setup binds its wasm function when the backend starts: keep it.
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    kernelFunc: patched as never,
    ...(original!.setupFunc ? { setupFunc: original!.setupFunc } : {}),
  });
}
