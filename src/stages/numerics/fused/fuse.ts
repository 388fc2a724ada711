import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import type { TF } from "../tf.js";
import type { CellKind } from "./cells.js";
import { kernels } from "./kernels.js";
import { recurrent } from "./op.js";

/** What became of each recurrent layer of a model: fused, fused except in training, or left to TF.js. */
export interface Fusion {
  fused: string[];
  /** Layers fused for inference only, with why training keeps TF.js's cell. */
  inferenceOnly: { layer: string; reason: string }[];
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

const KINDS: Record<string, CellKind> = { LSTM: "lstm", GRU: "gru", SimpleRNN: "simpleRNN" };

/** Why the fused kernels cannot stand in for this layer at all, if they cannot. */
function unsupported(layer: RecurrentLayer): string | undefined {
  const { cell } = layer;
  if (layer.stateful) return "stateful";
  if (!cell.useBias) return "no bias";
  if (cell.activation.getClassName() !== "tanh") return `activation ${cell.activation.getClassName()}`;
  if (cell.recurrentActivation && cell.recurrentActivation.getClassName() !== "sigmoid") return `recurrentActivation ${cell.recurrentActivation.getClassName()}`;
  return undefined;
}

/**
 * Makes the model's LSTM, GRU and SimpleRNN layers (also inside bidirectional) compute with rnnp's
 * fused kernels, in place: the layers keep their weights, names and saved form (a model exported from
 * here loads anywhere TF.js runs). Only what the kernels cover is replaced; recurrent dropout keeps
 * TF.js's cell while training.
 */
export function fuse(tf: TF, model: LayersModel): Fusion {
  const report: Fusion = { fused: [], inferenceOnly: [], unfused: [] };
  const k = kernels();
  const visit = (layer: unknown, label: string) => {
    const className = (layer as { getClassName(): string }).getClassName();
    if (className === "Bidirectional") {
      const bi = layer as { forwardLayer: unknown; backwardLayer: unknown };
      visit(bi.forwardLayer, `${label} (forward)`);
      visit(bi.backwardLayer, `${label} (backward)`);
      return;
    }
    const kind = KINDS[className];
    if (!kind) return;
    const rnn = layer as RecurrentLayer;
    const why = unsupported(rnn);
    if (why) {
      report.unfused.push({ layer: label, reason: why });
      return;
    }
    if (rnn.cell.recurrentDropout > 0) report.inferenceOnly.push({ layer: label, reason: "recurrentDropout" });
    else report.fused.push(label);
    const original = rnn.call.bind(rnn);
    rnn.call = (inputs, kwargs) => {
      const training = kwargs?.training === true;
      if (training && rnn.cell.recurrentDropout > 0) return original(inputs, kwargs);
      return tf.tidy(() => {
        let x = Array.isArray(inputs) ? inputs[0]! : inputs;
        const [B, , F] = x.shape as [number, number, number];
        const H = rnn.cell.units;
        // Input dropout as TF.js's cells draw it: one mask per sequence, the same at every step.
        if (training && rnn.cell.dropout > 0 && rnn.cell.dropout < 1) x = tf.mul(x, tf.expandDims(tf.dropout(tf.ones([B, F]), rnn.cell.dropout), 1));
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
            reverse: rnn.goBackwards,
            sequences: rnn.returnSequences,
          },
          training,
        );
        return rnn.returnState ? [output, ...states] : output;
      });
    };
  };
  for (const layer of model.layers) visit(layer, layer.name);
  return report;
}

/** One line for the run output: which layers run fused, and why others do not. */
export function describeFusion(f: Fusion): string | undefined {
  const parts = [
    ...(f.fused.length ? [`fused kernels: ${f.fused.join(", ")}`] : []),
    ...f.inferenceOnly.map((x) => `${x.layer}: fused for inference; trains with TF.js's cell (${x.reason})`),
    ...f.unfused.map((x) => `${x.layer}: TF.js's cell (${x.reason})`),
  ];
  return parts.length ? parts.join("; ") : undefined;
}
