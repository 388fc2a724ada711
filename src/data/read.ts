import { isUtf8 } from "node:buffer";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { relative } from "node:path";
import { closest } from "fastest-levenshtein";
import {
  DiagnosticError,
  error,
  lineSpan,
  positionAt,
  type Diagnostic,
  type Span,
} from "../core/diagnostic.js";
import { userDir } from "../core/user-dir.js";
import { asStrings, clipText, listNames, type Column, type Table } from "../artifacts/table.js";
import { MISSING, NUMBER } from "./cells.js";
import { parseTime } from "./time.js";
import { p } from "../stages/schema.js";

/** What every loader declares alike: no inputs, one table out, deterministic, backend-free. */
export const LOADER = {
  inputs: {},
  outputs: ["out"],
  outputType: "table",
  random: false,
  backendDependent: false,
} as const;

export const fileParams = {
  path: p.string("File to read, relative to the pipeline (or npm:<package>/<file>)."),
  encoding: p.oneOf("File encoding.", ["utf8", "latin1"]).default("utf8"),
};

/** Parameters of loaders of tabular files (CSV, JSON Lines). */
export const tableParams = {
  ...fileParams,
  columns: p.list(p.string("column"), "Columns to keep, in order (default: all).").optional(),
  text: p.string("Column holding the text of each example.").optional(),
  label: p.string("Column holding the label of each example.").optional(),
  types: p
    .map(p.oneOf("type", ["string", "number"]), 'Force column types, e.g. { zip: "string" }.')
    .optional(),
  time: p
    .string(
      'Column holding each row\'s time (ISO dates, months, years, date-times, or "Jan 1 2000"; UTC unless a zone is given): parsed, and checked to increase within each series.',
    )
    .optional(),
  series: p
    .string(
      "With time: the column naming separate series (e.g. a ticker symbol); times increase within each. Splits and windows keep series apart.",
    )
    .optional(),
};

/** What loaders of tabular files declare alike on top of LOADER: the table's roles, the one file read. */
export const TABLE_LOADER = {
  ...LOADER,
  describe: (params: {
    label?: string | undefined;
    time?: string | undefined;
    series?: string | undefined;
  }) => ({
    kind: "table" as const,
    label: params.label,
    time: params.time,
    series: params.series,
  }),
  files: (params: { path: string }) => [params.path],
};

/** Reading user data files: strict decoding, and every complaint a Diagnostic pointing into the file. */

export type Encoding = "utf8" | "latin1";

/** The path as users see it in messages: relative to where they ran rnnp when that is shorter. */
export function displayPath(abs: string): string {
  const rel = relative(userDir(), abs);
  if (rel === "") return ".";
  return rel.length < abs.length && !rel.startsWith("../../..") ? rel : abs;
}

export function dataError(
  file: string,
  message: string,
  at?: { text: string; line?: number; offset?: number },
  hint?: string,
): DiagnosticError {
  let span: Span | undefined;
  if (at?.offset !== undefined) {
    const start = positionAt(at.text, at.offset);
    span = { start, end: { ...start, column: start.column + 1, offset: start.offset + 1 } };
  } else if (at?.line !== undefined) span = lineSpan(at.text, at.line);
  const d: Diagnostic = error(
    "data",
    message,
    { file: displayPath(file), ...(span ? { span } : {}) },
    hint ? { hint } : {},
  );
  return new DiagnosticError([d]);
}

export function readText(abs: string, encoding: Encoding = "utf8"): string {
  return decode(readBytes(abs), abs, encoding);
}

/**
 * A file's bytes, checked to decode in `encoding` (the same error as readText's where they do not),
 * for readers that parse bytes: the file's text as a string would be another copy of it.
 */
export function readCheckedBytes(abs: string, encoding: Encoding): Buffer {
  const bytes = readBytes(abs);
  if (encoding === "utf8" && !isUtf8(bytes)) decode(bytes, abs, encoding);
  return bytes;
}

function readBytes(abs: string): Buffer {
  try {
    return readFileSync(abs);
  } catch (e) {
    throw unreadable(abs, e);
  }
}

