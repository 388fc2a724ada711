import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { rowCount, tableInfo, takeRows, type Table, type TableInfo } from "../artifacts/table.js";
import { shuffled } from "../data/shuffle.js";

export const head = defineKind({
  name: "head",
  version: 1,
  doc: "Keeps the first n rows (of every part, given a split): for quick iterations and smoke runs.",
  params: { n: p.int("Rows to keep.", { min: 0 }) },
  inputs: { data: { type: "table", doc: "A table or a split.", bundle: true } },
  outputs: { mirror: "data" },
  outputType: "table",
  random: false,
  backendDependent: false,
  describe: (_params, inputs) => tableInfo(inputs.data),
  run(_ctx, inputs, params) {
    const out: Record<string, Table> = {};
    for (const [name, t] of inputs.data) {
      out[name] =
        rowCount(t) <= params.n
          ? t
          : takeRows(
              t,
              Array.from({ length: params.n }, (_, i) => i),
            );
    }
    return out;
  },
});

export const sample = defineKind({
  name: "sample",
  version: 1,
  doc: "Keeps a seeded random sample of rows (of every part, given a split), in their original order.",
  params: {
    n: p.int("Rows to keep.", { min: 0 }).optional(),
    fraction: p.number("Share of rows to keep.", { min: 0, max: 1 }).optional(),
  },
  inputs: { data: { type: "table", doc: "A table or a split.", bundle: true } },
  outputs: { mirror: "data" },
  outputType: "table",
  random: true,
  backendDependent: false,
  describe: (_params, inputs): TableInfo => ({
    ...(tableInfo(inputs.data) ?? { kind: "table" }),
    sampled: true,
  }),
  check: (params) =>
    (params.n === undefined) === (params.fraction === undefined)
      ? [
          {
            message: "give exactly one of `n` and `fraction`",
            hint: "sample(data, n: 1000) or sample(data, fraction: 0.1)",
          },
        ]
      : [],
  run(ctx, inputs, params) {
    const out: Record<string, Table> = {};
    for (const [name, t] of inputs.data) {
      const total = rowCount(t);
      const k = Math.min(total, params.n ?? Math.round(params.fraction! * total));
      const picked = shuffled(total, ctx.rng(`sample:${name}`))
        .subarray(0, k)
        .sort();
      out[name] = takeRows(t, picked);
    }
    return out;
  },
});
