import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lex, makeLexer } from "./lexer.js";

describe("lexer", () => {
  it("passes Chevrotain's token validations", () => {
    assert.doesNotThrow(() => makeLexer({ validate: true }));
  });
  it("splits a stage line into tokens with positions", () => {
    const r = lex('stage raw = load.csv(path: "x.csv") # note');
    assert.deepEqual(
      r.tokens.map((t) => t.tokenType.name),
      [
        "Stage",
        "Identifier",
        "Equals",
        "Identifier",
        "Dot",
        "Identifier",
        "LParen",
        "Identifier",
        "Colon",
        "StringLiteral",
        "RParen",
      ],
    );
    assert.equal(r.tokens[1]!.startColumn, 7);
    assert.deepEqual(
      r.comments.map((c) => c.image),
      ["# note"],
    );
    assert.deepEqual(r.errors, []);
  });
  it("tracks lines across newlines", () => {
    const r = lex("pipeline p {\n  seed 1\n}");
    const seed = r.tokens.find((t) => t.image === "seed")!;
    assert.equal(seed.startLine, 2);
    assert.equal(seed.startColumn, 3);
  });
  it("reports characters it does not know, and goes on", () => {
    const r = lex("a $ b ' c");
    assert.equal(r.errors.length, 2);
    assert.deepEqual(
      r.tokens.map((t) => t.image),
      ["a", "b", "c"],
    );
  });
  it("a keyword prefix is an identifier", () => {
    assert.deepEqual(
      lex("pipelines staged paramsX").tokens.map((t) => t.tokenType.name),
      ["Identifier", "Identifier", "Identifier"],
    );
  });
});
