import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DiagnosticError, type Diagnostic } from "../../src/core/diagnostic.js";
import { renderDiagnostic } from "../../src/core/render.js";
import { nearestName } from "../../src/data/read.js";
import { tempDir, writeFiles } from "../helpers.js";
import { col, runKind } from "./helpers.js";

/** The diagnostic a failing load gives. */
async function failure(p: Promise<unknown>): Promise<Diagnostic> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DiagnosticError, String(e));
    return e.diagnostics[0]!;
  }
  assert.fail("expected a data error");
}

const at = (d: Diagnostic) => `${d.span?.start.line}:${d.span?.start.column}`;

/** Issue 10, defect 16: data diagnostics point to the right place, and echo a bounded amount. */
describe("data diagnostics point to the place", () => {
  const dir = tempDir();
  const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${from + i},${i}`);
  writeFiles(dir, {
    "num.csv": `${["a,b", ...rows(18), "7,x", ...rows(5)].join("\n")}\n`,
    "multi.csv": 'a,b\n1,"two\nlines"\n3,oops\n',
    "quote.csv": `${["a,b", ...rows(28), '"unclosed,1', ...rows(20)].join("\n")}\n`,
    "empty.jsonl": "",
    "blank.jsonl": "\n\n",
    "huge.csv": `a,b\n1,${"9".repeat(100_000)}\n`,
    "huge.jsonl": `{"a": 1}\n{"a": ${"9".repeat(100_000)}}\n`,
    "jsonl.jsonl": '{"a": 1, "b": 2}\n\n{"b": 3, "a": "x"}\n',
    "header.csv": "a,b\n",
    "wide.csv": `a,${"h".repeat(3 * 2 ** 20)}\n1,2\n`,
    "sub/x.csv": "a\n1\n",
  });

  it("a bad number: the file's line and column, not the row index", async () => {
    const d = await failure(
      runKind("load.csv", dir, {}, { path: "num.csv", types: { b: "number" } }),
    );
    assert.equal(d.message, 'column "b" is numeric, but line 20 holds "x"');
    assert.equal(at(d), "20:3");
    const multi = await failure(
      runKind("load.csv", dir, {}, { path: "multi.csv", types: { b: "number" } }),
    );
    assert.equal(at(multi), "2:3", "a quoted field over two lines is a cell on line 2");
    const second = await failure(
      runKind("load.csv", dir, {}, { path: "multi.csv", types: { a: "string", b: "number" } }),
    );
    assert.equal(second.message, 'column "b" is numeric, but line 2 holds "two\\nlines"');
  });

  it("JSON Lines: a bad value points at it, blank lines counted", async () => {
    const d = await failure(
      runKind("load.jsonl", dir, {}, { path: "jsonl.jsonl", types: { a: "number" } }),
    );
    assert.equal(d.message, 'column "a" is numeric, but line 3 holds "x"');
    assert.equal(at(d), "3:15");
  });

  it("an unclosed quote is reported where it opens", async () => {
    const d = await failure(runKind("load.csv", dir, {}, { path: "quote.csv" }));
    assert.equal(d.message, "a quoted field is never closed");
    assert.equal(at(d), "30:1");
  });

  it("a record longer than load.csv reads is refused at once, at its line, with the way out", async () => {
    const d = await failure(runKind("load.csv", dir, {}, { path: "wide.csv" }));
    assert.equal(
      d.message,
      "a record is longer than 1048576 characters (1 MiB), the most load.csv reads",
    );
    assert.equal(d.span?.start.line, 1);
    assert.match(d.hint!, /load\.text with one file per document/);
  });

  it("a folder given as a file names the folder", async () => {
    const d = await failure(runKind("load.csv", dir, {}, { path: "sub" }));
    assert.match(d.message, /sub is a folder, not a file$/);
    assert.match(d.file!, /sub$/);
    assert.match(d.hint!, /load\.text/);
  });

  it("an empty JSON Lines file says so, not that a column is missing", async () => {
    for (const path of ["empty.jsonl", "blank.jsonl"]) {
      const d = await failure(runKind("load.jsonl", dir, {}, { path, label: "label" }));
      assert.equal(d.message, "the file holds no JSON objects");
      assert.match(d.hint!, /one object per line/);
    }
    const d = await failure(runKind("load.csv", dir, {}, { path: "header.csv", label: "b" }));
    assert.equal(d.message, "the file has a header but no rows");
  });

  it("a 100,000-digit number is refused, and echoed in a few characters", async () => {
    const csv = await failure(runKind("load.csv", dir, {}, { path: "huge.csv" }));
    assert.equal(
      csv.message,
      'column "b": 999999999999999999999999... (100000 characters) is too large for a number',
    );
    assert.equal(at(csv), "2:3");
    const jsonl = await failure(runKind("load.jsonl", dir, {}, { path: "huge.jsonl" }));
    assert.equal(jsonl.message, '"a" on line 2 is too large for a number');
    assert.equal(at(jsonl), "2:7");
  });
});

/** Issue 10, defect 5 (data): what is echoed and compared is bounded. */
describe("huge inputs give bounded diagnostics", () => {
  it("a broken 5 MB JSON line renders in a few hundred characters, around the column", async () => {
    const dir = tempDir();
    writeFiles(dir, { "big.jsonl": `{"a": 1}\n{"a": "${"x".repeat(5_000_000)}\n` });
    const d = await failure(runKind("load.jsonl", dir, {}, { path: "big.jsonl" }));
    const text = renderDiagnostic(d, {
      sources: new Map([[d.file!, `{"a": 1}\n{"a": "${"x".repeat(5_000_000)}\n`]]),
    });
    assert.ok(text.length < 600, `rendered ${text.length} characters`);
    assert.match(text, /2 \| \{"a": "x+\.\.\.\n/);
  });

  it("a missing column among huge names: a bounded message and a bounded did-you-mean", async () => {
    const dir = tempDir();
    writeFiles(dir, {
      "wide.csv": `labl,${"b".repeat(500_000)},${Array.from({ length: 30 }, (_, i) => `c${i}`).join(",")}\n1,2,${Array(30).fill(0).join(",")}\n`,
    });
    const d = await failure(runKind("load.csv", dir, {}, { path: "wide.csv", label: "label" }));
    assert.ok(d.message.length < 400, d.message);
    assert.match(d.message, /bbbb\.\.\. \(500000 characters\), c0, .*\(20 more\)\)$/);
    assert.equal(d.hint, 'did you mean "labl"?');
    assert.equal(
      nearestName("x".repeat(300), ["x".repeat(300)]),
      undefined,
      "no search on huge names",
    );
    const many = Array.from({ length: 100_000 }, (_, i) => `col${i}`);
    const t = performance.now();
    assert.equal(nearestName("col9999x", many), "col9999");
    assert.ok(performance.now() - t < 5000);
  });
});

