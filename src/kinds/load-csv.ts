import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { buildTable, dataError, LOADER, readText, tableParams } from "../data/read.js";

export const loadCsv = defineKind({
  name: "load.csv",
  version: 1,
  doc: "Reads a CSV file with a header row into a table; numeric columns are inferred.",
  params: { ...tableParams, delimiter: p.string("Field delimiter.").default(",") },
  ...LOADER,
  check: (params) =>
    params.delimiter.length !== 1
      ? [{ param: "delimiter", message: "the delimiter must be one character" }]
      : [],
  files: (params) => [params.path],
  async run(ctx, _inputs, params) {
    const { parse } = await import("csv-parse/sync"); // loaded by the stages that read CSV, not at start-up
    const file = ctx.resolvePath(params.path);
    const text = readText(file, params.encoding);
    let records: string[][];
    try {
      records = parse(text, {
        bom: true,
        delimiter: params.delimiter,
        skip_empty_lines: true,
        relax_column_count: false,
      }) as string[][];
    } catch (e) {
      const err = e as Error & { lines?: number };
      throw dataError(
        file,
        err.message.replace(/ on line \d+$/, "").replace(/ at line \d+.*$/, ""),
        err.lines ? { text, line: err.lines } : undefined,
        /Record Length/.test(err.message)
          ? "every row needs as many fields as the header; quote fields that contain the delimiter"
          : undefined,
      );
    }
    const [header, ...rows] = records;
    if (!header)
      throw dataError(
        file,
        "the file is empty",
        undefined,
        "a CSV needs a header row naming its columns",
      );
    const dup = header.find((h, i) => header.indexOf(h) !== i);
    if (dup !== undefined)
      throw dataError(file, `column "${dup}" appears twice in the header`, { text, line: 1 });
    return { out: buildTable(header, rows, { file, ...params }) };
  },
});
