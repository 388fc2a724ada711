import { once } from "node:events";
import { type Cell, newRow, type Row, type Rows } from "../artifacts/rows.js";
import type { Stream } from "./io.js";

/**
 * Machine-readable output of rows: CSV (RFC 4180, a header, nested values as JSON text in their
 * cell, null as an empty cell), JSON Lines (one object a line) or JSON (an array of objects).
 * Written in chunks as rows are made, waiting for the stream to drain, so a million-row table never
 * exists as one string.
 */
export type RowFormat = "csv" | "jsonl" | "json";

/** A CSV cell: quoted when it holds a comma, quote, line break or edge space (RFC 4180). */
export function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvCell(c: Cell | undefined): string {
  if (c === null || c === undefined) return "";
  if (typeof c === "number") return String(c);
  if (typeof c === "boolean") return c ? "true" : "false";
  return csvField(typeof c === "string" ? c : JSON.stringify(c));
}

/** Writes text to a stream in chunks of about `size` characters, honouring back-pressure. */
export class ChunkedWriter {
  private buffer: string[] = [];
  private length = 0;
  constructor(
    private readonly stream: Stream,
    private readonly size = 1 << 16,
  ) {}

  async write(text: string): Promise<void> {
    this.buffer.push(text);
    this.length += text.length;
    if (this.length >= this.size) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.length) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    this.length = 0;
    const ok = this.stream.write(chunk);
    const s = this.stream as Partial<NodeJS.EventEmitter>;
    if (ok === false && typeof s.once === "function") await once(s as NodeJS.EventEmitter, "drain");
  }
}

/** Every row in the format, `indent` spaces deep for JSON nested in a document. */
export async function writeRows(
  out: ChunkedWriter,
  format: RowFormat,
  { columns, rows }: Rows,
  indent = "",
): Promise<void> {
  if (format === "csv") {
    await out.write(`${columns.map(csvField).join(",")}\n`);
    for (const r of rows) await out.write(`${columns.map((c) => csvCell(r[c])).join(",")}\n`);
    return;
  }
  if (format === "jsonl") {
    for (const r of rows) await out.write(`${JSON.stringify(ordered(r, columns))}\n`);
    return;
  }
  let first = true;
  await out.write("[");
  for (const r of rows) {
    await out.write(`${first ? "" : ","}\n${indent}  ${JSON.stringify(ordered(r, columns))}`);
    first = false;
  }
  await out.write(first ? "]" : `\n${indent}]`);
}

/** The row's cells in column order (a row made with fields in another order reads the same). */
function ordered(r: Row, columns: readonly string[]): Row {
  const o = newRow();
  for (const c of columns) if (Object.hasOwn(r, c)) o[c] = r[c]!;
  return o;
}
