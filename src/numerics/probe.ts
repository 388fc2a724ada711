import type { LayersModel, Tensor } from "../runtime/tfjs.js";
import { addTap, type FlowTap, tapsOf } from "./flow.js";
import { LAYERS } from "./layers/index.js";
import type { TF } from "./tf.js";

/**
 * The gradient-flow monitor on TF.js's cells (`--kernels tfjs`, and layers the fused kernels do not
 * cover): every step's state passes through an identity op whose gradient function sees ∂loss/∂h of
 * that step (the sum of what the step's output and the next step send back) and passes it on
 * unchanged, so training computes the same bytes as without it. The norms are taken with tensor ops
 * as backpropagation goes and read once per layer and batch. Gate saturation needs the gates, which
 * TF.js's cells do not keep: it is measured on the fused kernels only.
 */

interface Cell {
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
}
interface RecurrentLayer {
  goBackwards: boolean;
  cell: Cell;
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
}

/** One training application of a probed layer: its mask and the norms its steps' gradients had. */
interface Application {
  rows: number;
  steps: number;
  reverse: boolean;
  mask: Float32Array | undefined;
  /** The next step the cell will run. */
  step: number;
  /** Per step, [rows] norms as a kept tensor, filled in as backpropagation reaches the step. */
  norms: (Tensor | undefined)[];
}

const probed = new WeakSet<object>();

/**
 * Puts probes on the recurrent layers of a model that run on TF.js's cells (those fuse.ts has not
 * tapped), once; they measure only in training and only while a recorder listens. Not in an
 * encoder-decoder: TF.js applies its encoder once per output a later layer reads (fuse.ts's
 * applyOnce keeps the fused one to one application), so each application would see part of the
 * gradient.
 */
export function probeCells(tf: TF, model: LayersModel): void {
  if (probed.has(model)) return;
  probed.add(model);
  if (model.getClassName() !== "Sequential") return;
  const fused = new Set(tapsOf(model).map((t) => t.label));
  const visit = (layer: unknown, label: string) => {
    const how = LAYERS.ofClass((layer as { getClassName(): string }).getClassName())?.fused;
    if (!how) return;
    if ("wraps" in how) {
      for (const inner of how.wraps(layer)) visit(inner.layer, `${label} (${inner.label})`);
      return;
    }
    if (fused.has(label)) return;
    probe(tf, layer as RecurrentLayer, addTap(model, { label, cell: how.cell, source: "tfjs" }));
  };
  for (const layer of model.layers) visit(layer, layer.name);
}

function probe(tf: TF, layer: RecurrentLayer, tap: FlowTap): void {
  let current: Application | undefined;
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const mask = kwargs?.mask as Tensor | undefined;
    const [rows, steps] = x.shape as [number, number];
    current =
      kwargs?.training === true && tap.sink
        ? {
            rows,
            steps,
            reverse: layer.goBackwards,
            mask: mask ? (tf.cast(mask, "float32").dataSync() as Float32Array) : undefined,
            step: 0,
            norms: [],
          }
        : undefined;
    try {
      return call(inputs, kwargs);
    } finally {
      current = undefined;
    }
  };
  const cellCall = layer.cell.call.bind(layer.cell);
  layer.cell.call = (inputs, kwargs) => {
    const out = cellCall(inputs, kwargs) as Tensor[];
    const app = current;
    const sink = tap.sink;
    if (!app || !sink) return out;
    const s = app.step++;
    // A cell returns [h, h] or [h, h, c]: the output and the new state are the same tensor.
    const h = identity(tf, out[0]!, (dy) => {
      app.norms[s] = tf.keep(tf.sqrt(tf.sum(tf.square(dy), -1)));
      // Backpropagation reaches step 0 last: then the whole sequence has been measured.
      if (s === 0) sink(collect(tf, app));
    });
    return [h, h, ...out.slice(2)];
  };
}

/** x, whose gradient is shown to `see` on its way through, unchanged. */
function identity(tf: TF, x: Tensor, see: (dy: Tensor) => void): Tensor {
  const op = tf.customGrad((...args: unknown[]) => ({
    value: tf.clone(args[0] as Tensor),
    gradFunc: (dy: Tensor) => {
      see(dy);
      return [tf.clone(dy)];
    },
  }));
  return (op as (t: Tensor) => Tensor)(x);
}

/** The application's norms as the kernels give theirs: [rows, steps], NaN where the mask skipped. */
function collect(tf: TF, app: Application) {
  const { rows, steps } = app;
  const norms = new Float64Array(rows * steps).fill(Number.NaN);
  for (let s = 0; s < steps; s++) {
    const n = app.norms[s];
    if (!n) continue;
    const values = n.dataSync();
    tf.dispose(n);
    const t = app.reverse ? steps - 1 - s : s;
    for (let b = 0; b < rows; b++)
      if (app.mask?.[b * steps + t] !== 0) norms[b * steps + s] = values[b]!;
  }
  return { rows, steps, norms };
}
