import { readFileSync, statSync } from "node:fs";
import { relative, sep } from "node:path";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import type { Table } from "../artifacts/table.js";
import { listFiles } from "../project/paths.js";
import { dataError, decode, fileParams, LOADER, readText } from "../data/read.js";

export const loadText = defineKind({
  name: "load.text",
  // 2: skipEmpty acts on folder trees too (empty files are skipped).
  version: 2,
  doc: "Reads text examples: one per line from a file, one per line from labelled files ({label: path}), or one per file from a folder tree whose first-level folders are the labels.",
  params: {
    ...fileParams,
    path: p
      .string(
        "A text file (one example per line) or a folder (label/.../file), relative to the pipeline.",
      )
      .optional(),
    files: p
      .map(p.string("path"), "Labelled text files, one example per line: {label: path, ...}.")
      .optional(),
    skipEmpty: p.bool("Skip empty lines (in folder trees: empty files).").default(true),
    separator: p
      .string(
        "File mode: split each line at the first occurrence of this into two columns (see `columns`).",
      )
      .optional(),
    columns: p
      .list(
        p.string("column"),
        "With separator: the two columns' names (the first is the text column).",
        { minItems: 2 },
      )
      .default(["text", "target"]),
    include: p
      .string(
        'Folder trees: read only files whose name matches this pattern (* and ?), e.g. "*.txt".',
      )
      .optional(),
    labels: p
      .map(
        p.string("label"),
        'Folder trees: first-level folder -> label, e.g. {"easy-ham-1": "ham"}; folders not named are an error.',
      )
      .optional(),
  },
  ...LOADER,
  check: (params) => [
    ...((params.path === undefined) === (params.files === undefined)
      ? [
          {
            message: "give exactly one of `path` and `files`",
            hint: 'load.text(path: "reviews/") or load.text(files: {pos: "pos.txt", neg: "neg.txt"})',
          },
        ]
      : []),
    ...(params.separator === undefined && params.columns.join("\0") !== "text\0target"
      ? [
          {
            param: "columns",
            message: "columns names the two parts of a line cut at `separator`, and there is none",
          },
        ]
      : []),
    ...(params.files !== undefined && params.separator !== undefined
      ? [
          {
            param: "separator",
            message: "separator cuts the lines of one file (path), not of labelled files",
          },
        ]
      : []),
    ...(params.files !== undefined && (params.include !== undefined || params.labels !== undefined)
      ? [
          {
            param: params.include !== undefined ? "include" : "labels",
            message: "include and labels are for folder trees (path), not labelled files",
          },
        ]
      : []),
  ],
  files: (params) => (params.files ? Object.values(params.files) : [params.path!]),
  run(ctx, _inputs, params): { out: Table } {
    const lines = (file: string) => {
      const all = readText(file, params.encoding).split(/\r?\n/);
      return params.skipEmpty
        ? all.filter((l) => l.trim() !== "")
        : all.slice(0, all.at(-1) === "" ? -1 : undefined);
    };
    if (params.files) {
      const texts: string[] = [];
      const labels: string[] = [];
      for (const [label, file] of Object.entries(params.files).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      )) {
        for (const line of lines(ctx.resolvePath(file))) texts.push(line), labels.push(label);
      }
      return {
        out: {
          type: "table",
          columns: [
            { name: "text", dtype: "string", values: texts },
            { name: "label", dtype: "string", values: labels },
          ],
          roles: { text: "text", label: "label" },
        },
      };
    }
    const path = ctx.resolvePath(params.path!);
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw dataError(
        path,
        "file or folder not found",
        undefined,
        "paths are relative to the pipeline file",
      );
    }
    if (!isDir && (params.include !== undefined || params.labels !== undefined))
      throw dataError(
        path,
        `${params.include !== undefined ? "include" : "labels"} is for folder trees, and this is a file`,
        undefined,
        "remove it, or give the folder",
      );
    if (isDir && params.separator !== undefined)
      throw dataError(path, "separator cuts the lines of a file, and this is a folder tree");
    if (!isDir) {
      if (params.separator === undefined)
        return {
          out: {
            type: "table",
            columns: [{ name: "text", dtype: "string", values: lines(path) }],
            roles: { text: "text" },
          },
        };
      const [first, second] = params.columns as [string, string];
      const a: string[] = [];
      const b: string[] = [];
      lines(path).forEach((line, i) => {
        const at = line.indexOf(params.separator!);
        if (at < 0)
          throw dataError(
            path,
            `line ${i + 1} has no ${JSON.stringify(params.separator)} to split at`,
            { text: readText(path, params.encoding), line: i + 1 },
          );
        a.push(line.slice(0, at));
        b.push(line.slice(at + params.separator!.length).trim());
      });
      return {
        out: {
          type: "table",
          columns: [
            { name: first, dtype: "string", values: a },
            { name: second, dtype: "string", values: b },
          ],
          roles: { text: first },
        },
      };
    }
    const pattern = params.include ? globRegExp(params.include) : undefined;
    const files = listFiles(path).filter(
      (f) => !pattern || pattern.test(f.slice(f.lastIndexOf(sep) + 1)),
    );
    const texts: string[] = [];
    const labels: string[] = [];
    const names: string[] = [];
    files.forEach((f, i) => {
      const text = decode(readFileSync(f), f, params.encoding);
      if (params.skipEmpty && text.trim() === "") return;
      const rel = relative(path, f);
      const parts = rel.split(sep);
      if (parts.length < 2)
        throw dataError(
          f,
          "a file at the top of a labelled folder tree has no label",
          undefined,
          "put each example file inside a folder named for its label",
        );
      texts.push(text);
      const label = params.labels ? params.labels[parts[0]!] : parts[0]!;
      if (label === undefined)
        throw dataError(
          f,
          `folder "${parts[0]}" has no entry in \`labels\``,
          undefined,
          `add "${parts[0]}": "<label>" to labels`,
        );
      labels.push(label);
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

/** A file-name pattern with * and ? as a regular expression. */
function globRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
}
