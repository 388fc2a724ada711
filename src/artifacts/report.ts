/** An evaluation: the metrics of a trained model on one set of sequences. */
export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Report {
  type: "report";
  task: "class" | "value" | "sequence";
  n: number;
  /** Headline numbers: accuracy, macroF1, microF1, top3, mae, rmse, mape, ... */
  metrics: Record<string, number>;
  perClass?: ClassMetrics[];
  confusion?: { labels: string[]; matrix: number[][] };
  /** Per group (e.g. per held-out voice), when the sequences carry groups. */
  perGroup?: { column: string; rows: { group: string; n: number; accuracy: number }[] };
  /** Per target column, for regressions. */
  perTarget?: { name: string; mae: number; rmse: number; mape: number }[];
}

export function describeReport(r: Report): string {
  return `report on ${r.n} examples: ${Object.entries(r.metrics)
    .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
    .join(", ")}`;
}
