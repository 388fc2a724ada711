import type { ParseError } from "jsonc-parser";
import { defineKind } from "../stages/kind.js";
import { clipText } from "../artifacts/table.js";
import {
  buildTable,
  cellsOfRows,
  dataError,
  readText,
  TABLE_LOADER,
  tableParams,
} from "../data/read.js";

export const loadJsonl = defineKind({
  name: "load.jsonl",
  version: 1,
  doc: "Reads JSON Lines (one object per line) into a table; columns are the union of keys in first-seen order.",
  params: tableParams,
  ...TABLE_LOADER,
  async run(ctx, _inputs, params) {
    const file = ctx.resolvePath(params.path);
    const text = readText(file, params.encoding);
    const objects: Record<string, unknown>[] = [];
    const starts: number[] = [];
    const lineNos: number[] = [];
    let offset = 0;
    for (const [i, line] of text.split("\n").entries()) {
      const body = line.replace(/\r$/, "");
      if (body.trim() !== "") {
        let v: unknown;
        try {
          v = JSON.parse(body);
        } catch {
          throw invalidJson(await import("jsonc-parser"), file, text, body, offset, i + 1);
        }
        if (v === null || typeof v !== "object" || Array.isArray(v)) {
          throw dataError(
            file,
            `line ${i + 1} is not a JSON object`,
            { text, line: i + 1 },
            'each line must be an object such as {"text": "...", "label": "..."}',
          );
        }
        objects.push(v as Record<string, unknown>);
        starts.push(offset);
        lineNos.push(i + 1);
      }
      offset += line.length + 1;
    }
    const header: string[] = [];
    const seen = new Set<string>();
    for (const o of objects)
      for (const k of Object.keys(o)) if (!seen.has(k)) seen.add(k), header.push(k);
    if (objects.length === 0)
      throw dataError(
        file,
        "the file holds no JSON objects",
        undefined,
        'JSON Lines: one object per line, e.g. {"text": "...", "label": "..."}',
      );
    const jsonc = await import("jsonc-parser");
    const place = (row: number, field: number) => {
      const end = text.indexOf("\n", starts[row]!);
      const line = text.slice(starts[row]!, end < 0 ? undefined : end);
      const node = jsonc.findNodeAtLocation(jsonc.parseTree(line)!, [header[field]!]);
      return { line: lineNos[row]!, offset: starts[row]! + (node?.offset ?? 0) };
    };
    const cell = (v: unknown, row: number, field: number) => {
      if (typeof v === "number" && !Number.isFinite(v))
        throw dataError(
          file,
          `"${clipText(header[field]!)}" on line ${lineNos[row]} is too large for a number`,
          { text, offset: place(row, field).offset },
        );
      return v === undefined || v === null
        ? ""
        : typeof v === "string"
          ? v
          : typeof v === "number" || typeof v === "boolean"
            ? String(v)
            : JSON.stringify(v);
    };
    const rows = objects.map((o, r) => header.map((k, f) => cell(o[k], r, f)));
    return {
      out: buildTable(header, cellsOfRows(rows), {
        file,
        text: () => text,
        place,
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

/** JSON.parse says little about where; a tolerant parser finds the first bad token's offset. */
function invalidJson(
  jsonc: typeof import("jsonc-parser"),
  file: string,
  text: string,
  line: string,
  lineOffset: number,
  lineNo: number,
) {
  const errors: ParseError[] = [];
  jsonc.parse(line, errors, { disallowComments: true, allowTrailingComma: false });
  const first = errors[0];
  const what = first
    ? jsonc
        .printParseErrorCode(first.error)
        .replace(/([a-z])([A-Z])/g, "$1 $2")
        .toLowerCase()
    : "syntax error";
  return dataError(
    file,
    `line ${lineNo} is not valid JSON: ${what}`,
    first ? { text, offset: lineOffset + first.offset } : { text, line: lineNo },
  );
}
