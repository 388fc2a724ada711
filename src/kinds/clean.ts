import { UserError } from "../core/diagnostic.js";
import seedrandom from "seedrandom";
import { defineKind, type StageContext } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import {
  asStrings,
  clipText,
  column,
  rowCount,
  tableInfo,
  takeRows,
  type Column,
  type Scaling,
  type Table,
} from "../artifacts/table.js";
import { fitPart } from "../data/parts.js";
import { fitScaling } from "../data/scaling.js";
import { nearDuplicateClusters, parseShingles, shinglesProblems } from "../data/near-duplicates.js";

const FORMS = ["none", "NFC", "NFD", "NFKC", "NFKD"] as const;

export const clean = defineKind({
  name: "clean",
  version: 1,
  doc: "Cleans text columns, filters rows and scales numeric columns. Given a split (`clean(parts, ...)`), it cleans every part and fits scaling statistics on the part named by `fit` only, so nothing leaks from the test set.",
  params: {
    columns: p
      .list(
        p.string("column"),
        "Text columns to clean (default: the text column, else every string column).",
      )
      .optional(),
    trim: p.bool("Strip leading and trailing white space.").default(true),
    stripEmailHeaders: p
      .bool("Texts are e-mails: drop the header block (up to the first empty line).")
      .default(false),
    stripHtml: p.bool("Drop HTML tags and decode the common entities.").default(false),
    maxChars: p
      .int("Cut texts after this many characters (long texts cost time and rarely help).", {
        min: 1,
      })
      .optional(),
    lowercase: p.bool("Lower-case the text.").default(false),
    normalize: p.oneOf("Unicode normalisation form.", FORMS).default("none"),
    collapseSpaces: p.bool("Collapse runs of white space into one space.").default(false),
    dropEmpty: p.bool("Drop rows whose text is empty after cleaning.").default(true),
    minLength: p.int("Drop rows whose text has fewer characters.", { min: 0 }).optional(),
    maxLength: p.int("Drop rows whose text has more characters.", { min: 1 }).optional(),
    keepLabels: p.list(p.string("label"), "Keep only rows with these labels.").optional(),
    match: p
      .string(
        'Keep only rows whose (cleaned) text matches this regular expression, e.g. "^[a-z]+$".',
      )
      .optional(),
    dropLabels: p.list(p.string("label"), "Drop rows with these labels.").optional(),
    where: p
      .map(
        p.list(p.either("a value", p.string(""), p.number("")), "values", { minItems: 1 }),
        'Keep only rows whose columns hold one of the listed values, e.g. {voice: ["en-us", "en-gb"], speed: [150, 180]} (every column listed must match).',
      )
      .optional(),
    dropMissing: p
      .bool("Drop rows with a missing value (empty string or NaN) in any column.")
      .default(false),
    dedupe: p.bool("Drop rows whose cleaned text repeats an earlier row's.").default(false),
    conflicts: p
      .oneOf(
        'With dedupe or nearDuplicates: what to do with a text found under more than one label. "error" (the default) names them; "drop" drops every copy; "first" keeps the first copy; "majority" keeps the most frequent label (a tie is dropped).',
        ["error", "drop", "first", "majority"],
      )
      .optional(),
    nearDuplicates: p
      .number(
        "Also drop rows whose text is a near-duplicate of an earlier row's: word-shingle Jaccard similarity at least this (MinHash/LSH, seeded; e.g. 0.9).",
        { greaterThan: 0, max: 1 },
      )
      .optional(),
    shingles: p
      .string('Near-duplicates: shingles compared, "word:3" (default) or "char:5" (short texts).')
      .optional(),
    scale: p
      .oneOf("Scale numeric columns: z-score or min-max.", ["none", "zscore", "minmax"])
      .default("none"),
    scaleColumns: p
      .list(p.string("column"), "Numeric columns to scale (default: all numeric columns).")
      .optional(),
    fit: p
      .string('The part of a split whose statistics are used for scaling, e.g. "train".')
      .optional(),
  },
  inputs: { data: { type: "table", doc: "A table, or a split (all its parts).", bundle: true } },
  outputs: { mirror: "data" },
  outputType: "table",
  random: false,
  backendDependent: false,
  describe: (_params, inputs) => tableInfo(inputs.data),
  check(params) {
    const problems = [];
    if (
      params.minLength !== undefined &&
      params.maxLength !== undefined &&
      params.minLength > params.maxLength
    ) {
      problems.push({
        param: "minLength",
        message: `minLength (${params.minLength}) is greater than maxLength (${params.maxLength})`,
      });
    }
    if (params.conflicts !== undefined && !params.dedupe && params.nearDuplicates === undefined)
      problems.push({
        param: "conflicts",
        message:
          "conflicts settles the labels of duplicates: it needs dedupe: true or nearDuplicates",
      });
    problems.push(...shinglesProblems(params));
    if (params.scaleColumns !== undefined && params.scale === "none")
      problems.push({
        param: "scaleColumns",
        message: '`scaleColumns` names the columns to scale, but `scale` is "none"',
        hint: 'add scale: "zscore" or scale: "minmax"',
      });
    if (params.fit !== undefined && params.scale === "none")
      problems.push({
        param: "fit",
        message: '`fit` names the part to fit scaling on, but `scale` is "none"',
        hint: 'add scale: "zscore" or scale: "minmax"',
      });
    return problems;
  },
  run(ctx, inputs, params) {
    const parts = inputs.data;
    const cleaned = new Map<string, Table>();
    for (const [name, table] of parts) {
      const filtered = cleanTable(table, params);
      cleaned.set(
        name,
        params.dedupe || params.nearDuplicates !== undefined
          ? dedupe(filtered, params, ctx, parts.size > 1 ? name : undefined)
          : filtered,
      );
    }
    if (params.scale === "none") return Object.fromEntries(cleaned);

    const [, fitTable] = fitPart(cleaned, params.fit, "scaling a split");
    if (parts.size === 1 && params.fit === undefined && !parts.has("train"))
      ctx.log(
        'scaling statistics are fitted on the data itself; to avoid leakage, clean after splitting with fit: "train"',
      );
    const scaling = fitColumns(fitTable, params.scale, params.scaleColumns);
    const out: Record<string, Table> = {};
    for (const [name, t] of cleaned) out[name] = applyScaling(t, scaling);
    return out;
  },
});

