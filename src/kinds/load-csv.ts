import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { clipText } from "../artifacts/table.js";
import { DiagnosticError } from "../core/diagnostic.js";
import { FieldCells } from "../data/cells.js";
import {
  buildTable,
  CHUNK_BYTES,
  dataError,
  type Encoding,
  readText,
  readTextChunks,
  TABLE_LOADER,
  tableParams,
  type TableCells,
} from "../data/read.js";

export const loadCsv = defineKind({
  name: "load.csv",
  version: 1,
  doc: "Reads a CSV file with a header row into a table; numeric columns are inferred.",
  params: { ...tableParams, delimiter: p.string("Field delimiter.").default(",") },
  ...TABLE_LOADER,
  check: (params) =>
    params.delimiter.length !== 1
      ? [{ param: "delimiter", message: "the delimiter must be one character" }]
      : [],
  async run(ctx, _inputs, params) {
    const file = ctx.resolvePath(params.path);
    // CSV is parsed as the file is read, a chunk at a time: the file or its text held whole would
    // each be as large as the table. The text is made only to say where a problem is, reading the
    // file again.
    const text = lazy(() => readText(file, params.encoding));
    let csv: CsvFields;
    try {
      csv = await parseCsvFile(file, params.encoding, params.delimiter);
    } catch (e) {
      if (e instanceof DiagnosticError) throw e; // unreadable, or not in its encoding
      const problem = csvProblem(e as CsvParseError, text());
      throw dataError(file, problem.message, problem.at, problem.hint);
    }
    const { header, fields } = csv;
    if (!header)
      throw dataError(
        file,
        "the file is empty",
        undefined,
        "a CSV needs a header row naming its columns",
      );
    const seen = new Set<string>();
    for (const h of header) {
      if (seen.has(h))
        throw dataError(file, `column "${clipText(h)}" appears twice in the header`, {
          text: text(),
          line: 1,
        });
      seen.add(h);
    }
    const starts = lazy(() => recordStarts(text()));
    return {
      out: buildTable(header, cellsOfFields(fields), {
        file,
        text,
        place: (row, field) => {
          const { offsets, lines } = starts();
          const cell = fieldOffset(text(), offsets[row + 1]!, field, params.delimiter);
          return { line: lines[row + 1]! + cell.newlines, offset: cell.offset };
        },
        columns: params.columns,
        types: params.types,
        textColumn: params.text,
        label: params.label,
        time: params.time,
        series: params.series,
      }),
    };
  },
});

/** A CSV file's header row, and its other rows' cells field by field. */
export interface CsvFields {
  header?: string[];
  fields: FieldCells[];
}

/**
 * Parses a CSV file as it is read, `chunkBytes` at a time, gathering its cells field by field as
 * they come: a list per record would be as large as the table. Throws readText's errors, and
 * csv-parse's as they are.
 */
export async function parseCsvFile(
  file: string,
  encoding: Encoding,
  delimiter: string,
  chunkBytes = CHUNK_BYTES,
): Promise<CsvFields> {
  // Loaded by the stages that read CSV, not at start-up.
  const [{ parse }, { pipeline }, { Writable }] = await Promise.all([
    import("csv-parse"),
    import("node:stream/promises"),
    import("node:stream"),
  ]);
  const csv: CsvFields = { fields: [] };
  // Records are taken from the parser's stream rather than by csv-parse's on_record, which builds
  // an object describing every record: at 10^6 rows that more than doubled the parse's CPU time,
  // and left 80 MiB more garbage in the heap.
  const gather = new Writable({
    objectMode: true,
    write(record: string[], _encoding, done) {
      if (!csv.header) {
        csv.header = record;
        csv.fields = record.map(() => new FieldCells());
      } else for (let f = 0; f < record.length; f++) csv.fields[f]!.push(record[f]!);
      done();
    },
  });
  await pipeline(readTextChunks(file, encoding, chunkBytes), parse(csvOptions(delimiter)), gather);
  return csv;
}

