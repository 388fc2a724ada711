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
  doc: "Reads text examples: one per line from a file, one per line from labelled files ({label: path}), or one per file from a folder tree whose first-level folders are the labels.",
  params: {
    ...fileParams,
    path: p.string("A text file (one example per line) or a folder (label/.../file), relative to the pipeline.").optional(),
    files: p.map(p.string("path"), "Labelled text files, one example per line: {label: path, ...}.").optional(),
    skipEmpty: p.bool("Skip empty lines.").default(true),
  },
  ...LOADER,
  check: (params) => ((params.path === undefined) === (params.files === undefined) ? [{ message: "give exactly one of `path` and `files`", hint: 'load.text(path: "reviews/") or load.text(files: {pos: "pos.txt", neg: "neg.txt"})' }] : []),
  files: (params) => (params.files ? Object.values(params.files) : [params.path!]),
  run(ctx, _inputs, params): { out: Table } {
    const lines = (file: string) => {
      const all = readText(file, params.encoding).split(/\r?\n/);
      return params.skipEmpty ? all.filter((l) => l.trim() !== "") : all.slice(0, all.at(-1) === "" ? -1 : undefined);
    };
    if (params.files) {
      const texts: string[] = [];
      const labels: string[] = [];
      for (const [label, file] of Object.entries(params.files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        for (const line of lines(ctx.resolvePath(file))) texts.push(line), labels.push(label);
      }
      return { out: { type: "table", columns: [{ name: "text", dtype: "string", values: texts }, { name: "label", dtype: "string", values: labels }], roles: { text: "text", label: "label" } } };
    }
    const path = ctx.resolvePath(params.path!);
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw dataError(path, "file or folder not found", undefined, "paths are relative to the pipeline file");
    }
    if (!isDir) return { out: { type: "table", columns: [{ name: "text", dtype: "string", values: lines(path) }], roles: { text: "text" } } };
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
