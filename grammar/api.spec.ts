import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "./api.js";

const codes = (text: string) =>
  parse(text, "t.rnnp").diagnostics.map(
    (d) => `${d.span?.start.line}:${d.span?.start.column} ${d.message}`,
  );

describe("api.parse", () => {
  it("returns an AST with values decoded and spans set", () => {
    const r = parse(
      'pipeline p {\n  params { lr = 1e-3 }\n  stage s = f(x, n: -2, s: "a\\n", l: [true], o: {k: 1}, c: adam(lr: params.lr))\n}',
      "t.rnnp",
    );
    assert.deepEqual(r.diagnostics, []);
    const stage = r.ast!.items[1]!;
    assert.equal(stage.type, "stage");
    if (stage.type !== "stage") return;
    const args = stage.body.args!;
    assert.equal(args[0]!.value.type, "ref");
    assert.deepEqual(
      args.map((a) => a.name?.text),
      [undefined, "n", "s", "l", "o", "c"],
    );
    assert.equal((args[1]!.value as { value: number }).value, -2);
    assert.equal((args[2]!.value as { value: string }).value, "a\n");
    const call = args[5]!.value;
    assert.equal(call.type, "call");
    assert.equal(stage.name.span.start.line, 3);
    assert.equal(stage.name.span.start.column, 9);
  });
  it("keeps comments with their positions", () => {
    const r = parse("# a\npipeline p { // b\n}", "t.rnnp");
    assert.deepEqual(
      r.comments.map((c) => [c.text, c.span.start.line]),
      [
        ["# a", 1],
        ["// b", 2],
      ],
    );
  });
  it("reports a missing comma precisely, with a hint", () => {
    const r = parse("pipeline p { stage s = f(a: 1 b: 2) }", "t.rnnp");
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0]!;
    assert.equal(d.message, "missing ',' between arguments");
    assert.equal(d.span!.start.column, 31);
    assert.match(d.hint!, /commas/);
  });
  it("explains `=` in arguments and `:` in params", () => {
    assert.match(
      parse("pipeline p { stage s = f(a = 1) }", "t").diagnostics[0]!.hint!,
      /name: value/,
    );
    assert.match(
      parse("pipeline p { params { a: 1 } }", "t").diagnostics[0]!.hint!,
      /name = value/,
    );
  });
  it("suggests `stage` when a declaration lacks it", () => {
    assert.match(parse("pipeline p { raw = f() }", "t").diagnostics[0]!.hint!, /stage raw = /);
  });
  it("reports an unclosed block at the end of the file", () => {
    const d = parse("pipeline p {\n stage s = f(a: 1)\n", "t").diagnostics[0]!;
    assert.match(d.message, /end of file/);
    assert.match(d.hint!, /not closed/);
  });
  it("names single-quoted and unterminated strings", () => {
    assert.deepEqual(codes("pipeline p { seed 'x' }"), ["1:19 single-quoted string"]);
    assert.match(codes('pipeline p { seed "x\n}')[0]!, /unterminated string/);
  });
  it("reports one error per line, several lines in one pass", () => {
    const ds = codes(
      "pipeline p {\n stage a = f(x: ])\n stage b = g(y = 2, z = 3)\n stage c = h(w: 1)\n}",
    );
    assert.equal(ds.length, 2);
    assert.match(ds[0]!, /^2:/);
    assert.match(ds[1]!, /^3:/);
  });
});
