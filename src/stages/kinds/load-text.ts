import { readFileSync, statSync } from "node:fs";
import { relative, sep } from "node:path";
import { defineKind } from "../kind.js";
import { p } from "../schema.js";
import type { Table } from "../artifacts/table.js";
import { listFiles } from "../paths.js";
import { dataError, decode, fileParams, LOADER, readText } from "./read.js";

export const loadText = defineKind({
  name: "load.text",
  version: 1,
  doc: "Reads text examples: one per line from a file, or one per file from a folder tree whose first-level folders are the labels.",
  params: {
    ...fileParams,
    path: p.string("A text file (one example per line) or a folder (label/.../file), relative to the pipeline."),
    skipEmpty: p.bool("Skip empty lines (file mode).").default(true),
  },
  ...LOADER,
  files: (params) => [params.path],
  run(ctx, _inputs, params): { out: Table } {
    const path = ctx.resolvePath(params.path);
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw dataError(path, "file or folder not found", undefined, "paths are relative to the pipeline file");
    }
    if (!isDir) {
      const lines = readText(path, params.encoding).split(/\r?\n/);
      const values = params.skipEmpty ? lines.filter((l) => l.trim() !== "") : lines.slice(0, lines.at(-1) === "" ? -1 : undefined);
      return { out: { type: "table", columns: [{ name: "text", dtype: "string", values }], roles: { text: "text" } } };
    }
    const files = listFiles(path);
    const texts: string[] = [];
    const labels: string[] = [];
    const names: string[] = [];
    files.forEach((f, i) => {
      const rel = relative(path, f);
      const parts = rel.split(sep);
      if (parts.length < 2) throw dataError(f, "a file at the top of a labelled folder tree has no label", undefined, "put each example file inside a folder named for its label");
      texts.push(decode(readFileSync(f), f, params.encoding));
      labels.push(parts[0]!);
      names.push(parts.join("/"));
      if (i % 256 === 0) ctx.progress(i, files.length, "files");
    });
    ctx.progress(files.length, files.length, "files");
    return {
      out: {
        type: "table",
        columns: [
          { name: "text", dtype: "string", values: texts },
          { name: "label", dtype: "string", values: labels },
          { name: "file", dtype: "string", values: names },
        ],
        roles: { text: "text", label: "label" },
      },
    };
  },
});
