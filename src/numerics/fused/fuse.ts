import type { LayersModel, Tensor } from "../../runtime/tfjs.js";
import { addTap } from "../flow.js";
import { needsGradient, trackGradientTargets } from "../gradient-targets.js";
import { LAYERS } from "../layers/index.js";
import type { TF } from "../tf.js";
import { CELLS, type CellKind } from "./cells.js";
import { type Kernels, kernels } from "./kernels.js";
import { recurrent } from "./op.js";

/** What became of each recurrent layer of a model: fused, or left to TF.js (and why). */
export interface Fusion {
  /** Which build of the kernels runs them: "native avx512, 2 threads". */
  kernels: string;
  fused: string[];
  unfused: { layer: string; reason: string }[];
}

interface Activation {
  getClassName(): string;
}
interface RecurrentLayer {
  name: string;
  returnSequences: boolean;
  returnState: boolean;
  goBackwards: boolean;
  stateful: boolean;
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
  cell: {
    units: number;
    activation: Activation;
    recurrentActivation?: Activation;
    useBias: boolean;
    dropout: number;
    recurrentDropout: number;
    kernel: { read(): Tensor };
    recurrentKernel: { read(): Tensor };
    bias: { read(): Tensor };
  };
}

/**
 * A dropout mask drawn as TF.js's cells draw theirs (`generateDropoutMask`): one mask per gate, of
 * which the cells use the first, so the same Math.random stream gives both paths the same masks.
 */
function dropoutMask(tf: TF, kind: CellKind, shape: [number, number], rate: number): Tensor {
  const masks = Array.from({ length: CELLS[kind].gates }, () => tf.dropout(tf.ones(shape), rate));
  return masks[0]!;
}

/** Why the fused kernels cannot stand in for this layer at all, if they cannot. */
function unsupported(layer: RecurrentLayer): string | undefined {
  const { cell } = layer;
  if (layer.stateful) return "stateful";
  if (!cell.useBias) return "no bias";
  if (cell.activation.getClassName() !== "tanh")
    return `activation ${cell.activation.getClassName()}`;
  if (cell.recurrentActivation && cell.recurrentActivation.getClassName() !== "sigmoid")
    return `recurrentActivation ${cell.recurrentActivation.getClassName()}`;
  return undefined;
}

/**
 * Makes the model's recurrent layers compute with rnnp's fused kernels, in place: the layers whose
 * declarations name a fused cell (lstm, gru, simpleRNN), also inside the layers that declare they
 * wrap others (bidirectional). The layers keep their weights, names and saved form (a model exported
 * from here loads anywhere TF.js runs). Only what the kernels cover is replaced. `k`: the process's
 * kernels unless given (tests compare builds).
 */