/** Why a file could not be read, said for users. */
function unreadable(abs: string, e: unknown): DiagnosticError {
  const code = (e as NodeJS.ErrnoException).code;
  return dataError(
    abs,
    code === "ENOENT"
      ? "file not found"
      : code === "EISDIR"
        ? `${displayPath(abs)} is a folder, not a file`
        : `cannot read ${displayPath(abs)} (${code ?? String(e)})`,
    undefined,
    code === "ENOENT"
      ? "paths are relative to the pipeline file; `npm:<package>/<file>` reads from an installed package"
      : code === "EISDIR"
        ? "name a file in it; load.text and load.audio read folder trees"
        : undefined,
  );
}

/**
 * How much of a file readTextChunks reads at a time: a chunk is parsed in a few milliseconds, so it
 * is garbage before a young-generation collection can move it to the old generation, there to wait
 * for a full one; and what each chunk costs besides its bytes is nothing at this size.
 */
export const CHUNK_BYTES = 2 ** 16;

/**
 * The text readText gives, as UTF-8 bytes, about `size` bytes of the file at a time, each chunk
 * ending between two characters: for readers that parse as they go, so that the file is never held
 * whole. Its errors are readText's (a chunk that does not decode has the file read whole, to say where).
 */
export function* readTextChunks(
  abs: string,
  encoding: Encoding,
  size = CHUNK_BYTES,
): Generator<Buffer, void, undefined> {
  const fd = openFile(abs);
  try {
    const chunks = fileChunks(fd, size, abs);
    if (encoding === "latin1") {
      for (const chunk of chunks) yield Buffer.from(chunk.toString("latin1"));
      return;
    }
    // Decoding takes a byte order mark off the start: all of one is in the first chunk, as it is a
    // character.
    let first = true;
    for (const chunk of utf8Chunks(chunks, abs)) {
      yield first ? withoutBom(chunk) : chunk;
      first = false;
    }
  } finally {
    closeSync(fd);
  }
}

function openFile(abs: string): number {
  try {
    return openSync(abs, "r");
  } catch (e) {
    throw unreadable(abs, e);
  }
}

/** A file's bytes, up to `size` at a time; a new buffer each, as a parser may keep the last one's tail. */
function* fileChunks(fd: number, size: number, abs: string): Generator<Buffer, void, undefined> {
  for (;;) {
    const chunk = Buffer.allocUnsafe(size);
    let read: number;
    try {
      read = readSync(fd, chunk, 0, size, null);
    } catch (e) {
      throw unreadable(abs, e);
    }
    if (read === 0) return;
    yield chunk.subarray(0, read);
  }
}

/**
 * Chunks checked to be UTF-8, each cut after its last whole character: one that a chunk ends
 * inside goes with the next chunk, to be checked whole.
 */
function* utf8Chunks(chunks: Iterable<Buffer>, abs: string): Generator<Buffer, void, undefined> {
  let cut: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    const bytes = cut.length ? Buffer.concat([cut, chunk]) : chunk;
    const whole = bytes.subarray(0, wholeCharacters(bytes));
    if (!isUtf8(whole)) notUtf8(abs);
    cut = bytes.subarray(whole.length);
    if (whole.length) yield whole;
  }
  if (cut.length) notUtf8(abs);
}

/**
 * How many of `bytes` come before a character they end inside: all of them unless one of the last
 * three bytes starts a sequence longer than what is left. Invalid bytes are left to isUtf8.
 */
function wholeCharacters(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 3); i--) {
    const b = bytes[i]!;
    if (b < 0x80) break; // ASCII
    if (b >= 0xc0) return i + (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > bytes.length ? i : bytes.length;
  }
  return bytes.length;
}

/** The bytes after a leading UTF-8 byte order mark, if there is one. */
function withoutBom(bytes: Buffer): Buffer {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

/** Throws readText's error for a file that is not UTF-8: where it first fails, read whole to say so. */
function notUtf8(abs: string): never {
  readCheckedBytes(abs, "utf8");
  throw dataError(abs, "invalid UTF-8"); // it changed while read
}

/** Made on first use: a decoder costs a command that reads no file 0.3 ms. */
let decoder: InstanceType<typeof TextDecoder> | undefined;
const utf8 = () => {
  decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  return decoder;
};

export function decode(bytes: Uint8Array, file: string, encoding: Encoding): string {
  if (encoding === "latin1")
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  try {
    return utf8().decode(bytes);
  } catch {
    // Find the first line that does not decode, to say where.
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          utf8().decode(bytes.subarray(start, i));
        } catch {
          const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
            "latin1",
          );
          throw dataError(
            file,
            `invalid UTF-8 on line ${line}`,
            { text, line },
            'if the file is Latin-1, say `encoding: "latin1"`',
          );
        }
        line++;
        start = i + 1;
      }
    }
    throw dataError(file, "invalid UTF-8");
  }
}

