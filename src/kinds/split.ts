import { UserError } from "../core/diagnostic.js";
import { grown } from "../core/grown.js";
import { defineKind, type StageContext } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import {
  asStrings,
  column,
  rowCount,
  tableInfo,
  takeRows,
  type Table,
  type TableInfo,
} from "../artifacts/table.js";
import { allocate, shuffled } from "../data/shuffle.js";
import {
  contentDigest,
  nearDuplicateClusters,
  parseShingles,
  shinglesProblems,
} from "../data/near-duplicates.js";

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
    nearDuplicates: p
      .number(
        "Random splits: keep each cluster of near-duplicate texts (word-shingle Jaccard similarity at least this, MinHash/LSH, seeded) in one part, so no part has a near-copy of another's example.",
        { greaterThan: 0, max: 1 },
      )
      .optional(),
    shingles: p
      .string(
        'With nearDuplicates: shingles compared, "word:3" (default) or "char:5" (short texts).',
      )
      .optional(),
    context: p
      .int(
        "No longer needed, and refused above 0: a window stage given the whole split reads each part's history from the parts before it.",
        { min: 0 },
      )
      .default(0),
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
    if (params.by !== undefined && !params.stratify)
      problems.push({
        param: "by",
        message: "`by` names the column to stratify by, but stratify is false",
        hint: "add stratify: true",
      });
    if (params.stratify && params.order === "sequential")
      problems.push({
        param: "stratify",
        message: "a sequential split cannot be stratified",
        hint: 'use order: "random" to stratify',
      });
    if (params.context > 0)
      problems.push({
        param: "context",
        message:
          "context is no longer needed: given the whole split, window(parts, ...) reads each part's history from the parts before it, and never takes a label or target from another part",
        hint: "remove context, and pass the whole split to window",
      });
    if (
      params.nearDuplicates !== undefined &&
      (params.order === "sequential" || params.groupBy !== undefined)
    )
      problems.push({
        param: "nearDuplicates",
        message:
          'near-duplicate clusters are kept whole by random splits of rows, not with order: "sequential" or groupBy',
      });
    problems.push(...shinglesProblems(params));
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
    const assigned = PARTS.map(() => new RowList());
    const seriesBy = params.groupBy ?? t.roles.series;
    // Each row's step in its series, for a sequential split only.
    const steps = params.order === "sequential" ? new Int32Array(_n) : undefined;
    if (steps) {
      // Each series in table order; within it, the first rows train, then val, then test. Each row
      // keeps its step in its series, so a window stage can put the series back together.
      for (const rows of strata(t, seriesBy, false)) {
        for (let i = 0; i < rows.length; i++) steps[rows[i]!] = i;
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
        for (let i = 0; i < c; i++) assigned[part]!.pushAll(groups[order[at++]!]!);
      });
    } else {
      const random = ctx.rng("split");
      // Units that go to one part together: rows, or whole clusters of near-duplicate texts.
      const units = params.nearDuplicates === undefined ? undefined : clustersOf(t, params, ctx);
      for (const group of strata(t, params.stratify ? (params.by ?? t.roles.label) : undefined)) {
        const members = units ? group.filter((r) => units.has(r)) : group;
        const order = shuffled(members.length, random);
        const counts = allocate(members.length, fractions);
        let at = 0;
        counts.forEach((c, part) => {
          for (let i = 0; i < c; i++) {
            const r = members[order[at++]!]!;
            if (units) assigned[part]!.pushAll(units.get(r)!);
            else assigned[part]!.push(r);
          }
        });
      }
      if (units) {
        const many = [...units.values()].filter((u) => u.length > 1);
        ctx.log(
          `near-duplicates (Jaccard >= ${params.nearDuplicates}): ${many.length} clusters of ${many.reduce((a, u) => a + u.length, 0)} rows, each kept in one part: 0 cross-part near-duplicate pairs`,
        );
      }
    }
    reportSharedContent(
      t,
      assigned.map((rows) => rows.view()),
      params.groupBy,
      ctx,
    );
    // Rows keep their original order within each part.
    const out: Record<string, Table> = {};
    PARTS.forEach((name, i) => {
      const rows = assigned[i]!.sorted();
      const part = takeRows(t, rows);
      if (steps)
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

/**
 * The rows given to one part, in the order given: 4 bytes a row, where a list of numbers holds 8
 * and, while it grows by pushes, as much again (a million rows' split is three such lists).
 */
class RowList {
  // Small to start with, so that every test of split grows it.
  private rows = new Int32Array(16);
  private length = 0;

  push(r: number): void {
    if (this.length === this.rows.length) this.grow(this.length + 1);
    this.rows[this.length++] = r;
  }

  pushAll(rows: ArrayLike<number>): void {
    if (this.length + rows.length > this.rows.length) this.grow(this.length + rows.length);
    for (let i = 0; i < rows.length; i++) this.rows[this.length++] = rows[i]!;
  }

  /** The rows so far, in the order given: valid until the next push. */
  view(): Int32Array {
    return this.rows.subarray(0, this.length);
  }

  /** The rows in ascending order, in an array of their own; the list is left empty. */
  sorted(): Int32Array {
    const rows = this.rows.slice(0, this.length).sort();
    this.rows = new Int32Array(0);
    this.length = 0;
    return rows;
  }

  private grow(atLeast: number): void {
    this.rows = grown(this.rows, this.length, atLeast);
  }
}

/**
 * Clusters of near-duplicate texts: first row of each cluster -> its rows. A cluster's stratum is its
 * first row's, so it is drawn once.
 */
function clustersOf(
  t: Table,
  params: { nearDuplicates?: number | undefined; shingles?: string | undefined },
  ctx: StageContext,
): Map<number, number[]> {
  const text = t.roles.text;
  if (!text)
    throw new UserError("nearDuplicates compares texts, and the table has no text column", {
      hint: "name it with `text:` when loading",
    });
  const cluster = nearDuplicateClusters(
    column(t, text).values as string[],
    params.nearDuplicates!,
    parseShingles(params.shingles),
    ctx.rng("near-duplicates"),
  );
  const units = new Map<number, number[]>();
  cluster.forEach((c, r) => {
    const u = units.get(c);
    if (u) u.push(r);
    else units.set(c, [r]);
  });
  return units;
}

/**
 * Identical examples in different parts (the same text, or the same audio clip, under any name): a
 * split by groups promises unseen groups, so it refuses them; any other split reports them.
 */
function reportSharedContent(
  t: Table,
  assigned: readonly Int32Array[],
  groupBy: string | undefined,
  ctx: StageContext,
): void {
  const content =
    t.columns.find((c) => c.name === t.roles.text) ?? t.columns.find((c) => c.dtype === "audio");
  if (!content) return;
  // Texts are their own keys: two texts are identical exactly when their UTF-8 bytes are, i.e. when
  // their well-formed spellings are equal (a digest per text would be a million more strings).
  const keyOf = (r: number) =>
    content.dtype === "audio"
      ? contentDigest(content.values[r]!)
      : wellFormed(content.dtype === "string" ? content.values[r]! : String(content.values[r]));
  // Only rows whose key's hash another row shares can have a twin: the others are never put in the
  // map, which would otherwise hold every text of the table once more (a million entries).
  const maybeTwin = rowsSharingHash(rowCount(t), keyOf);
  // Each content's first place, packed into one number (row * 4 + part): no object per row. The
  // places of twins are kept only for a split by groups, which names them.
  const home = new Map<string, number>();
  const shared: { part: number; row: number; with: { part: number; row: number } }[] = [];
  let twins = 0;
  assigned.forEach((rows, part) => {
    for (const row of rows) {
      if (!maybeTwin(row)) continue;
      const d = keyOf(row);
      const first = home.get(d);
      if (first === undefined) home.set(d, row * 4 + part);
      else if (first % 4 !== part) {
        twins++;
        if (groupBy !== undefined)
          shared.push({ part, row, with: { part: first % 4, row: Math.floor(first / 4) } });
      }
    }
  });
  if (!twins) return;
  const what = content.dtype === "audio" ? "clips" : "texts";
  if (groupBy !== undefined) {
    const g = asStrings(column(t, groupBy));
    const pairs = new Map<string, number>();
    for (const s of shared) {
      const key = `"${g[s.with.row]}" (${PARTS[s.with.part]}) and "${g[s.row]}" (${PARTS[s.part]})`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    throw new UserError(
      `the parts share ${shared.length} identical ${what} under different ${groupBy} names: ${[
        ...pairs,
      ]
        .slice(0, 3)
        .map(([k, n]) => `${k}: ${n}`)
        .join("; ")}`,
      {
        hint: `these groups are one group under two names: keep one of them (e.g. clean(..., dropLabels: ...) on ${groupBy}, or fix the data)`,
      },
    );
  }
  ctx.log(
    `${twins} example${twins === 1 ? "" : "s"} of val/test ${twins === 1 ? "has" : "have"} an identical twin in an earlier part (${what}); dedupe before splitting: clean(..., dedupe: true)`,
  );
}

/**
 * Whether row r's key may equal another row's: its 32-bit hash (FNV-1a over the key's UTF-16 units)
 * is another's too. Equal keys have equal hashes, so a row answered false has no twin; the hashes of
 * the whole table are two Int32Arrays, sorted once to find those that occur twice.
 */
function rowsSharingHash(rows: number, keyOf: (r: number) => string): (r: number) => boolean {
  const hashes = new Int32Array(rows);
  for (let r = 0; r < rows; r++) hashes[r] = fnv1a(keyOf(r));
  const sorted = hashes.slice().sort();
  const repeated = new Set<number>();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) repeated.add(sorted[i]!);
  return (r) => repeated.has(hashes[r]!);
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** The text UTF-8 encodes: lone surrogates as U+FFFD (ES2024's String.prototype.toWellFormed). */
function wellFormed(s: string): string {
  return (s as string & { toWellFormed(): string }).toWellFormed();
}

/**
 * Row indices grouped by a column's value (groups in sorted value order, or first-seen order), or
 * one group of every row (as 4 bytes a row: it is a million rows where it matters).
 */
function strata(t: Table, by: string | undefined, sorted = true): (number[] | Int32Array)[] {
  const n = rowCount(t);
  if (by === undefined) {
    const every = new Int32Array(n);
    for (let i = 0; i < n; i++) every[i] = i;
    return [every];
  }
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
