import { DiagnosticError, UserError } from "../core/diagnostic.js";
import { defineKind, type StageContext } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { verdictLine, type BaselineScore, type Report } from "../artifacts/report.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { predictAll } from "../numerics/predict.js";
import { restoreModel } from "../numerics/weights.js";
import { argmax } from "../numerics/losses.js";
import { classReport, decodingReport, sequenceReport, valueErrors } from "../evaluation/metrics.js";
import {
  classBaselines,
  defaultMetric,
  sequenceBaselines,
  valueBaselines,
  verdictOf,
} from "../evaluation/baselines.js";
import { decode, inferenceModels } from "../numerics/seq2seq.js";
import { count } from "../artifacts/sequences.js";

export const evaluate = defineKind({
  name: "evaluate",
  // 2: decoding ends a hypothesis only at an <eos> among the beam best, never emits padding or <bos>.
  // 3: every report carries its baselines and the verdict; macro averages over present classes too;
  //    per-step errors of multi-step forecasts.
  version: 3,
  doc: "Measures a trained model on sequences: accuracy, per-class precision/recall/F1, macro and micro averages, confusion matrix and top-k for classes; MAE, RMSE and MAPE (in original units) for values, per step for multi-step forecasts; token accuracy and edit-distance error rate for token sequences. Beside them, the baselines the model must beat (majority class, stratified guessing, persistence; naive, seasonal naive and training-mean forecasts), scored on the same examples, and a verdict: does the model beat the strongest, on which metric, by how much. `rnnp show` prints the report.",
  params: {
    metric: p
      .string(
        "The metric of the verdict (default: accuracy for classes, mae for values, the token error rate for sequences).",
      )
      .optional(),
    require: p
      .oneOf(
        'beatBaseline: fail the stage when the model does not beat its strongest baseline (for CI); "none": report only.',
        ["none", "beatBaseline"],
      )
      .default("none"),
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
  check: (params, inputs) => {
    const target = inputs.data?.target;
    return [
      ...(target !== undefined && target !== "tokens" && params.beam !== 1
        ? [
            {
              param: "beam",
              message:
                "beam is the width of encoder-decoders' decoding; this data has no target sequences",
            },
          ]
        : []),
      ...(target !== undefined && target !== "class" && params.topK !== 3
        ? [{ param: "topK", message: "top-k accuracy is for class targets" }]
        : []),
    ];
  },
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
        const report = { ...decodingReport(decoded, truth), task: "sequence" as const };
        return {
          out: judged(ctx, report, sequenceBaselines("tokens", { decoded: truth }), params),
        };
      }
      const { values, units } = predictAll(tf, model, data, params.batchSize);
      if (t.kind === "class") {
        const trainedOn = trained.data.target;
        if (trainedOn.kind === "class" && trainedOn.classes.join("\0") !== t.classes.join("\0"))
          throw new UserError(
            `the model was trained on classes (${trainedOn.classes.join(", ")}) but these sequences have (${t.classes.join(", ")})`,
          );
        const report = classReport(values, units, t.y, t.classes, params.topK);
        const scored = data.groups
          ? { ...report, perGroup: groupAccuracy(values, units, t.y, data.groups) }
          : report;
        return {
          out: judged(ctx, scored, classBaselines(t.y, t.classes, data.baselines), params),
        };
      }
      if (t.kind === "sequence") {
        const T = data.shape[1]!;
        const report = sequenceReport(values, t.y, T, units / T);
        return {
          out: judged(ctx, report, sequenceBaselines("sequence", { y: t.y, steps: T }), params),
        };
      }
      if (units !== t.size)
        throw new UserError(`the model gives ${units} values per example, the data has ${t.size}`);
      const errors = valueErrors(values, t.y, t.names, t.horizon, t.scaling, t.relativeTo);
      const forecasts = data.baselines?.forecasts ?? [];
      const naive = forecasts.some((f) => f.name === "naive") ? undefined : naiveForecast(data);
      const base = valueBaselines(
        naive
          ? [
              { name: "naive", doc: "the last observed value, for every step", y: naive },
              ...forecasts,
            ]
          : forecasts,
        t.y,
        t.names,
        t.horizon,
        t.scaling,
        t.relativeTo,
      );
      const report: Report = {
        type: "report",
        task: "value",
        n: count(data),
        metrics: errors.metrics,
        perTarget: errors.perTarget,
        ...(t.horizon > 1
          ? {
              perStep: errors.perStep.map((e, h) => ({
                step: `h${h + 1}${t.steps?.[h] ? ` (${t.steps[h]})` : ""}`,
                ...e,
                baselines: base.perStep[h]!,
              })),
            }
          : {}),
      };
      return { out: judged(ctx, report, base.scores, params) };
    } finally {
      model.dispose();
    }
  },
});

/**
 * The report with its baselines and verdict; with require: "beatBaseline", a model that does not beat
 * its strongest baseline fails the stage, pointing at `require`.
 */
function judged(
  ctx: StageContext,
  report: Report,
  baselines: BaselineScore[],
  params: { metric?: string | undefined; require: "none" | "beatBaseline" },
): Report {
  const metric = params.metric ?? defaultMetric(report);
  if (!(metric in report.metrics))
    throw new DiagnosticError([
      ctx.problem(
        "metric",
        `this report has no metric "${metric}"`,
        `one of ${Object.keys(report.metrics).join(", ")}`,
      ),
    ]);
  const verdict = verdictOf(report.metrics, baselines, metric);
  if (params.require === "beatBaseline" && !verdict?.beats)
    throw new DiagnosticError([
      ctx.problem(
        "require",
        verdict
          ? `the model ${verdictLine(verdict)}`
          : `there is no baseline with the metric "${metric}" to beat`,
        'improve the model (or its data), or drop require: "beatBaseline"',
      ),
    ]);
  return { ...report, baselines, ...(verdict ? { verdict } : {}) };
}

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
