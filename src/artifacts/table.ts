import { UserError } from "../core/diagnostic.js";

/**
 * A table of examples: ordered, typed columns of equal length. `roles` names the column that holds the
 * text and the one that holds the label, so later stages need not be told again.
 */
export type Column =
  | { name: string; dtype: "string"; values: string[] }
  | { name: string; dtype: "number"; values: Float64Array }
  /** One mono clip per row, samples in [-1, 1]. */
  | { name: string; dtype: "audio"; values: Float32Array[]; sampleRate: number };

/** How a numeric column was scaled, so predictions can be mapped back: x = scaled * scale + center. */
export interface Scaling {
  method: "zscore" | "minmax";
  center: number;
  scale: number;
}

export interface Table {
  type: "table";
  columns: Column[];
  /**
   * Columns with a meaning: the text, the label; `time`: a numeric column of times (ms since the epoch,
   * UTC), in order within each series; `series`: the column naming separate series (a ticker symbol).
   */
  roles: { text?: string; label?: string; time?: string; series?: string };
  scaling?: Record<string, Scaling>;
  /** The data file's line of each row, kept for tables with a time column so later stages can name rows. */
  lines?: Int32Array;
  /**
   * Set by a sequential split on each part: its position in time (train 0, val 1, test 2), and each
   * row's step within its series in the table that was split. A window stage takes the history a part
   * needs from the parts before it, and sees holes (rows removed after the split) as gaps.
   */
  timeline?: { part: number; series?: string; step: Int32Array };
}

/**
 * What is known of a table before it exists, from its stage's parameters and its inputs: its roles,
 * and how it was split (so a window over a random split is an error before anything runs).
 */
export interface TableInfo {
  kind: "table";
  label?: string | undefined;
  time?: string | undefined;
  series?: string | undefined;
  split?: { order: "random" | "sequential"; groupBy?: string | undefined };
  /** Rows were sampled at random: a series has holes. */
  sampled?: boolean;
}

export function tableInfo(info: unknown): TableInfo | undefined {
  return (info as TableInfo | undefined)?.kind === "table" ? (info as TableInfo) : undefined;
}

export function rowCount(t: Table): number {
  return t.columns[0]?.values.length ?? 0;
}

/**
 * The columns of a table a stage reads (KindDef.reads): by name, by role (the column a table names as
 * its text, label, time or series), and every column of some types.
 */
export interface ColumnReads {
  names?: readonly string[];
  roles?: readonly (keyof Table["roles"])[];
  dtypes?: readonly Column["dtype"][];
}

/** What a table's header says before its columns' values are read. */
export interface TableHead {
  columns: readonly { name: string; dtype: Column["dtype"] }[];
  roles: Table["roles"];
}

/**
 * The names `reads` picks in `head`: its roles taken from every table in `roleTables` (the parts of
 * one input: window reads the fit part's label in every part).
 */
export function columnsRead(
  reads: ColumnReads,
  head: TableHead,
  roleTables: readonly TableHead[] = [head],
): Set<string> {
  const names = new Set(reads.names);
  for (const role of reads.roles ?? [])
    for (const t of roleTables) {
      const name = t.roles[role];
      if (name !== undefined) names.add(name);
    }
  for (const c of head.columns) if (reads.dtypes?.includes(c.dtype)) names.add(c.name);
  return names;
}

/** Where a column's values lie in a table's value tree (the codec's `skip`): columns.N.values. */
export function isColumnValues(path: readonly (string | number)[]): boolean {
  return (
    path.length === 3 &&
    path[0] === "columns" &&
    typeof path[1] === "number" &&
    path[2] === "values"
  );
}

const unread = new WeakSet<object>();

/**
 * A column left undecoded (not among what its reader declared): its name, type and row count are
 * there, but reading a value throws, naming the reader and the column, so a stage that reads a column
 * it did not declare fails loudly instead of seeing other values.
 */
export function unreadColumn<C extends Column>(c: C, rows: number, reader: string): C {
  const refuse = (): never => {
    throw new Error(
      `internal: ${reader} reads column "${clipText(c.name)}", which it does not declare (KindDef.reads)`,
    );
  };
  const values = new Proxy(c.dtype === "number" ? new Float64Array(0) : [], {
    get: (_target, key) => (key === "length" ? rows : refuse()),
    has: refuse,
    ownKeys: refuse,
    getOwnPropertyDescriptor: refuse,
  });
  unread.add(values);
  return { ...c, values };
}

export function isUnread(c: Column): boolean {
  return unread.has(c.values);
}

export function column(t: Table, name: string): Column {
  const c = t.columns.find((c) => c.name === name);
  if (!c)
    throw new UserError(
      `table has no column "${clipText(name)}" (it has ${listNames(t.columns.map((c) => c.name))})`,
    );
  return c;
}

/** A user's value in a message: at most `max` characters, the length said when cut. */
export function clipText(s: string, max = 40): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}

/** Names in a message: at most `max` of them, each clipped, and how many more. */
export function listNames(names: readonly string[], max = 12): string {
  const shown = names.slice(0, max).map((n) => clipText(n));
  return names.length > max
    ? `${shown.join(", ")}, ... (${names.length - max} more)`
    : shown.join(", ");
}

/** A column's values as strings (labels may be stored as numbers). */
export function asStrings(c: Column): string[] {
  if (c.dtype === "audio") throw new UserError(`column "${c.name}" holds audio, not labels`);
  return c.dtype === "string" ? c.values : Array.from(c.values, String);
}

/** The rows at `indices`, in that order: the one primitive behind filtering, sampling and splitting. */
export function takeRows(t: Table, indices: ArrayLike<number>): Table {
  const n = indices.length;
  const columns = t.columns.map((c): Column => {
    if (c.dtype === "number") {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = c.values[indices[i]!]!;
      return { name: c.name, dtype: "number", values: v };
    }
    if (c.dtype === "audio") return { ...c, values: Array.from(indices, (i) => c.values[i]!) };
    const v = new Array<string>(n);
    for (let i = 0; i < n; i++) v[i] = c.values[indices[i]!]!;
    return { name: c.name, dtype: "string", values: v };
  });
  const out: Table = { ...t, columns };
  if (t.lines) out.lines = Int32Array.from(indices, (i) => t.lines![i]!);
  if (t.timeline)
    out.timeline = { ...t.timeline, step: Int32Array.from(indices, (i) => t.timeline!.step[i]!) };
  return out;
}

export function describeTable(t: Table): string {
  const cols = t.columns.map(
    (c) =>
      `${c.name}:${c.dtype}${c.dtype === "audio" ? `@${c.sampleRate}Hz` : ""}${t.roles.text === c.name ? " (text)" : t.roles.label === c.name ? " (label)" : ""}`,
  );
  return `table, ${rowCount(t)} rows x ${t.columns.length} columns: ${cols.join(", ")}`;
}
