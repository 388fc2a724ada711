import type {
  BaselineScore,
  PortabilityCell,
  PortabilityRow,
  Report,
} from "../artifacts/report.js";
import { isError } from "./baselines.js";

/**
 * How a model travels: the same metrics on several test sets (in-domain, other voices, other years),
 * each beside the strongest baseline scored on that set's examples, and how far each falls from the
 * in-domain set. A model that loses more than its baseline loses has learned something that does not
 * travel; one that falls below its baseline on a set is no better than guessing there.
 */

/** The metrics a portability table shows, the verdict's first: those every set has. */
export function portabilityMetrics(verdictMetric: string, reports: readonly Report[]): string[] {
  const headline: Record<Report["task"], string[]> = {
    class: ["accuracy", "macroF1"],
    value: ["mae", "rmse"],
    sequence: ["tokenErrorRate", "sequenceErrorRate", "editErrorRate", "tokenAccuracy"],
  };
  const task = reports[0]?.task ?? "class";
  const wanted = [verdictMetric, ...headline[task].filter((m) => m !== verdictMetric)];
  return wanted.filter((m) => reports.every((r) => m in r.metrics));
}

/** One cell: the model's value, the strongest baseline on this metric, the drop from the reference. */
export function cell(
  metric: string,
  model: Record<string, number>,
  baselines: readonly BaselineScore[] | undefined,
  reference: number,
): PortabilityCell {
  const value = model[metric]!;
  const lower = isError(metric);
  let best: BaselineScore | undefined;
  for (const b of baselines ?? []) {
    const v = b.metrics[metric];
    if (v === undefined || Number.isNaN(v)) continue;
    if (!best || (lower ? v < best.metrics[metric]! : v > best.metrics[metric]!)) best = b;
  }
  // The drop is how much worse than in-domain: points lost for scores, error added for errors.
  const drop = lower ? value - reference : reference - value;
  const baselineValue = best?.metrics[metric];
  return {
    metric,
    model: value,
    drop,
    ...(reference !== 0 ? { relativeDrop: drop / Math.abs(reference) } : {}),
    ...(best && baselineValue !== undefined
      ? {
          baseline: best.name,
          baselineValue,
          beats: lower ? value < baselineValue : value > baselineValue,
        }
      : {}),
  };
}

/** A row of the table for one set (or one group of a set). */
export function portabilityRow(
  set: string,
  scored: Pick<Report, "n" | "metrics" | "baselines">,
  metrics: readonly string[],
  reference: Record<string, number>,
  group?: string,
): PortabilityRow {
  return {
    set,
    ...(group !== undefined ? { group } : {}),
    n: scored.n,
    cells: metrics.map((m) => cell(m, scored.metrics, scored.baselines, reference[m]!)),
  };
}
