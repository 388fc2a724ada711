/** An evaluation: the metrics of a trained model on one set of sequences. */
export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** A baseline scored on the same examples as the model. */
export interface BaselineScore {
  name: string;
  /** What it predicts, in a few words. */
  doc: string;
  metrics: Record<string, number>;
}

/** Whether the model beats its strongest baseline on one metric, and by how much. */
export interface Verdict {
  metric: string;
  /** true for scores (accuracy), false for errors (mae). */
  higherIsBetter: boolean;
  model: number;
  baseline: string;
  baselineValue: number;
  beats: boolean;
  /** Scores: the model's lead in points of the metric; errors: the skill 1 - model / baseline. */
  margin: number;
}

export interface Report {
  type: "report";
  task: "class" | "value" | "sequence";
  n: number;
  /** Headline numbers: accuracy, macroF1, microF1, top3, mae, rmse, mape, ... */
  metrics: Record<string, number>;
  /** The baselines the model must beat, scored on exactly its examples. */
  baselines?: BaselineScore[];
  verdict?: Verdict;
  /** Classes of the model without a test example: in macro averages over all classes, not in the "Present" ones. */
  zeroSupport?: string[];
  /** Multi-step forecasts: metrics of each step (h1..hN), with the baselines' MAE. */
  perStep?: { step: string; mae: number; rmse: number; baselines: Record<string, number> }[];
  perClass?: ClassMetrics[];
  confusion?: { labels: string[]; matrix: number[][] };
  /** Per group (e.g. per held-out voice), when the sequences carry groups. */
  perGroup?: { column: string; rows: { group: string; n: number; accuracy: number }[] };
  /** Per target column, for regressions. */
  perTarget?: { name: string; mae: number; rmse: number; mape: number }[];
  /**
   * Evaluated on several named sets: each set's own report (the fields above are the reference
   * set's), and the portability table across them.
   */
  sets?: { name: string; report: Report }[];
  portability?: Portability;
}

/** The same metrics on several test sets, each beside its baseline, and the drop from in-domain. */
export interface Portability {
  /** The in-domain set, which the drops are measured from. */
  reference: string;
  /** The metrics of each row, the verdict's first. */
  metrics: string[];
  /** The reference set first, then the others by name; groups (e.g. voices) after their set. */
  rows: PortabilityRow[];
}

export interface PortabilityRow {
  set: string;
  /** A group of the set (one voice), when its sequences carry groups. */
  group?: string;
  n: number;
  cells: PortabilityCell[];
}

export interface PortabilityCell {
  metric: string;
  model: number;
  /** How much worse than on the reference set: points lost for scores, error added for errors. */
  drop: number;
  /** The drop over the reference value. */
  relativeDrop?: number;
  /** The strongest baseline on this metric, scored on the same examples. */
  baseline?: string;
  baselineValue?: number;
  beats?: boolean;
}

export function describeReport(r: Report): string {
  // Names sorted: a report read back from its bytes (canonical JSON: sorted keys) must be described
  // as the one that was written, or a remote cache and bundle imports refuse it.
  return `report on ${r.n} examples: ${Object.entries(r.metrics)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
    .join(", ")}`;
}

const fmt = (v: number) => String(+v.toPrecision(4));

/** The verdict in one line: "beats its strongest baseline, persistence (accuracy 0.644): accuracy 0.675, 0.031 above". */
export function verdictLine(v: Verdict): string {
  const how = v.higherIsBetter
    ? v.margin === 0
      ? "level with it"
      : `${fmt(Math.abs(v.margin))} ${v.margin > 0 ? "above" : "below"}`
    : `skill ${fmt(v.margin)}`;
  return `${v.beats ? "beats" : "does NOT beat"} its strongest baseline, ${v.baseline} (${v.metric} ${fmt(v.baselineValue)}): ${v.metric} ${fmt(v.model)}, ${how}`;
}
