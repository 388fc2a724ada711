import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DiagnosticError } from "../../src/core/diagnostic.js";
import { ROOT, tempDir, writeFiles } from "../helpers.js";
import { col, runKind } from "./helpers.js";

async function dataError(p: Promise<unknown>): Promise<{
  message: string;
  line?: number | undefined;
  column?: number | undefined;
  hint?: string | undefined;
  file?: string | undefined;
}> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DiagnosticError, String(e));
    const d = e.diagnostics[0]!;
    return {
      message: d.message,
      line: d.span?.start.line,
      column: d.span?.start.column,
      hint: d.hint,
      file: d.file,
    };
  }
  assert.fail("expected a data error");
}

describe("load.csv", () => {
  const dir = tempDir();
  writeFiles(dir, {
    "ok.csv": '\uFEFFname,label,score\n"Smith, J",a,1.5\nBo,b,\n\nAl,a,-2e3\n',
    "ragged.csv": "a,b\n1,2\n3\n",
    "dup.csv": "a,a\n1,2\n",
    "empty.csv": "",
    "quote.csv": 'a,b\n1,"2\n',
    "two-boms.csv": "\uFEFF\uFEFFname,label\nBo,b\n",
  });
  /** A file of this folder with its `name` column as text and `label` as the label. */
  const namesAndLabels = (path: string) =>
    runKind("load.csv", dir, {}, { path, text: "name", label: "label" });

  it("reads a header, quoted fields and a BOM; infers numeric columns; missing numbers are NaN", async () => {
    const { out } = await namesAndLabels("ok.csv");
    assert.deepEqual(
      out!.columns.map((c) => `${c.name}:${c.dtype}`),
      ["name:string", "label:string", "score:number"],
    );
    assert.deepEqual(col(out!, "name"), ["Smith, J", "Bo", "Al"]);
    assert.deepEqual(col(out!, "score"), [1.5, NaN, -2000]);
    assert.deepEqual(out!.roles, { text: "name", label: "label" });
  });

  it("a file that starts with two BOMs loses both, as it always did (decoding took one, the parser one)", async () => {
    const { out } = await namesAndLabels("two-boms.csv");
    assert.deepEqual(
      out!.columns.map((c) => c.name),
      ["name", "label"],
    );
  });

  it("selects columns in order, always keeping the text and label columns", async () => {
    const { out } = await runKind(
      "load.csv",
      dir,
      {},
      { path: "ok.csv", columns: ["score"], label: "label" },
    );
    assert.deepEqual(
      out!.columns.map((c) => c.name),
      ["score", "label"],
    );
  });

  it("forced types override inference", async () => {
    const { out } = await runKind(
      "load.csv",
      dir,
      {},
      { path: "ok.csv", types: { score: "string" } },
    );
    assert.deepEqual(col(out!, "score"), ["1.5", "", "-2e3"]);
  });

  it("names a missing column, with a suggestion", async () => {
    const e = await dataError(runKind("load.csv", dir, {}, { path: "ok.csv", label: "labl" }));
    assert.match(e.message, /no column "labl" \(columns: name, label, score\)/);
    assert.equal(e.hint, 'did you mean "label"?');
  });

  it("a bad row gives its line number and the row itself", async () => {
    const e = await dataError(runKind("load.csv", dir, {}, { path: "ragged.csv" }));
    assert.match(e.message, /Invalid Record Length: expect 2, got 1/);
    assert.equal(e.line, 3);
    assert.match(e.file!, /ragged\.csv$/);
    assert.match(e.hint!, /as many fields as the header/);
  });

  it("an unclosed quote, a duplicate header, an empty file and a missing file are errors", async () => {
    assert.match(
      (await dataError(runKind("load.csv", dir, {}, { path: "quote.csv" }))).message,
      /a quoted field is never closed/,
    );
    assert.match(
      (await dataError(runKind("load.csv", dir, {}, { path: "dup.csv" }))).message,
      /column "a" appears twice/,
    );
    assert.match(
      (await dataError(runKind("load.csv", dir, {}, { path: "empty.csv" }))).message,
      /the file is empty/,
    );
    const missing = await dataError(runKind("load.csv", dir, {}, { path: "nope.csv" }));
    assert.equal(missing.message, "file not found");
  });

  it("invalid UTF-8 is reported with its line, and latin1 reads it", async () => {
    writeFileSync(
      join(dir, "latin.csv"),
      Buffer.concat([Buffer.from("name\nok\ncaf"), Buffer.from([0xe9]), Buffer.from("\n")]),
    );
    const e = await dataError(runKind("load.csv", dir, {}, { path: "latin.csv" }));
    assert.equal(e.message, "invalid UTF-8 on line 3");
    assert.match(e.hint!, /latin1/);
    const { out } = await runKind("load.csv", dir, {}, { path: "latin.csv", encoding: "latin1" });
    assert.deepEqual(col(out!, "name"), ["ok", "café"]);
  });

  it("reads files from installed packages with npm:", async () => {
    const { out } = await runKind(
      "load.csv",
      ROOT,
      {},
      { path: "npm:vega-datasets/data/seattle-weather.csv", label: "weather" },
    );
    assert.equal(col(out!, "date").length, 1461);
  });
});

