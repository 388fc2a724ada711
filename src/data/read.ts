import { readFileSync } from "node:fs";
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
import type { Column, Table } from "../artifacts/table.js";
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
};

/** Reading user data files: strict decoding, and every complaint a Diagnostic pointing into the file. */

export type Encoding = "utf8" | "latin1";

/** The path as users see it in messages: relative to where they ran rnnp when that is shorter. */
export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
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
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(
      abs,
      code === "ENOENT" ? "file not found" : `cannot read file (${code ?? String(e)})`,
      undefined,
      code === "ENOENT"
        ? "paths are relative to the pipeline file; `npm:<package>/<file>` reads from an installed package"
        : undefined,
    );
  }
  return decode(bytes, abs, encoding);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function decode(bytes: Uint8Array, file: string, encoding: Encoding): string {
  if (encoding === "latin1")
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  try {
    return utf8.decode(bytes);
  } catch {
    // Find the first line that does not decode, to say where.
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          utf8.decode(bytes.subarray(start, i));
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

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const MISSING = new Set(["", "NA", "NaN", "nan", "null", "NULL"]);

export type ColumnType = "string" | "number";

export interface TableOptions {
  file: string;
  /** Keep only these columns, in this order. */
  columns?: string[] | undefined;
  /** Forced column types; others are inferred (numeric when every present value is a number). */
  types?: Record<string, ColumnType> | undefined;
  text?: string | undefined;
  label?: string | undefined;
}

/** Builds a table from raw string cells, inferring numeric columns; checks that every named column exists. */
export function buildTable(header: string[], rows: string[][], o: TableOptions): Table {
  // The text and label columns are always kept, even when a selection leaves them out.
  const roles = [o.text, o.label].filter((c): c is string => c !== undefined);
  const wanted = o.columns
    ? [...o.columns, ...roles.filter((c) => !o.columns!.includes(c))]
    : header;
  for (const name of [...wanted, ...Object.keys(o.types ?? {}), o.text, o.label]) {
    if (name !== undefined && !header.includes(name)) {
      const near = closest(name, header);
      throw dataError(
        o.file,
        `no column "${name}" (columns: ${header.join(", ")})`,
        undefined,
        near ? `did you mean "${near}"?` : undefined,
      );
    }
  }
  const columns = wanted.map((name): Column => {
    const idx = header.indexOf(name);
    const raw = rows.map((r) => r[idx] ?? "");
    const forced = o.types?.[name] ?? (name === o.text ? "string" : undefined);
    const numeric = forced
      ? forced === "number"
      : raw.some((v) => !MISSING.has(v)) &&
        raw.every((v) => MISSING.has(v) || NUMBER.test(v.trim()));
    if (!numeric) return { name, dtype: "string", values: raw };
    const values = new Float64Array(raw.length);
    raw.forEach((v, i) => {
      if (MISSING.has(v)) values[i] = NaN;
      else if (NUMBER.test(v.trim())) values[i] = Number(v);
      else
        throw dataError(
          o.file,
          `column "${name}" is declared numeric but row ${i + 1} holds ${JSON.stringify(v)}`,
        );
    });
    return { name, dtype: "number", values };
  });
  if (o.text && o.label && o.text === o.label)
    throw dataError(o.file, `text and label are the same column "${o.text}"`);
  return {
    type: "table",
    columns,
    roles: { ...(o.text ? { text: o.text } : {}), ...(o.label ? { label: o.label } : {}) },
  };
}
