import { DiagnosticError, UserError } from "../core/diagnostic.js";
import { defineKind, isBundle, type StageContext } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { verdictLine, type BaselineScore, type Report } from "../artifacts/report.js";
import type { TrainedModel } from "../artifacts/model.js";
import type { TF } from "../numerics/tf.js";
import { portabilityMetrics, portabilityRow } from "../evaluation/portability.js";
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

type LayersModel = import("../runtime/tfjs.js").LayersModel;

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
    reference: p
      .string(
        'Several sets: the in-domain one, which the portability table measures drops from (default: "inDomain").',
      )
      .optional(),
  },
  inputs: {
    model: { type: "trained", doc: "The trained model." },
    data: {
      type: "sequences",
      doc: "Sequences to evaluate on, e.g. seqs.test; or several named sets, `{inDomain: seqs.test, otherVoices: voices.test}`, for a portability table.",
      named: true,
    },
  },
  outputs: ["out"],
  outputType: "report",
  random: false,
  backendDependent: true,
  check: (params, inputs, members) => {
    const target = inputs.data?.target;
    const sets = members?.data;
    return [
      ...(sets === undefined && params.reference !== undefined
        ? [
            {
              param: "reference",
              message:
                "reference names the in-domain set of several; this evaluate has one set of sequences",
              hint: "give several named sets: evaluate(fit, {inDomain: seqs.test, other: ...})",
            },
          ]
        : []),
      ...(sets !== undefined && !sets.includes(params.reference ?? DEFAULT_REFERENCE)
        ? [
            {
              param: params.reference !== undefined ? "reference" : "data",
              message: `there is no set named "${params.reference ?? DEFAULT_REFERENCE}" to measure the drops from (sets: ${sets.join(", ")})`,
              hint: `name the in-domain set: reference: "${sets[0]}"`,
            },
          ]
        : []),
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
    const tf = await ctx.tf();
    const model = await restoreModel(
      tf,
      trained.topology,
      trained.weightSpecs,
      trained.weights,
      ctx.runtime!,
    );
    try {
      if (!isBundle(data)) {
        const scored = scoreSet(ctx, tf, model, trained, nonEmpty(data), params);
        return { out: judged(ctx, scored.report, scored.baselines, params) };
      }
      return { out: portable(ctx, tf, model, trained, data, params) };
    } finally {
      model.dispose();
    }
  },
});

type EvaluateParams = {
  metric?: string | undefined;
  require: "none" | "beatBaseline";
  topK: number;
  beam: number;
  batchSize: number;
  reference?: string | undefined;
};

/**
 * The set, if it has sequences: a metric of no examples is no measurement (a split that left a part
 * empty would otherwise report accuracy 0, and a model judged on nothing).
 */
function nonEmpty(data: SequenceSet, name?: string): SequenceSet {
  if (count(data) > 0) return data;
  throw new UserError(`there are no sequences to evaluate${name ? ` in the set "${name}"` : ""}`, {
    hint: "the set is empty: give its split a larger fraction, or the pipeline more data",
  });
}

/** A model's report on one set of sequences, and the baselines scored on the same examples. */
interface Scored {
  report: Report;
  baselines: BaselineScore[];
  /** Class targets: the model's probabilities, for scoring groups of the set. */
  probs?: { values: Float32Array; units: number };
}

function scoreSet(
  ctx: StageContext,
  tf: TF,
  model: LayersModel,
  trained: TrainedModel,
  data: SequenceSet,
  params: EvaluateParams,
): Scored {
  const t = data.target;
  if (t.kind === "none") throw new UserError("these sequences have no target to evaluate against");
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
    return {
      report: { ...decodingReport(decoded, truth), task: "sequence" as const },
      baselines: sequenceBaselines("tokens", { decoded: truth }),
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
    return {
      report: data.groups
        ? { ...report, perGroup: groupAccuracy(values, units, t.y, data.groups) }
        : report,
      baselines: classBaselines(t.y, t.classes, data.baselines),
      probs: { values, units },
    };
  }
  if (t.kind === "sequence") {
    const T = data.shape[1]!;
    return {
      report: sequenceReport(values, t.y, T, units / T),
      baselines: sequenceBaselines("sequence", { y: t.y, steps: T }),
    };
  }
  if (units !== t.size)
    throw new UserError(`the model gives ${units} values per example, the data has ${t.size}`);
  const errors = valueErrors(values, t.y, t.names, t.horizon, t.scaling, t.relativeTo);
  const forecasts = data.baselines?.forecasts ?? [];
  const naive = forecasts.some((f) => f.name === "naive") ? undefined : naiveForecast(data);
  const base = valueBaselines(
    naive
      ? [{ name: "naive", doc: "the last observed value, for every step", y: naive }, ...forecasts]
      : forecasts,
    t.y,
    t.names,
    t.horizon,
    t.scaling,
    t.relativeTo,
  );
  return {
    report: {
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
    },
    baselines: base.scores,
  };
}