describe("a declared time column", () => {
  const dir = tempDir();
  writeFiles(dir, {
    "months.csv": "month,v\n2000-01,1\n2000-02,2\n2000-03,3\n",
    "names.csv": "d,v\nJan 1 2000,1\nFeb 1 2000,2\n1 March 2000,3\n",
    "stamps.jsonl":
      '{"t": "2000-01-01T00:00:00Z", "v": 1}\n{"t": "2000-01-01T02:00:00+01:00", "v": 2}\n{"t": "2000-01-01 02:30", "v": 3}\n',
    "bad.csv": "d,v\n2000-01-01,1\n2000-02-30,2\n",
    "unsorted.csv": "d,v\n2000-01-01,1\n2000-01-03,2\n2000-01-02,3\n",
    "dup.csv": "d,v\n2000-01-01,1\n2000-01-01,2\n",
    "series.csv": "s,d,v\na,2000-01,1\na,2000-02,2\nb,2000-01,3\nb,2000-02,4\n",
  });

  it("parses ISO months, dates with month names and date-times (UTC unless a zone is given)", async () => {
    const m = await runKind("load.csv", dir, {}, { path: "months.csv", time: "month" });
    assert.deepEqual(col(m.out!, "month"), [
      Date.UTC(2000, 0),
      Date.UTC(2000, 1),
      Date.UTC(2000, 2),
    ]);
    assert.deepEqual(m.out!.roles, { time: "month" });
    assert.deepEqual(Array.from(m.out!.lines!), [2, 3, 4]);
    const n = await runKind("load.csv", dir, {}, { path: "names.csv", time: "d" });
    assert.deepEqual(col(n.out!, "d"), [
      Date.UTC(2000, 0, 1),
      Date.UTC(2000, 1, 1),
      Date.UTC(2000, 2, 1),
    ]);
    const s = await runKind("load.jsonl", dir, {}, { path: "stamps.jsonl", time: "t" });
    assert.deepEqual(col(s.out!, "t"), [
      Date.UTC(2000, 0, 1),
      Date.UTC(2000, 0, 1, 1, 0),
      Date.UTC(2000, 0, 1, 2, 30),
    ]);
  });

  it("a value that is not a time, an unsorted time and a repeated time are errors at their line", async () => {
    const bad = await failure(runKind("load.csv", dir, {}, { path: "bad.csv", time: "d" }));
    assert.equal(bad.message, 'time column "d": "2000-02-30" is not a date or time');
    assert.equal(at(bad), "3:1");
    const unsorted = await failure(
      runKind("load.csv", dir, {}, { path: "unsorted.csv", time: "d" }),
    );
    assert.equal(
      unsorted.message,
      "time 2000-01-02 comes before 2000-01-03 on line 3: times must increase",
    );
    assert.equal(at(unsorted), "4:1");
    assert.match(unsorted.hint!, /sort the file by time/);
    const dup = await failure(runKind("load.csv", dir, {}, { path: "dup.csv", time: "d" }));
    assert.equal(dup.message, "time 2000-01-01 repeats line 2");
    assert.equal(at(dup), "3:1");
  });

  it("times increase within each series", async () => {
    const ok = await runKind("load.csv", dir, {}, { path: "series.csv", time: "d", series: "s" });
    assert.deepEqual(ok.out!.roles, { time: "d", series: "s" });
    const e = await failure(runKind("load.csv", dir, {}, { path: "series.csv", time: "d" }));
    assert.equal(e.message, "time 2000-01 comes before 2000-02 on line 3: times must increase");
    assert.match(e.hint!, /series:/);
  });
});
