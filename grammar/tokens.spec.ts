import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lex } from "./lexer.js";
import * as T from "./tokens.js";

const match = (tt: typeof T.Identifier, text: string) => {
  const re = tt.PATTERN as RegExp;
  const m = new RegExp(`^(?:${re.source})`).exec(text);
  return m?.[0];
};

describe("tokens", () => {
  it("numbers: integers, decimals, exponents; the sign is an operator", () => {
    for (const n of ["0", "42", "0.5", ".5", "1e-3", "2.5E+10", "1.25e2"])
      assert.equal(match(T.NumberLiteral, n), n);
    assert.equal(match(T.NumberLiteral, "1.2.3"), "1.2");
    assert.equal(match(T.NumberLiteral, "-3"), undefined);
  });
  it("strings: double-quoted, single line; escapes are checked when decoded, not by the token", () => {
    assert.equal(match(T.StringLiteral, '"a \\"b\\" \\n \\u00e9"'), '"a \\"b\\" \\n \\u00e9"');
    assert.equal(match(T.StringLiteral, '"open\nclose"'), undefined);
    assert.equal(match(T.StringLiteral, '"bad \\q"'), '"bad \\q"');
    assert.equal(match(T.StringLiteral, '"tab\there"'), '"tab\there"');
  });
  it("operators: + - * /, and // is still a comment", () => {
    const r = lex("a-3+b*.5/c // d");
    assert.deepEqual(
      r.tokens.map((t) => `${t.tokenType.name} ${t.image}`),
      [
        "Identifier a",
        "Minus -",
        "NumberLiteral 3",
        "Plus +",
        "Identifier b",
        "Star *",
        "NumberLiteral .5",
        "Slash /",
        "Identifier c",
      ],
    );
    assert.deepEqual(
      r.comments.map((c) => c.image),
      ["// d"],
    );
  });
  it("comments run to the end of the line, with # or //", () => {
    assert.equal(match(T.Comment, "# hi there\nx"), "# hi there");
    assert.equal(match(T.Comment, "// hi\n"), "// hi");
    assert.equal(T.Comment.GROUP, "comments");
  });
  it("keywords are whole words only", () => {
    assert.equal(match(T.Stage, "stage "), "stage");
    assert.equal(match(T.Stage, "stages"), undefined);
    assert.equal(T.Stage.LONGER_ALT, T.Identifier);
  });
  it("keywords come before identifiers in lexing order", () => {
    const order = T.allTokens.map((t) => t.name);
    for (const k of ["Pipeline", "Stage", "Params", "True", "False"])
      assert.ok(order.indexOf(k) < order.indexOf("Identifier"), k);
  });
});
