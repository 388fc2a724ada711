import type { Shape } from "./layer.js";
import { paramsOf, type Step } from "./sequential.js";

/**
 * A Keras-style summary of a model: one row per layer with the name it trains under (`lstm_2`, as
 * training prints it), what it is, its output shape and its parameters; then the total.
 */
export interface SummaryRow {
  name: string;
  /** The layer as written, briefly: `lstm(32)`. */
  type: string;
  /** Batch first; undefined where the size is known only from the data. */
  output: (number | undefined)[];
  /** Undefined when a size it depends on is not known (an embedding before its vocabulary is). */
  params: number | undefined;
}

export interface Summary {
  rows: SummaryRow[];
  /** The sum of the known counts. */
  params: number;
  /** Every count is known. */
  complete: boolean;
}

const dimsOf = (s: Shape): (number | undefined)[] =>
  s.rank === 3 ? [undefined, s.steps, s.last] : [undefined, s.last];

export function summarise(steps: readonly Step[]): Summary {
  const rows = steps.map((s) => {
    const p = paramsOf(s.weights);
    return {
      name: s.name,
      type: s.def.brief(s.call.args),
      output: dimsOf(s.output),
      params: p.complete ? p.known : undefined,
    };
  });
  return {
    rows,
    params: rows.reduce((a, r) => a + (r.params ?? 0), 0),
    complete: rows.every((r) => r.params !== undefined),
  };
}

/**
 *   Layer (type)                  Output shape          Params
 *   embedding_1 (embedding(16))   [batch, 12, 16]          480
 *   ...
 *   Total: 6,802 parameters
 */
export function formatSummary(s: Summary): string {
  const shape = (o: SummaryRow["output"]) =>
    `[${o.map((d, i) => (d !== undefined ? String(d) : i === 0 ? "batch" : i === 1 && o.length === 3 ? "time" : "?")).join(", ")}]`;
  const number = (n: number | undefined) => (n === undefined ? "?" : n.toLocaleString("en-US"));
  const table = [
    ["Layer (type)", "Output shape", "Params"],
    ...s.rows.map((r) => [`${r.name} (${r.type})`, shape(r.output), number(r.params)]),
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) =>
    `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]!.padStart(widths[2]!)}`.trimEnd(),
  );
  lines.push(`Total: ${number(s.params)}${s.complete ? "" : " or more"} parameters`);
  return lines.join("\n");
}
