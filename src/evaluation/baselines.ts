import type { BaselineScore, Report, Verdict } from "../artifacts/report.js";
import type { Baselines } from "../artifacts/sequences.js";
import type { Scaling } from "../artifacts/table.js";
import {
  classMetrics,
  confusionOf,
  decodingReport,
  sequenceReport,
  valueErrors,
} from "./metrics.js";

/**
 * The baselines every metric comes with, scored on exactly the examples the model is scored on: the
 * same sequences, the same metric code. Each is the obvious guess a model has to beat to be worth
 * anything; the verdict says whether it does, on which metric and by how much.
 */

/** Metrics where lower is better; every other metric is a score. */
const ERRORS = new Set([
  "mae",
  "rmse",
  "mape",
  "tokenErrorRate",
  "editErrorRate",
  "sequenceErrorRate",
]);

export const isError = (metric: string) => ERRORS.has(metric);

/** The metric a verdict uses unless evaluate names one. */
export function defaultMetric(report: Pick<Report, "task" | "metrics">): string {
  if (report.task === "class") return "accuracy";
  if (report.task === "value") return "mae";
  return "tokenErrorRate" in report.metrics ? "tokenErrorRate" : "editErrorRate";
}

/**
 * Class baselines: the fit part's majority class, stratified random guessing with the fit part's
 * class shares (its expected confusion matrix), and, for a series, persistence (the last label known
 * before the target: "tomorrow = today").
 */
export function classBaselines(
  y: Int32Array,
  classes: string[],
  b: Baselines | undefined,
): BaselineScore[] {
  const out: BaselineScore[] = [];
  const C = classes.length;
  if (b?.classCounts && b.classCounts.length === C) {
    const counts = b.classCounts;
    const total = counts.reduce((a, c) => a + c, 0);
    let majority = 0;
    for (let c = 1; c < C; c++) if (counts[c]! > counts[majority]!) majority = c;
    const always = confusionOf(y, new Int32Array(y.length).fill(majority), C);
    out.push({
      name: "majority",
      doc: `always "${classes[majority]}", the most frequent class of the fit part`,
      metrics: classMetrics(always.matrix, always.missed, classes).metrics,
    });
    const support = new Array<number>(C).fill(0);
    for (const c of y) support[c]!++;
    const expected = support.map((s) => Array.from(counts, (k) => (s * k) / Math.max(1, total)));
    out.push({
      name: "stratified",
      doc: "random guesses in the fit part's class shares (expected score)",
      metrics: classMetrics(expected, new Array<number>(C).fill(0), classes).metrics,
    });
  }
  if (b?.persistence && b.persistence.length === y.length) {
    const p = confusionOf(y, b.persistence, C);
    out.push({
      name: "persistence",
      doc: "the last label known before the target (tomorrow = today)",
      metrics: classMetrics(p.matrix, p.missed, classes).metrics,
    });
  }
  return out;
}

/** Value baselines (naive, seasonal naive, training mean...): their errors overall and per step. */
export function valueBaselines(
  forecasts: readonly { name: string; doc: string; y: Float32Array }[],
  y: Float32Array,
  names: string[],
  horizon: number,
  scaling?: Record<string, Scaling>,
  relativeTo?: Float32Array,
): { scores: BaselineScore[]; perStep: Record<string, number>[] } {
  const perStep = Array.from({ length: horizon }, () => ({}) as Record<string, number>);
  const scores = forecasts.map((f) => {
    const e = valueErrors(f.y, y, names, horizon, scaling, relativeTo);
    e.perStep.forEach((s, h) => (perStep[h]![f.name] = s.mae));
    return { name: f.name, doc: f.doc, metrics: e.metrics };
  });
  return { scores, perStep };
}

/** For token sequences: the empty output, which every edit-distance error rate is measured against. */
export function sequenceBaselines(
  kind: "tokens" | "sequence",
  truth: { decoded?: number[][]; y?: Int32Array; steps?: number },
): BaselineScore[] {
  const metrics =
    kind === "tokens"
      ? decodingReport(
          truth.decoded!.map(() => []),
          truth.decoded!,
        ).metrics
      : sequenceReport(new Float32Array(truth.y!.length), truth.y!, truth.steps!, 1).metrics;
  return [{ name: "empty", doc: "no tokens at all", metrics }];
}

/** Whether the model beats its strongest baseline on `metric`; undefined without baselines that have it. */
export function verdictOf(
  model: Record<string, number>,
  baselines: readonly BaselineScore[],
  metric: string,
): Verdict | undefined {
  const value = model[metric];
  if (value === undefined) return undefined;
  const lower = isError(metric);
  let best: BaselineScore | undefined;
  for (const b of baselines) {
    const v = b.metrics[metric];
    if (v === undefined || Number.isNaN(v)) continue;
    if (!best || (lower ? v < best.metrics[metric]! : v > best.metrics[metric]!)) best = b;
  }
  if (!best) return undefined;
  const base = best.metrics[metric]!;
  return {
    metric,
    higherIsBetter: !lower,
    model: value,
    baseline: best.name,
    baselineValue: base,
    beats: lower ? value < base : value > base,
    // A perfect baseline (error 0) leaves no skill to measure: -1 when the model errs, else 0.
    margin: lower ? (base > 0 ? 1 - value / base : value > 0 ? -1 : 0) : value - base,
  };
}