type CleanParams = {
  columns?: string[] | undefined;
  trim: boolean;
  stripEmailHeaders: boolean;
  stripHtml: boolean;
  maxChars?: number | undefined;
  lowercase: boolean;
  normalize: (typeof FORMS)[number];
  collapseSpaces: boolean;
  dropEmpty: boolean;
  minLength?: number | undefined;
  maxLength?: number | undefined;
  keepLabels?: string[] | undefined;
  dropLabels?: string[] | undefined;
  where?: Record<string, (string | number)[]> | undefined;
  match?: string | undefined;
  dropMissing: boolean;
  dedupe: boolean;
  conflicts?: "error" | "drop" | "first" | "majority" | undefined;
  nearDuplicates?: number | undefined;
  shingles?: string | undefined;
};

function textColumns(t: Table, explicit?: string[]): string[] {
  if (explicit) {
    for (const c of explicit)
      if (column(t, c).dtype !== "string")
        throw new UserError(`column "${c}" is not text; only string columns are cleaned as text`);
    return explicit;
  }
  if (t.roles.text) return [t.roles.text];
  return t.columns
    .filter((c) => c.dtype === "string" && c.name !== t.roles.label)
    .map((c) => c.name);
}

export function cleanTable(t: Table, o: CleanParams): Table {
  const names = textColumns(t, o.columns);
  const columns = t.columns.map((c): Column => {
    if (c.dtype !== "string" || !names.includes(c.name)) return c;
    return { ...c, values: c.values.map((v) => cleanText(v, o)) };
  });
  const table: Table = { ...t, columns };
  const texts = names.map((n) => column(table, n).values as string[]);
  const label = t.roles.label ? column(table, t.roles.label) : undefined;
  const labelText = (i: number) => (label ? String(label.values[i]) : "");
  if ((o.keepLabels || o.dropLabels) && !label)
    throw new UserError(
      "keepLabels/dropLabels need a label column (name it with `label:` when loading)",
    );
  const keep = o.keepLabels && new Set(o.keepLabels);
  const drop = o.dropLabels && new Set(o.dropLabels);
  const pattern = o.match !== undefined ? new RegExp(o.match, "u") : undefined;
  const where = o.where && wherePredicate(table, o.where);
  const rows: number[] = [];
  for (let i = 0; i < rowCount(table); i++) {
    if (where && !where(i)) continue;
    if (o.dropEmpty && texts.some((col) => col[i] === "")) continue;
    if (o.minLength !== undefined && texts.some((col) => codePoints(col[i]!) < o.minLength!))
      continue;
    if (o.maxLength !== undefined && texts.some((col) => codePoints(col[i]!) > o.maxLength!))
      continue;
    if (keep && !keep.has(labelText(i))) continue;
    if (pattern && !texts.every((col) => pattern.test(col[i]!))) continue;
    if (drop?.has(labelText(i))) continue;
    if (
      o.dropMissing &&
      table.columns.some((c) =>
        c.dtype === "number" ? Number.isNaN(c.values[i]!) : c.values[i] === "",
      )
    )
      continue;
    rows.push(i);
  }
  return rows.length === rowCount(table) ? table : takeRows(table, rows);
}