export function fuse(tf: TF, model: LayersModel, k: Kernels = kernels()): Fusion {
  const report: Fusion = { kernels: k.describe(), fused: [], unfused: [] };
  trackGradientTargets(tf);
  const visit = (layer: unknown, label: string) => {
    const how = LAYERS.ofClass((layer as { getClassName(): string }).getClassName())?.fused;
    if (!how) return;
    if ("wraps" in how) {
      for (const inner of how.wraps(layer)) visit(inner.layer, `${label} (${inner.label})`);
      return;
    }
    const kind: CellKind = how.cell;
    const rnn = layer as RecurrentLayer;
    const why = unsupported(rnn);
    if (why) {
      report.unfused.push({ layer: label, reason: why });
      return;
    }
    report.fused.push(label);
    const tap = addTap(model, { label, cell: kind, source: "kernels" });
    rnn.call = (inputs, kwargs) => {
      const training = kwargs?.training === true;
      return tf.tidy(() => {
        let x = Array.isArray(inputs) ? inputs[0]! : inputs;
        // Asked of the layer's input as given: dropout below makes a new tensor from it.
        const inputGradient = !training || needsGradient(tf, x);
        const [B, , F] = x.shape as [number, number, number];
        const H = rnn.cell.units;
        // Dropout as TF.js's cells draw it: one mask per sequence, the same at every step; inputs' first.
        const { dropout, recurrentDropout } = rnn.cell;
        if (training && dropout > 0 && dropout < 1)
          x = tf.mul(x, tf.expandDims(dropoutMask(tf, kind, [B, F], dropout), 1));
        const dropped =
          training && recurrentDropout > 0 && recurrentDropout < 1
            ? (dropoutMask(tf, kind, [B, H], recurrentDropout).dataSync() as Float32Array)
            : undefined;
        const given = kwargs?.initialState as Tensor[] | undefined;
        const nStates = kind === "lstm" ? 2 : 1;
        const init = given ?? Array.from({ length: nStates }, () => tf.zeros([B, H]));
        const mask = kwargs?.mask as Tensor | undefined;
        const { output, states } = recurrent(
          tf,
          k,
          kind,
          {
            x,
            kernel: rnn.cell.kernel.read(),
            recurrentKernel: rnn.cell.recurrentKernel.read(),
            bias: rnn.cell.bias.read(),
            init,
            ...(mask ? { mask: tf.cast(mask, "float32").dataSync() as Float32Array } : {}),
            ...(dropped ? { recurrentDropout: dropped } : {}),
            reverse: rnn.goBackwards,
            sequences: rnn.returnSequences,
            withStates: rnn.returnState,
            ...(training && tap.sink ? { flow: tap.sink } : {}),
            inputGradient,
            stateGradients: !training || init.some((s) => needsGradient(tf, s)),
          },
          training,
        );
        return rnn.returnState ? [output, ...states] : output;
      });
    };
  };
  for (const layer of model.layers) {
    const before = report.fused.length;
    visit(layer, layer.name);
    if (report.fused.length > before) applyOnce(tf, layer as unknown as Applicable);
  }
  return report;
}

interface Applicable {
  apply(inputs: unknown, kwargs?: Record<string, unknown>): unknown;
  weights: { read(): { dataId: object } }[];
}

/**
 * TF.js's executor applies a layer once per output of it that the model uses: an encoder layer whose
 * final h and c (of both directions) feed a decoder ran four times per batch, each run with its own
 * dropout masks. Applied again to the very same input tensors (and mask, initial states, mode), with
 * the same weights (a variable's data changes when it is assigned: setWeights, an optimizer's step),
 * the layer now returns the outputs of the first application while they live.
 */
function applyOnce(tf: TF, layer: Applicable): void {
  const apply = layer.apply.bind(layer);
  let last: { key: string; weights: object[]; out: unknown } | undefined;
  const concrete = (x: unknown): x is Tensor => x instanceof tf.Tensor;
  layer.apply = (inputs, kwargs) => {
    const given = [
      ...(Array.isArray(inputs) ? inputs : [inputs]),
      kwargs?.mask,
      ...((kwargs?.initialState as unknown[] | undefined) ?? []),
    ];
    if (!given.every((t) => t === undefined || t === null || concrete(t)) || !concrete(given[0]))
      return apply(inputs, kwargs);
    const key = `${kwargs?.training === true}:${given.map((t) => (concrete(t) ? t.id : "-")).join(",")}`;
    const alive = (out: unknown) =>
      (Array.isArray(out) ? out : [out]).every((t) => concrete(t) && !t.isDisposed);
    const weights = layer.weights.map((w) => w.read().dataId);
    const same = (a: object[]) =>
      a.length === weights.length && a.every((d, i) => d === weights[i]);
    if (last?.key === key && same(last.weights) && alive(last.out)) return last.out;
    const out = apply(inputs, kwargs);
    last = { key, weights, out };
    return out;
  };
}

/** One line for the run output: which layers run fused, and why others do not. */
export function describeFusion(f: Fusion): string | undefined {
  const parts = [
    ...(f.fused.length ? [`fused kernels (${f.kernels}): ${f.fused.join(", ")}`] : []),
    ...f.unfused.map((x) => `${x.layer}: TF.js's cell (${x.reason})`),
  ];
  return parts.length ? parts.join("; ") : undefined;
}
