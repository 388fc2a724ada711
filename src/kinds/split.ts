import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import {
  column,
  rowCount,
  tableInfo,
  takeRows,
  type Table,
  type TableInfo,
} from "../artifacts/table.js";
import { allocate, shuffled } from "../data/shuffle.js";

const PARTS = ["train", "val", "test"] as const;

export const split = defineKind({
  name: "split",
  // 2: the parts of a sequential split carry their timeline (no more `context` rows copied into them).
  version: 2,
  doc: "Splits a table into train/val/test by fraction: seeded random (optionally stratified by label) or in order (for time series).",
  params: {
    train: p.number("Fraction of rows for training.", { min: 0, max: 1 }).default(0.8),
    val: p.number("Fraction of rows for validation.", { min: 0, max: 1 }).default(0.1),
    test: p.number("Fraction of rows for testing.", { min: 0, max: 1 }).default(0.1),
    stratify: p.bool("Keep each label's share equal across parts.").default(false),
    by: p.string("Column to stratify by (default: the label column).").optional(),
    order: p
      .oneOf("random: seeded shuffle; sequential: first rows train, then val, then test.", [
        "random",
        "sequential",
      ])
      .default("random"),
    groupBy: p
      .string(
        "Sequential: split each series (rows with this column's value; default: the table's series column) on its own. Random: keep each group whole in one part (e.g. hold out whole speakers).",
      )
      .optional(),
    context: p
      .int(
        "No longer needed, and refused: a window stage given the whole split reads each part's history from the parts before it.",
        { min: 0 },
      )
      .optional(),
  },
  inputs: { data: { type: "table", doc: "The table to split." } },
  outputs: PARTS,
  outputType: "table",
  random: true,
  backendDependent: false,
  describe: (params, inputs): TableInfo => ({
    ...(tableInfo(inputs.data) ?? { kind: "table" }),
    split: {
      order: params.order,
      groupBy:
        params.groupBy ??
        (params.order === "sequential" ? tableInfo(inputs.data)?.series : undefined),
    },
  }),
  check(params) {
    const sum = params.train + params.val + params.test;
    const problems = [];
    if (Math.abs(sum - 1) > 1e-9)
      problems.push({
        message: `train + val + test must be 1, but they add up to ${+sum.toFixed(12)}`,
        hint: "fractions are shares of the rows, e.g. train: 0.8, val: 0.1, test: 0.1",
      });
    if (params.stratify && params.order === "sequential")
      problems.push({
        param: "stratify",
        message: "a sequential split cannot be stratified",
        hint: 'use order: "random" to stratify',
      });
    if (params.context !== undefined)
      problems.push({
        param: "context",
        message:
          "context is no longer needed: given the whole split, window(parts, ...) reads each part's history from the parts before it, and never takes a label or target from another part",
        hint: "remove context, and pass the whole split to window",
      });
    if (params.order === "random" && params.groupBy !== undefined && params.stratify)
      problems.push({
        param: "groupBy",
        message: "a random split keeps groups whole or stratifies, not both",
      });
    return problems;
  },
  run(ctx, inputs, params) {
    const t = inputs.data;
    const _n = rowCount(t);
    const fractions = [params.train, params.val, params.test];
    const assigned: number[][] = [[], [], []];
    const steps = new Int32Array(_n);
    const seriesBy = params.groupBy ?? t.roles.series;
    if (params.order === "sequential") {
      // Each series in table order; within it, the first rows train, then val, then test. Each row
      // keeps its step in its series, so a window stage can put the series back together.
      for (const rows of strata(t, seriesBy, false)) {
        rows.forEach((r, i) => (steps[r] = i));
        const counts = allocate(rows.length, fractions);
        let at = 0;
        counts.forEach((c, part) => {
          for (let i = at; i < at + c; i++) assigned[part]!.push(rows[i]!);
          at += c;
        });
      }
    } else if (params.groupBy !== undefined) {
      // Whole groups to parts: the groups (in name order) in a seeded order, cut by the fractions.
      const groups = strata(t, params.groupBy);
      const order = shuffled(groups.length, ctx.rng("split"));
      const counts = allocate(groups.length, fractions);
      let at = 0;
      counts.forEach((c, part) => {
        for (let i = 0; i < c; i++) assigned[part]!.push(...groups[order[at++]!]!);
      });
    } else {
      const random = ctx.rng("split");
      for (const group of strata(t, params.stratify ? (params.by ?? t.roles.label) : undefined)) {
        const order = shuffled(group.length, random);
        const counts = allocate(group.length, fractions);
        let at = 0;
        counts.forEach((c, part) => {
          for (let i = 0; i < c; i++) assigned[part]!.push(group[order[at++]!]!);
        });
      }
    }
    // Rows keep their original order within each part.
    const out: Record<string, Table> = {};
    PARTS.forEach((name, i) => {
      const rows = assigned[i]!.sort((a, b) => a - b);
      const part = takeRows(t, rows);
      if (params.order === "sequential")
        part.timeline = {
          part: i,
          ...(seriesBy !== undefined ? { series: seriesBy } : {}),
          step: Int32Array.from(rows, (r) => steps[r]!),
        };
      out[name] = part;
    });
    return out;
  },
});

/** Row indices grouped by a column's value (groups in sorted value order, or first-seen order), or one group. */
function strata(t: Table, by: string | undefined, sorted = true): number[][] {
  const n = rowCount(t);
  if (by === undefined) return [Array.from({ length: n }, (_, i) => i)];
  const c = column(t, by);
  const groups = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const k = String(c.values[i]);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  }
  const keys = [...groups.keys()];
  return (sorted ? keys.sort() : keys).map((k) => groups.get(k)!);
}