/**
 * `where: {voice: ["en-us"], speed: [150, 180]}` as a test of a row: each column listed holds one of
 * its values. Values must have the column's type (a number for a numeric column), so that a typo
 * ("150" for 150) is an error rather than an empty table.
 */
function wherePredicate(
  t: Table,
  where: Record<string, (string | number)[]>,
): (row: number) => boolean {
  const tests = Object.entries(where).map(([name, values]) => {
    const c = column(t, name);
    if (c.dtype === "audio") throw new UserError(`where: column "${name}" holds audio`);
    const wrong = values.find((v) => typeof v !== (c.dtype === "number" ? "number" : "string"));
    if (wrong !== undefined)
      throw new UserError(
        `where: column "${name}" is ${c.dtype === "number" ? "numeric" : "text"}, but ${JSON.stringify(wrong)} is ${typeof wrong === "number" ? "a number" : "a string"}`,
        {
          hint:
            c.dtype === "number" ? `write ${wrong} without quotes` : `write "${wrong}" in quotes`,
        },
      );
    const allowed = new Set<string | number>(values);
    return (i: number) => allowed.has(c.values[i]!);
  });
  return (i) => tests.every((test) => test(i));
}

/**
 * Drops repeated texts (exact, and near-duplicates when asked), keeping the first copy. A text found
 * under more than one label is a conflict: never settled silently, but by the declared policy, and
 * reported with counts and examples.
 */
