import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { grammarDiagramHtml } from "./diagram.js";
import { grammarEbnf } from "./ebnf.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("grammar documents", () => {
  it("rnnp.ebnf is what the parser generates (run `npm run grammar` after changing the parser)", () => {
    assert.equal(readFileSync(join(here, "rnnp.ebnf"), "utf8"), grammarEbnf());
  });
  it("diagram.html is what the parser generates, and needs no network", () => {
    const html = readFileSync(join(here, "diagram.html"), "utf8");
    assert.equal(html, grammarDiagramHtml());
    assert.doesNotMatch(html, /<script src=|<link rel=|https?:\/\/unpkg/);
    for (const rule of ["pipeline", "stageDecl", "invocation", "value", "reference"])
      assert.match(html, new RegExp(`"name": "${rule}"`));
  });
  it("the EBNF has one production per parser rule", () => {
    const ebnf = grammarEbnf();
    for (const rule of [
      "pipeline",
      "item",
      "setting",
      "paramsBlock",
      "stageDecl",
      "invocation",
      "block",
      "argumentList",
      "argument",
      "value",
      "term",
      "factor",
      "atom",
      "parenthesized",
      "list",
      "object",
      "reference",
    ]) {
      assert.match(ebnf, new RegExp(`^${rule} +::= `, "m"), rule);
    }
  });
});
