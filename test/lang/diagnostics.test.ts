import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkSource } from "../../src/lang/load.js";
import { renderDiagnostic } from "../../src/core/render.js";
import type { Diagnostic } from "../../src/core/diagnostic.js";
import { kinds } from "../../src/kinds/registry.js";

const FILE = "p.rnnp";
const wrap = (body: string) => `pipeline p {\n  seed 1\n${body}\n}\n`;
const BASE = '  stage raw = load.csv(path: "d.csv", text: "name", label: "label")';

function diags(body: string, overrides: string[] = []): Diagnostic[] {
  return checkSource(wrap(body), FILE, overrides).diagnostics;
}

/** The one error the source produces, checked for code, line:col of its caret, and a message fragment. */
function only(
  body: string,
  code: string,
  where: string,
  message: RegExp,
  overrides: string[] = [],
): Diagnostic {
  const ds = diags(body, overrides).filter((d) => d.severity === "error");
  assert.equal(ds.length, 1, ds.map((d) => `${d.code} ${d.message}`).join("\n"));
  const d = ds[0]!;
  assert.equal(d.code, code);
  if (where) assert.equal(`${d.span?.start.line}:${d.span?.start.column}`, where);
  assert.match(d.message, message);
  return d;
}

describe("semantic diagnostics", () => {
  it("a valid pipeline has none", () => {
    assert.deepEqual(diags(`${BASE}\n  stage c = clean(raw, lowercase: true)`), []);
  });

  it("unknown stage kind, with a suggestion", () => {
    const d = only(
      `${BASE}\n  stage c = claen(raw)`,
      "unknown-kind",
      "4:13",
      /unknown stage kind `claen`/,
    );
    assert.equal(d.hint, "did you mean `clean`?");
    assert.match(d.expected!, /load\.csv/);
  });

  it("unknown parameter, with a suggestion", () => {
    const d = only(
      `${BASE}\n  stage c = clean(raw, lowercas: true)`,
      "unknown-param",
      "4:24",
      /no parameter or input `lowercas`/,
    );
    assert.equal(d.hint, "did you mean `lowercase`?");
  });

  it("missing required parameter", () => {
    const d = only(
      '  stage raw = load.csv(text: "x")',
      "missing-param",
      "3:15",
      /load\.csv needs `path`/,
    );
    assert.match(d.expected!, /path: a string/);
  });

  it("wrongly-typed parameter: number for a bool, string for a number, enum value", () => {
    only(
      `${BASE}\n  stage c = clean(raw, lowercase: 1)`,
      "param-type",
      "4:35",
      /`lowercase` must be true or false, not the number 1/,
    );
    const d = only(
      `${BASE}\n  stage c = head(raw, n: "10")`,
      "param-type",
      "4:26",
      /`n` must be an integer >= 0, not the string "10"/,
    );
    assert.equal(d.hint, "write 10 without quotes");
    const e = only(
      `${BASE}\n  stage c = clean(raw, scale: "zscor")`,
      "param-type",
      "4:31",
      /one of "none", "zscore", "minmax"/,
    );
    assert.equal(e.hint, 'did you mean "zscore"?');
    only(`${BASE}\n  stage c = head(raw, n: 2.5)`, "param-type", "4:26", /must be an integer/);
    only(`${BASE}\n  stage c = sample(raw, fraction: 2)`, "param-type", "4:35", /must be <= 1/);
  });

  it("a bare word where a string is expected says to quote it", () => {
    const d = only(
      `${BASE}\n  stage c = clean(raw, scale: zscore)`,
      "undefined-ref",
      "4:31",
      /`zscore` is not defined/,
    );
    assert.equal(d.hint, 'strings are quoted: write "zscore"');
  });

  it("undefined stage reference, with a suggestion", () => {
    const d = only(
      `${BASE}\n  stage c = clean(rwa)`,
      "undefined-ref",
      "4:19",
      /no stage named `rwa`/,
    );
    assert.equal(d.hint, "did you mean `raw`?");
  });

  it("unknown output name, with a suggestion", () => {
    const d = only(
      `${BASE}\n  stage parts = split(raw)\n  stage c = clean(parts.trian)`,
      "unknown-output",
      "5:19",
      /stage `parts` has no output `trian`/,
    );
    assert.equal(d.hint, "did you mean `train`?");
    assert.match(d.expected!, /parts\.train, parts\.val, parts\.test/);
  });

  it("a multi-output stage where one artifact is needed", () => {
    const d = only(
      `${BASE}\n  stage parts = split(raw)\n  stage again = split(parts)`,
      "ambiguous-output",
      "5:23",
      /has several outputs \(train, val, test\)/,
    );
    assert.match(d.hint!, /parts\.train/);
  });

  it("a whole split is accepted where a bundle is", () => {
    assert.deepEqual(
      diags(
        `${BASE}\n  stage parts = split(raw)\n  stage c = clean(parts)\n  stage h = head(c.test, n: 1)`,
      ),
      [],
    );
  });

  it("duplicate stage names", () => {
    const d = only(
      `${BASE}\n  stage raw = head(raw, n: 1)`,
      "duplicate-stage",
      "4:9",
      /stage `raw` is declared twice/,
    );
    assert.match(d.hint!, /line 3/);
  });

  it("duplicate params and settings", () => {
    only(
      `  params { a = 1, a = 2 }\n${BASE}\n  stage h = head(raw, n: params.a)`,
      "duplicate-param",
      "3:19",
      /param `a` is declared twice/,
    );
    only(`  seed 2\n${BASE}`, "duplicate-setting", "3:3", /`seed` is set twice/);
  });

  it("a cycle, named along its path", () => {
    const d = only(
      `  stage a = head(c, n: 1)\n  stage b = head(a, n: 1)\n  stage c = head(b, n: 1)`,
      "cycle",
      "3:9",
      /stages form a cycle: a -> b -> c -> a/,
    );
    assert.match(d.hint!, /cannot depend on its own output/);
    only("  stage a = head(a, n: 1)", "cycle", "3:9", /a -> a/);
  });

  it("param override naming an unknown param", () => {
    const ds = diags(`  params { units = 2 }\n${BASE}\n  stage h = head(raw, n: params.units)`, [
      "unit=3",
    ]);
    const d = ds.find((x) => x.code === "unknown-override")!;
    assert.match(d.message, /-P unit: the pipeline has no param `unit`/);
    assert.equal(d.hint, "did you mean `units`?");
  });

  it("an override of the wrong type is reported where the param is used", () => {
    const d = only(
      `  params { units = 2 }\n${BASE}\n  stage h = head(raw, n: params.units)`,
      "param-type",
      "5:26",
      /from -P units=abc/,
      ["units=abc"],
    );
    assert.match(d.message, /`n` must be an integer/);
  });

  it("reference to an undeclared param", () => {
    const d = only(
      `  params { units = 2 }\n${BASE}\n  stage h = head(raw, n: params.unit)`,
      "unknown-param-ref",
      "5:33",
      /there is no param `unit`/,
    );
    assert.equal(d.hint, "did you mean `units`?");
  });

  it("unknown setting", () => {
    const d = only(`  sed 3\n${BASE}`, "unknown-setting", "3:3", /unknown setting `sed`/);
    assert.equal(d.hint, "did you mean `seed`?");
  });

  it("inputs: missing, one too many, a value instead of a reference", () => {
    only("  stage c = clean(lowercase: true)", "missing-input", "3:13", /clean needs input `data`/);
    only(
      `${BASE}\n  stage c = clean(raw, raw)`,
      "extra-input",
      "4:24",
      /clean takes 1 input \(data\)/,
    );
    only(
      `${BASE}\n  stage c = clean("raw")`,
      "input-ref",
      "4:19",
      /takes a stage reference, not a value/,
    );
    only(
      `${BASE}\n  stage c = load.csv(raw, path: "x")`,
      "extra-input",
      "4:22",
      /load\.csv takes no inputs/,
    );
  });

  it("a stage reference where a parameter belongs", () => {
    only(
      `${BASE}\n  stage h = head(raw, n: raw)`,
      "param-type",
      "4:26",
      /not a reference to stage `raw`/,
    );
  });

  it("cross-parameter rules of a kind", () => {
    only(
      `${BASE}\n  stage s = split(raw, train: 0.5, val: 0.1, test: 0.1)`,
      "param-rule",
      "4:13",
      /add up to 0\.7/,
    );
    only(
      `${BASE}\n  stage s = sample(raw)`,
      "param-rule",
      "4:13",
      /exactly one of `n` and `fraction`/,
    );
  });

  it("a block given to a kind that takes none", () => {
    only(
      `${BASE}\n  stage h = head(raw, n: 1) { lstm() }`,
      "unexpected-block",
      "4:31",
      /head takes no block/,
    );
  });

  it("a param value cannot refer to a stage (params may refer to params)", () => {
    only(
      `  params { a = raw }\n${BASE}`,
      "param-ref",
      "3:16",
      /param values cannot refer to stages/,
    );
  });

  it("an unused param is a warning, not an error", () => {
    const r = checkSource(wrap(`  params { spare = 1 }\n${BASE}`), FILE);
    assert.ok(r.ir);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.severity, d.code]),
      [["warning", "unused-param"]],
    );
  });

  it("syntax and semantic errors are reported together", () => {
    const ds = diags(`${BASE}\n  stage c = claen(raw)\n  stage d = head(raw n: 1)`);
    assert.deepEqual(ds.map((d) => d.code).sort(), ["syntax", "unknown-kind"]);
  });

  it("renders file:line:col, the source line, a caret under the span, expected and hint", () => {
    const source = wrap(`${BASE}\n  stage c = claen(raw)`);
    const [d] = checkSource(source, FILE).diagnostics;
    const text = renderDiagnostic(d!, { sources: new Map([[FILE, source]]) });
    assert.equal(
      text,
      [
        "error[unknown-kind]: unknown stage kind `claen`",
        "  --> p.rnnp:4:13",
        "  |",
        "4 |   stage c = claen(raw)",
        "  |             ^^^^^",
        `  = expected: a stage kind: ${[...kinds.keys()].join(", ")}`,
        "  = hint: did you mean `clean`?",
      ].join("\n"),
    );
  });
});

describe("end of file", () => {
  const syntax = (source: string) =>
    checkSource(source, FILE, []).diagnostics.filter((d) => d.severity === "error");

  it("an empty file, or one of comments only, is told it holds no pipeline (not an unclosed bracket)", () => {
    for (const source of ["", "\n\n", "// just a note\n"]) {
      const ds = syntax(source);
      assert.equal(ds.length, 1);
      assert.equal(ds[0]!.message, "expected 'pipeline', found end of file");
      assert.equal(ds[0]!.hint, "the file holds no pipeline: write `pipeline NAME { ... }`");
    }
  });

  it("a file cut short is told a bracket is not closed", () => {
    const ds = syntax('pipeline p {\n  stage raw = load.csv(path: "d.csv"');
    assert.equal(ds.length, 1);
    assert.equal(ds[0]!.hint, "a bracket or brace opened earlier is not closed");
  });
});
