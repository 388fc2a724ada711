import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lex } from "./lexer.js";
import { parser, RnnpParser } from "./parser.js";

function parseAst(text: string) {
  parser.begin(lex(text).tokens, "t.rnnp");
  const ast = parser.pipeline();
  return { ast, errors: parser.errors };
}

describe("parser", () => {
  it("passes Chevrotain's grammar validations (ambiguity, left recursion, ...)", () => {
    assert.doesNotThrow(() => new RnnpParser({ validate: true }));
  });
  it("accepts every construct of the language", () => {
    const { errors } = parseAst(`pipeline p {
      seed 7
      params { a = 1, b = "s" c = [1, 2,] d = {x: 1, "y z": true} }
      stage s = load.csv(path: "f", columns: ["a"], types: {a: "number"})
      stage t = clean(s, lowercase: true,)
      stage m = model(t) { lstm(units: params.a) bidirectional(merge: "concat") { gru(units: 2) }, dense(units: 2) }
      stage f = train(m, t.train, optimizer: adam(lr: 1e-3), flag: false)
      stage w = window(t, length: params.a * 2 - (1 + -params.a) / 4, n: -3)
    }`);
    assert.deepEqual(errors, []);
  });
  it("builds the syntax tree directly, one item per declaration", () => {
    const { ast } = parseAst("pipeline p { seed 1 stage a = head(b, n: 1) }");
    assert.deepEqual(
      ast?.items.map((i) => i.type),
      ["setting", "stage"],
    );
  });
  it("recovers and reports several errors in one pass", () => {
    const { errors } = parseAst(
      "pipeline p {\n stage a = head(b n: 1)\n stage = x\n stage c = head(d, n: ]) \n}",
    );
    assert.ok(errors.length >= 2, `got ${errors.length}`);
  });
  it("rejects input after the pipeline", () => {
    const { errors } = parseAst("pipeline p { } stage x = y");
    assert.equal(errors[0]?.name, "NotAllInputParsedException");
  });
});