/**
 * How load.csv has csv-parse read. The text it is given has lost one BOM in decoding and csv-parse
 * takes another: a file that starts with two loads as it always did (same bytes, same key).
 */
export function csvOptions(delimiter: string) {
  return {
    bom: true,
    delimiter,
    skip_empty_lines: true,
    relax_column_count: false,
    max_record_size: MAX_RECORD_CHARS,
  };
}

/** Cells gathered field by field; a field asked for twice (a column kept twice) is a copy. */
export function cellsOfFields(fields: FieldCells[]): TableCells {
  const given = new Set<number>();
  const once = <T extends { slice(): T }>(f: number, cells: T): T => {
    if (given.has(f)) return cells.slice();
    given.add(f);
    return cells;
  };
  return {
    rows: fields[0]?.length ?? 0,
    field: (f) => once(f, fields[f]?.texts() ?? []),
    values: (f) => {
      const values = fields[f]?.values();
      return values && once(f, values);
    },
  };
}

function lazy<T>(f: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= f());
}

/**
 * Where each record starts: its offset and line (empty lines and a BOM skipped), honouring quoted
 * fields that span lines. Used only to point at cells: the file has already parsed as CSV.
 */
function recordStarts(text: string): { offsets: number[]; lines: number[] } {
  const offsets: number[] = [];
  const lines: number[] = [];
  let quoted = false;
  let atStart = true;
  let line = 1;
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const c = text[i]!;
    if (atStart && c !== "\n" && c !== "\r") {
      offsets.push(i);
      lines.push(line);
      atStart = false;
    }
    if (c === '"') quoted = !quoted;
    else if (c === "\n") {
      line++;
      if (!quoted) atStart = true;
    }
  }
  return { offsets, lines };
}

/** The offset of field `field` of the record starting at `start`, and the newlines before it. */
function fieldOffset(
  text: string,
  start: number,
  field: number,
  delimiter: string,
): { offset: number; newlines: number } {
  let quoted = false;
  let f = 0;
  let newlines = 0;
  for (let i = start; i < text.length && f < field; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === "\n") {
      if (!quoted) break;
      newlines++;
    } else if (!quoted && c === delimiter && ++f === field) return { offset: i + 1, newlines };
  }
  return { offset: start, newlines: 0 };
}

/** Where the quote that is never closed was opened. */
function unclosedQuote(text: string): number | undefined {
  let open: number | undefined;
  for (let i = 0; i < text.length; i++)
    if (text[i] === '"') open = open === undefined ? i : undefined;
  return open;
}

/**
 * The longest record load.csv reads. csv-parse grows a field's buffer at a cost that rises faster than
 * its length (a 50 MB header took minutes): past this a file is refused at once, with the way out.
 */
export const MAX_RECORD_CHARS = 2 ** 20;

type CsvParseError = Error & { lines?: number; code?: string };

/** What went wrong in csv-parse's words, turned into ours: the message, its place, a hint. */
function csvProblem(err: CsvParseError, text: string) {
  if (err.code === "CSV_QUOTE_NOT_CLOSED") {
    // csv-parse reports an unclosed quote where the file ends; the quote that opened it is the place.
    const opened = unclosedQuote(text);
    if (opened !== undefined)
      return {
        message: "a quoted field is never closed",
        at: { text, offset: opened },
        hint: 'close the quote; a quote inside a quoted field is written twice ("")',
      };
  }
  const at = err.lines ? { text, line: err.lines } : undefined;
  if (err.code === "CSV_MAX_RECORD_SIZE")
    return {
      message: `a record is longer than ${MAX_RECORD_CHARS} characters (1 MiB), the most load.csv reads`,
      at,
      hint: "for long documents use load.text with one file per document, or load.jsonl",
    };
  return {
    message: err.message.replace(/ on line \d+$/, "").replace(/ at line \d+.*$/, ""),
    at,
    hint: /Record Length/.test(err.message)
      ? "every row needs as many fields as the header; quote fields that contain the delimiter"
      : undefined,
  };
}
