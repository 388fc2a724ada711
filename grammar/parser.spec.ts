import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lex } from "./lexer.js";
import { parser, RnnpParser } from "./parser.js";

function parseCst(text: string) {
  parser.input = lex(text).tokens;
  const cst = parser.pipeline();
  return { cst, errors: parser.errors };
}

describe("parser", () => {
  it("passes Chevrotain's grammar validations (ambiguity, left recursion, ...)", () => {
    assert.doesNotThrow(() => new RnnpParser({ validate: true }));
  });
  it("accepts every construct of the language", () => {
    const { errors } = parseCst(`pipeline p {
      seed 7
      params { a = 1, b = "s" c = [1, 2,] d = {x: 1, "y z": true} }
      stage s = load.csv(path: "f", columns: ["a"], types: {a: "number"})
      stage t = clean(s, lowercase: true,)
      stage m = model(t) { lstm(units: params.a) bidirectional(merge: "concat") { gru(units: 2) }, dense(units: 2) }
      stage f = train(m, t.train, optimizer: adam(lr: 1e-3), flag: false)
    }`);
    assert.deepEqual(errors, []);
  });
  it("builds a CST with one item per declaration", () => {
    const { cst } = parseCst("pipeline p { seed 1 stage a = head(b, n: 1) }");
    assert.equal(cst.children.item!.length, 2);
  });
  it("recovers and reports several errors in one pass", () => {
    const { errors } = parseCst(
      "pipeline p {\n stage a = head(b n: 1)\n stage = x\n stage c = head(d, n: ]) \n}",
    );
    assert.ok(errors.length >= 2, `got ${errors.length}`);
  });
  it("rejects input after the pipeline", () => {
    const { errors } = parseCst("pipeline p { } stage x = y");
    assert.equal(errors[0]?.name, "NotAllInputParsedException");
  });
});