function dedupe(t: Table, o: CleanParams, ctx: StageContext, part: string | undefined): Table {
  const names = textColumns(t, o.columns);
  const texts = names.map((n) => column(t, n).values as string[]);
  const n = rowCount(t);
  // Each row's cluster: the first row with the same text, or a near-duplicate of it.
  const first = new Map<string, number>();
  const exact = Int32Array.from({ length: n }, (_, i) => {
    const key = JSON.stringify(texts.map((col) => col[i]));
    const f = first.get(key);
    if (f !== undefined) return f;
    first.set(key, i);
    return i;
  });
  const cluster =
    o.nearDuplicates === undefined
      ? exact
      : nearDuplicateClusters(
          Array.from({ length: n }, (_, i) => texts.map((col) => col[i]).join("\n")),
          o.nearDuplicates,
          parseShingles(o.shingles),
          // clean is not a random stage (no seed in its key): its hash functions have a fixed seed.
          seedrandom("rnnp:near-duplicates"),
        );
  const label = t.roles.label ? asStrings(column(t, t.roles.label)) : undefined;
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = cluster[i]!;
    const m = members.get(c);
    if (m) m.push(i);
    else members.set(c, [i]);
  }
  const keep: number[] = [];
  const conflicts: { text: string; counts: Map<string, number> }[] = [];
  let dropped = 0;
  for (const rows of members.values()) {
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(label?.[r] ?? "", (counts.get(label?.[r] ?? "") ?? 0) + 1);
    if (counts.size < 2) {
      keep.push(rows[0]!);
      continue;
    }
    conflicts.push({ text: texts.map((col) => col[rows[0]!]).join(" | "), counts });
    const policy = o.conflicts ?? "error";
    if (policy === "first") keep.push(rows[0]!);
    else if (policy === "majority") {
      const ranked = [...counts].sort((a, b) => b[1] - a[1]);
      if (ranked[0]![1] > ranked[1]![1]) keep.push(rows.find((r) => label![r] === ranked[0]![0])!);
      else dropped++;
    } else dropped++;
  }
  keep.sort((a, b) => a - b);
  const where = part ? `${part}: ` : "";
  if (conflicts.length) {
    const pairs = new Map<string, number>();
    for (const c of conflicts) {
      const key = [...c.counts.keys()].sort().join("/");
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    const examples = conflicts
      .slice(0, 3)
      .map(
        (c) =>
          `${JSON.stringify(clipText(c.text))} (${[...c.counts].map(([l, k]) => `${l} ${k}`).join(", ")})`,
      )
      .join(", ");
    const summary = `${conflicts.length} text${conflicts.length === 1 ? " has" : "s have"} more than one label (${[...pairs].map(([k, v]) => `${k}: ${v}`).join(", ")}), e.g. ${examples}`;
    if ((o.conflicts ?? "error") === "error")
      throw new UserError(`${where}${summary}`, {
        hint: 'say how to settle them: conflicts: "drop" (drop every copy), "majority" (the most frequent label; ties dropped) or "first" (file order decides)',
      });
    ctx.log(
      `${where}${summary}; conflicts: "${o.conflicts}" ${dropped ? `dropped ${dropped} of them` : "kept one copy of each"}`,
    );
  }
  const removed = n - keep.length;
  if (removed)
    ctx.log(
      `${where}${removed} row${removed === 1 ? "" : "s"} dropped as duplicates${o.nearDuplicates !== undefined ? ` (exact or near: Jaccard >= ${o.nearDuplicates})` : ""}${dropped ? " or for conflicting labels" : ""}, ${keep.length} kept`,
    );
  return keep.length === n ? t : takeRows(t, keep);
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

/**
 * The characters of a text as `[...s].length` counts them (a surrogate pair is one, a lone surrogate
 * one), without making them: a million rows would each make an array of their characters.
 */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Whitespace `collapseSpaces` changes: two in a row, or one that is not a space. */
const UNCOLLAPSED = /\s\s|[^\S ]/;

/**
 * Each run of whitespace as one space. Tested first: `replace` makes a new string even where every
 * run is one space already, and a million cells would then hold the column's text twice.
 */
export function collapseSpaces(s: string): string {
  return UNCOLLAPSED.test(s) ? s.replace(/\s+/g, " ") : s;
}

function cleanText(v: string, o: CleanParams): string {
  let s = v;
  if (o.stripEmailHeaders) {
    const end = s.search(/\r?\n\r?\n/);
    s = end < 0 ? "" : s.slice(end).replace(/^\s+/, "");
  }
  if (o.stripHtml) {
    s = s
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, " ")
      .replace(/<[^>]+>/g, " ")
      .replace(/&(#\d+|[a-z]+);/gi, (m, e: string) =>
        e.startsWith("#")
          ? String.fromCodePoint(Number(e.slice(1)) || 32)
          : (ENTITIES[e.toLowerCase()] ?? m),
      );
  }
  if (o.maxChars !== undefined) s = Array.from(s).slice(0, o.maxChars).join("");
  s = o.normalize === "none" ? s : s.normalize(o.normalize);
  if (o.lowercase) s = s.toLowerCase();
  if (o.collapseSpaces) s = collapseSpaces(s);
  if (o.trim) s = s.trim();
  return s;
}

function fitColumns(
  t: Table,
  method: "zscore" | "minmax",
  explicit?: string[],
): Record<string, Scaling> {
  const names =
    explicit ??
    t.columns.filter((c) => c.dtype === "number" && c.name !== t.roles.label).map((c) => c.name);
  const out: Record<string, Scaling> = {};
  for (const name of names) {
    const c = column(t, name);
    if (c.dtype !== "number")
      throw new UserError(`column "${name}" is not numeric and cannot be scaled`);
    out[name] = fitScaling(c.values, method, name);
  }
  return out;
}

function applyScaling(t: Table, scaling: Record<string, Scaling>): Table {
  const columns = t.columns.map((c): Column => {
    const s = scaling[c.name];
    if (!s || c.dtype !== "number") return c;
    return { ...c, values: c.values.map((x) => (x - s.center) / s.scale) };
  });
  return { ...t, columns, scaling: { ...t.scaling, ...scaling } };
}