export type ColumnType = "string" | "number";

/** Where a cell is in its file, for messages: its line, and its offset in the text when known. */
export interface CellPlace {
  line: number;
  offset?: number;
}

export interface TableOptions {
  file: string;
  /** The file's text, to point into (asked for only to say where a problem is). */
  text: () => string;
  /** The place of row `row`'s cell of header field `field` (0-based both). */
  place(row: number, field: number): CellPlace;
  /** Keep only these columns, in this order. */
  columns?: string[] | undefined;
  /** Forced column types; others are inferred (numeric when every present value is a number). */
  types?: Record<string, ColumnType> | undefined;
  textColumn?: string | undefined;
  label?: string | undefined;
  time?: string | undefined;
  series?: string | undefined;
}

/** Names users compare against at most for a did-you-mean: bounded work on a huge header. */
const SUGGEST_LIMIT = 10_000;

/** The name in `names` closest to `name`, among those of similar length (a bounded search). */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  if (name.length > 200) return undefined;
  const slack = Math.max(2, Math.ceil(name.length / 3));
  const candidates: string[] = [];
  for (const n of names) {
    if (Math.abs(n.length - name.length) <= slack) candidates.push(n);
    if (candidates.length >= SUGGEST_LIMIT) break;
  }
  return candidates.length ? closest(name, candidates) : undefined;
}

/** A file's cells, field by field (a loader need not hold a list per row: a million of them). */
export interface TableCells {
  rows: number;
  /** Every row's cell of header field `field` ("" where a row has none). */
  field(field: number): string[];
  /**
   * The field's cells as the numbers a numeric column holds (missing ones NaN), where the loader
   * kept them so: only when every cell reads as a number (`numberOf`) and one is present, which is
   * when buildTable would infer the column numeric and read these same numbers from `field`.
   */
  values?(field: number): Float64Array | undefined;
}

/** Cells held as one list per row. */
export function cellsOfRows(rows: readonly string[][]): TableCells {
  return { rows: rows.length, field: (f) => rows.map((r) => r[f] ?? "") };
}

