import { UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import {
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
    dropMissing: p
      .bool("Drop rows with a missing value (empty string or NaN) in any column.")
      .default(false),
    dedupe: p.bool("Drop rows whose cleaned text repeats an earlier row's.").default(false),
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
    for (const [name, table] of parts) cleaned.set(name, cleanTable(table, params));
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
  match?: string | undefined;
  dropMissing: boolean;
  dedupe: boolean;
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
  const seen = new Set<string>();
  const pattern = o.match !== undefined ? new RegExp(o.match, "u") : undefined;
  const rows: number[] = [];
  for (let i = 0; i < rowCount(table); i++) {
    const lengths = texts.map((col) => [...col[i]!].length);
    if (o.dropEmpty && lengths.some((l) => l === 0)) continue;
    if (o.minLength !== undefined && lengths.some((l) => l < o.minLength!)) continue;
    if (o.maxLength !== undefined && lengths.some((l) => l > o.maxLength!)) continue;
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
    if (o.dedupe) {
      const key = JSON.stringify(texts.map((col) => col[i]));
      if (seen.has(key)) continue;
      seen.add(key);
    }
    rows.push(i);
  }
  return rows.length === rowCount(table) ? table : takeRows(table, rows);
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

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
  if (o.collapseSpaces) s = s.replace(/\s+/g, " ");
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
