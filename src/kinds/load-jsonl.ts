import type { ParseError } from "jsonc-parser";
import { defineKind } from "../stages/kind.js";
import { buildTable, dataError, LOADER, readText, tableParams } from "../data/read.js";

export const loadJsonl = defineKind({
  name: "load.jsonl",
  version: 1,
  doc: "Reads JSON Lines (one object per line) into a table; columns are the union of keys in first-seen order.",
  params: tableParams,
  ...LOADER,
  files: (params) => [params.path],
  async run(ctx, _inputs, params) {
    const file = ctx.resolvePath(params.path);
    const text = readText(file, params.encoding);
    const objects: Record<string, unknown>[] = [];
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
      }
      offset += line.length + 1;
    }
    const header: string[] = [];
    const seen = new Set<string>();
    for (const o of objects)
      for (const k of Object.keys(o)) if (!seen.has(k)) seen.add(k), header.push(k);
    const cell = (v: unknown) =>
      v === undefined || v === null
        ? ""
        : typeof v === "string"
          ? v
          : typeof v === "number" || typeof v === "boolean"
            ? String(v)
            : JSON.stringify(v);
    const rows = objects.map((o) => header.map((k) => cell(o[k])));
    return { out: buildTable(header, rows, { file, ...params }) };
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