/**
 * Several named sets: each scored and judged on its own, the reference (in-domain) set's report on
 * top, and the portability table. With require: "beatBaseline", every set must beat its baseline.
 */
function portable(
  ctx: StageContext,
  tf: TF,
  model: LayersModel,
  trained: TrainedModel,
  sets: ReadonlyMap<string, SequenceSet>,
  params: EvaluateParams,
): Report {
  const reference = params.reference ?? DEFAULT_REFERENCE;
  if (!sets.has(reference))
    throw new DiagnosticError([
      ctx.problem(
        "reference",
        `there is no set named "${reference}" to measure the drops from (sets: ${[...sets.keys()].join(", ")})`,
        "name the in-domain set with reference: ...",
      ),
    ]);
  const names = [reference, ...[...sets.keys()].filter((n) => n !== reference).sort()];
  const scored = new Map<string, Scored & { judged: Report }>();
  for (const name of names) {
    const s = scoreSet(ctx, tf, model, trained, nonEmpty(sets.get(name)!, name), params);
    scored.set(name, { ...s, judged: judged(ctx, s.report, s.baselines, params, name) });
  }
  const top = scored.get(reference)!.judged;
  const metrics = portabilityMetrics(
    top.verdict?.metric ?? params.metric ?? defaultMetric(top),
    names.map((n) => scored.get(n)!.judged),
  );
  // Groups the in-domain set has (its voices) are not news; a set with others (held-out voices)
  // gets a row per group, so that each new voice is seen on its own.
  const known = new Set(sets.get(reference)!.groups?.values ?? []);
  const rows = names.flatMap((name) => {
    const s = scored.get(name)!;
    const data = sets.get(name)!;
    const row = portabilityRow(name, s.judged, metrics, top.metrics);
    const news = data.groups?.values.some((g) => !known.has(g)) ?? false;
    const groups =
      s.probs && news && data.target.kind === "class"
        ? groupScores(s.probs.values, s.probs.units, data, params.topK).map((g) =>
            portabilityRow(name, g, metrics, top.metrics, g.group),
          )
        : [];
    // A set of one group says nothing more per group.
    return groups.length > 1 ? [row, ...groups] : [row];
  });
  return {
    ...top,
    sets: names.map((name) => ({ name, report: scored.get(name)!.judged })),
    portability: { reference, metrics, rows },
  };
}

/** The set a portability table measures drops from unless evaluate names another. */
export const DEFAULT_REFERENCE = "inDomain";

/** Each group of a set (a voice) scored as a set of its own, with its own baselines. */
function groupScores(
  probs: Float32Array,
  units: number,
  data: SequenceSet,
  topK: number,
): (Pick<Report, "n" | "metrics" | "baselines"> & { group: string })[] {
  const t = data.target as Extract<SequenceSet["target"], { kind: "class" }>;
  const members = new Map<string, number[]>();
  data.groups!.values.forEach((g, i) => {
    const list = members.get(g) ?? [];
    list.push(i);
    members.set(g, list);
  });
  return [...members]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([group, rows]) => {
      const y = Int32Array.from(rows, (i) => t.y[i]!);
      const p = new Float32Array(rows.length * units);
      rows.forEach((i, r) => p.set(probs.subarray(i * units, (i + 1) * units), r * units));
      const persistence = data.baselines?.persistence;
      const base = {
        ...data.baselines,
        ...(persistence ? { persistence: Int32Array.from(rows, (i) => persistence[i]!) } : {}),
      };
      return {
        group,
        n: rows.length,
        metrics: classReport(p, units, y, t.classes, topK).metrics,
        baselines: classBaselines(y, t.classes, base),
      };
    });
}

/**
 * The report with its baselines and verdict; with require: "beatBaseline", a model that does not beat
 * its strongest baseline fails the stage, pointing at `require`.
 */
function judged(
  ctx: StageContext,
  report: Report,
  baselines: BaselineScore[],
  params: { metric?: string | undefined; require: "none" | "beatBaseline" },
  set?: string,
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
        `${set !== undefined ? `on the set "${set}", ` : ""}${
          verdict
            ? `the model ${verdictLine(verdict)}`
            : `there is no baseline with the metric "${metric}" to beat`
        }`,
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
