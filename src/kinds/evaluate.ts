import { UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import type { Report } from "../artifacts/report.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { predictAll } from "../numerics/predict.js";
import { restoreModel } from "../numerics/weights.js";
import { argmax } from "../numerics/losses.js";
import { classReport, decodingReport, sequenceReport, valueReport } from "../evaluation/metrics.js";
import { decode, inferenceModels } from "../numerics/seq2seq.js";
import { count } from "../artifacts/sequences.js";

export const evaluate = defineKind({
  name: "evaluate",
  // 2: decoding ends a hypothesis only at an <eos> among the beam best, never emits padding or <bos>.
  version: 2,
  doc: "Measures a trained model on sequences: accuracy, per-class precision/recall/F1, macro and micro averages, confusion matrix and top-k for classes; MAE, RMSE and MAPE (in original units) for values; token accuracy and edit-distance error rate for token sequences. `rnnp show` prints the report.",
  params: {
    topK: p
      .int("k of the top-k accuracy (reported when there are more than k classes).", { min: 1 })
      .default(3),
    beam: p.int("Encoder-decoders: beam width of the decoding (1: greedy).", { min: 1 }).default(1),
    batchSize: p.int("Examples per forward pass.", { min: 1 }).default(128),
  },
  inputs: {
    model: { type: "trained", doc: "The trained model." },
    data: { type: "sequences", doc: "Sequences to evaluate on, e.g. seqs.test." },
  },
  outputs: ["out"],
  outputType: "report",
  random: false,
  backendDependent: true,
  async run(ctx, inputs, params): Promise<{ out: Report }> {
    const { model: trained, data } = inputs;
    const t = data.target;
    if (t.kind === "none")
      throw new UserError("these sequences have no target to evaluate against");
    const tf = await ctx.tf();
    const model = await restoreModel(
      tf,
      trained.topology,
      trained.weightSpecs,
      trained.weights,
      ctx.runtime!,
    );
    try {
      if (t.kind === "tokens") {
        const m = inferenceModels(tf, model);
        const T = data.shape[1]!;
        const decoded: number[][] = [];
        for (let i = 0; i < count(data); i += params.batchSize) {
          const n = Math.min(params.batchSize, count(data) - i);
          decoded.push(
            ...decode(tf, m, data.x.subarray(i * T, (i + n) * T) as Int32Array, [n, T], {
              bos: t.bos,
              eos: t.eos,
              maxLen: t.length,
              beam: params.beam,
            }),
          );
          ctx.progress(i + n, count(data), "sequences");
        }
        const truth = Array.from({ length: count(data) }, (_, i) =>
          Array.from(t.y.subarray(i * t.length, (i + 1) * t.length)).filter(
            (id) => id !== 0 && id !== t.eos,
          ),
        );
        return { out: { ...decodingReport(decoded, truth), task: "sequence" } };
      }
      const { values, units } = predictAll(tf, model, data, params.batchSize);
      if (t.kind === "class") {
        const trainedOn = trained.data.target;
        if (trainedOn.kind === "class" && trainedOn.classes.join("\0") !== t.classes.join("\0"))
          throw new UserError(
            `the model was trained on classes (${trainedOn.classes.join(", ")}) but these sequences have (${t.classes.join(", ")})`,
          );
        const report = classReport(values, units, t.y, t.classes, params.topK);
        return {
          out: data.groups
            ? { ...report, perGroup: groupAccuracy(values, units, t.y, data.groups) }
            : report,
        };
      }
      if (t.kind === "sequence")
        return { out: sequenceReport(values, t.y, data.shape[1]!, units / data.shape[1]!) };
      if (units !== t.size)
        throw new UserError(`the model gives ${units} values per example, the data has ${t.size}`);
      return {
        out: valueReport(
          values,
          t.y,
          t.names,
          t.horizon,
          t.scaling,
          naiveForecast(data),
          t.relativeTo,
        ),
      };
    } finally {
      model.dispose();
    }
  },
});

/**
 * The last observed value of each target as the forecast for every future step, when the targets are
 * among the window's inputs: the baseline a forecaster has to beat.
 */
export function naiveForecast(s: SequenceSet): Float32Array | undefined {
  const t = s.target;
  if (t.kind !== "value" || !s.window || s.input !== "features") return undefined;
  const columns = s.window.columns;
  const index = t.names.map((n) => columns.indexOf(n));
  if (index.some((i) => i < 0)) return undefined;
  const [n, T, F] = s.shape as [number, number, number];
  const out = new Float32Array(n * t.size);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < t.horizon; h++) {
      for (let k = 0; k < t.names.length; k++)
        out[i * t.size + h * t.names.length + k] = s.x[(i * T + T - 1) * F + index[k]!]!;
    }
  }
  return out;
}

/** Accuracy within each group (e.g. each held-out voice), groups in name order. */
function groupAccuracy(
  probs: Float32Array,
  units: number,
  y: Int32Array,
  groups: { name: string; values: string[] },
): NonNullable<Report["perGroup"]> {
  const acc = new Map<string, { n: number; correct: number }>();
  groups.values.forEach((g, i) => {
    const guess = units === 1 ? (probs[i]! > 0.5 ? 1 : 0) : argmax(probs, i * units, units);
    const a = acc.get(g) ?? { n: 0, correct: 0 };
    a.n++;
    if (guess === y[i]) a.correct++;
    acc.set(g, a);
  });
  return {
    column: groups.name,
    rows: [...acc]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([group, a]) => ({ group, n: a.n, accuracy: a.correct / a.n })),
  };
}