/** Builds a table from raw string cells, inferring numeric columns; checks that every named column exists. */
export function buildTable(header: string[], cells: TableCells, o: TableOptions): Table {
  const at = (row: number, field: number) => {
    const place = o.place(row, field);
    return place.offset !== undefined
      ? { text: o.text(), offset: place.offset }
      : { text: o.text(), line: place.line };
  };
  // The text and label columns are always kept, even when a selection leaves them out.
  const roles = [o.textColumn, o.label, o.time, o.series].filter(
    (c): c is string => c !== undefined,
  );
  const wanted = o.columns
    ? [...o.columns, ...roles.filter((c) => !o.columns!.includes(c))]
    : header;
  const index = new Map<string, number>();
  header.forEach((h, i) => index.has(h) || index.set(h, i));
  if (header.length === 0 || cells.rows === 0) {
    const named = [...new Set([...(o.columns ?? []), ...roles])];
    if (named.length)
      throw dataError(
        o.file,
        header.length === 0
          ? `the file has no data, so no column "${clipText(named[0]!)}"`
          : `the file has a header but no rows`,
        header.length === 0 ? undefined : { text: o.text(), line: 1 },
        header.length === 0 ? "the file is empty" : undefined,
      );
  }
  for (const name of [...wanted, ...Object.keys(o.types ?? {}), ...roles]) {
    if (!index.has(name)) {
      const near = nearestName(name, header);
      throw dataError(
        o.file,
        `no column "${clipText(name)}" (columns: ${listNames(header)})`,
        undefined,
        near ? `did you mean "${clipText(near)}"?` : undefined,
      );
    }
  }
  const columns = wanted.map((name): Column => {
    const idx = index.get(name)!;
    if (name === o.time) return timeColumn(name, cells.field(idx), (i) => at(i, idx), o.file);
    const forced = Object.hasOwn(o.types ?? {}, name)
      ? o.types![name]
      : name === o.textColumn
        ? "string"
        : undefined;
    const kept = forced === "string" ? undefined : cells.values?.(idx);
    if (kept) return { name, dtype: "number", values: kept };
    const raw = cells.field(idx);
    const numeric = forced
      ? forced === "number"
      : raw.some((v) => !MISSING.has(v)) &&
        raw.every((v) => MISSING.has(v) || NUMBER.test(v.trim()));
    if (!numeric) return { name, dtype: "string", values: raw };
    const values = new Float64Array(raw.length);
    raw.forEach((v, i) => {
      if (MISSING.has(v)) values[i] = NaN;
      else if (NUMBER.test(v.trim()) && Number.isFinite(Number(v))) values[i] = Number(v);
      else
        throw dataError(
          o.file,
          NUMBER.test(v.trim())
            ? `column "${clipText(name)}": ${clipText(v.trim(), 24)} is too large for a number`
            : `column "${clipText(name)}" is numeric, but line ${o.place(i, idx).line} holds ${JSON.stringify(clipText(v))}`,
          at(i, idx),
          forced ? undefined : 'read the column as text with types: { "<column>": "string" }',
        );
    });
    return { name, dtype: "number", values };
  });
  if (o.textColumn && o.label && o.textColumn === o.label)
    throw dataError(o.file, `text and label are the same column "${clipText(o.textColumn)}"`);
  if (o.series && !o.time)
    throw dataError(o.file, "`series` names the series of a time column: declare `time:` too");
  const table: Table = {
    type: "table",
    columns,
    roles: {
      ...(o.textColumn ? { text: o.textColumn } : {}),
      ...(o.label ? { label: o.label } : {}),
      ...(o.time ? { time: o.time } : {}),
      ...(o.series ? { series: o.series } : {}),
    },
  };
  if (o.time) {
    const field = index.get(o.time)!;
    checkTimeOrder(
      table,
      o,
      (i) => cells.field(field)[i]!.trim(),
      (i) => at(i, field),
    );
    table.lines = Int32Array.from({ length: cells.rows }, (_, i) => o.place(i, 0).line);
  }
  return table;
}

function timeColumn(
  name: string,
  raw: string[],
  at: (row: number) => { text: string; offset?: number; line?: number },
  file: string,
): Column {
  const values = new Float64Array(raw.length);
  raw.forEach((v, i) => {
    const t = parseTime(v);
    if (t === undefined)
      throw dataError(
        file,
        `time column "${clipText(name)}": ${JSON.stringify(clipText(v))} is not a date or time`,
        at(i),
        'write ISO dates ("2003-04-17"), months ("2003-04"), years, date-times ("2003-04-17T13:00:00Z") or "Apr 17 2003"',
      );
    values[i] = t;
  });
  return { name, dtype: "number", values };
}

/** Times must increase within each series: an unsorted or repeated time is an error at its line. */
function checkTimeOrder(
  t: Table,
  o: TableOptions,
  raw: (row: number) => string,
  at: (row: number) => { text: string; offset?: number; line?: number },
): void {
  const times = t.columns.find((c) => c.name === o.time)!.values as Float64Array;
  const series = o.series ? asStrings(t.columns.find((c) => c.name === o.series)!) : undefined;
  const last = new Map<string, number>();
  for (let i = 0; i < times.length; i++) {
    const key = series ? series[i]! : "";
    const prev = last.get(key);
    last.set(key, i);
    if (prev === undefined || times[i]! > times[prev]!) continue;
    const lineOf = (r: number) => o.place(r, 0).line;
    const within = series ? ` in series "${clipText(key)}"` : "";
    throw dataError(
      o.file,
      times[i] === times[prev]
        ? `time ${clipText(raw(i))}${within} repeats line ${lineOf(prev)}`
        : `time ${clipText(raw(i))}${within} comes before ${clipText(raw(prev))} on line ${lineOf(prev)}: times must increase`,
      at(i),
      times[i] === times[prev]
        ? "one row per time step: aggregate or drop the repeated rows first"
        : series
          ? "sort the file by series and time"
          : "sort the file by time; if it holds several series, name their column with `series:`",
    );
  }
}