describe("load.jsonl", () => {
  const dir = tempDir();
  writeFiles(dir, {
    "ok.jsonl": '{"text": "hi", "label": "a", "n": 1}\n\n{"text": "yo", "extra": [1]}\n',
    "bad.jsonl": '{"text": "hi"}\n{"text": oops}\n',
    "arr.jsonl": "[1, 2]\n",
  });

  it("reads objects; columns are the union of keys in first-seen order", async () => {
    const { out } = await runKind("load.jsonl", dir, {}, { path: "ok.jsonl", text: "text" });
    assert.deepEqual(
      out!.columns.map((c) => c.name),
      ["text", "label", "n", "extra"],
    );
    assert.deepEqual(col(out!, "label"), ["a", ""]);
    assert.deepEqual(col(out!, "n"), [1, NaN]);
    assert.deepEqual(col(out!, "extra"), ["", "[1]"]);
  });

  it("points at the bad character of a bad line", async () => {
    const e = await dataError(runKind("load.jsonl", dir, {}, { path: "bad.jsonl" }));
    assert.equal(e.message, "line 2 is not valid JSON: invalid symbol");
    assert.equal(e.line, 2);
    assert.equal(e.column, 10);
  });

  it("refuses lines that are not objects", async () => {
    assert.match(
      (await dataError(runKind("load.jsonl", dir, {}, { path: "arr.jsonl" }))).message,
      /line 1 is not a JSON object/,
    );
  });
});

describe("load.text", () => {
  const dir = tempDir();
  writeFiles(dir, {
    "lines.txt": "one\n\ntwo\r\nthree\n",
    "tree/spam/b.txt": "buy now",
    "tree/spam/a.txt": "cheap",
    "tree/ham/x/deep.txt": "hello",
    "tree/.hidden/z": "no",
  });

  it("one example per line, skipping empty ones", async () => {
    const { out } = await runKind("load.text", dir, {}, { path: "lines.txt" });
    assert.deepEqual(col(out!, "text"), ["one", "two", "three"]);
  });

  it("one example per file in a labelled folder tree, in a stable order", async () => {
    const { out } = await runKind("load.text", dir, {}, { path: "tree" });
    assert.deepEqual(col(out!, "label"), ["ham", "spam", "spam"]);
    assert.deepEqual(col(out!, "file"), ["ham/x/deep.txt", "spam/a.txt", "spam/b.txt"]);
    assert.deepEqual(col(out!, "text"), ["hello", "cheap", "buy now"]);
    assert.deepEqual(out!.roles, { text: "text", label: "label" });
  });

  it("a file at the top of a tree has no label", async () => {
    mkdirSync(join(dir, "flat"));
    writeFileSync(join(dir, "flat", "x.txt"), "x");
    assert.match(
      (await dataError(runKind("load.text", dir, {}, { path: "flat" }))).message,
      /has no label/,
    );
  });
});
