import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";

const PIPELINE = `pipeline p {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.6, val: 0.2, test: 0.2)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 6)
  stage net = model(seqs.train) {
    embedding(dim: 4)
    lstm(units: 8, returnSequences: true)
    lstm(units: 4)
    dense(units: 2, activation: "softmax")
  }
}
`;

describe("show NET", () => {
  it("prints a Keras-style summary: names as trained, type, output shape, parameters, total", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    const r = await rig.rnnp(["show", "net", "p.rnnp"]);
    assert.equal(r.code, 0, r.stderr);
    const table = r.stdout.slice(r.stdout.indexOf("  Layer (type)"));
    const vocabulary =
      Number(/embedding_1 \(embedding\(4\)\) +\S+ \S+ \S+ +(\d+)/.exec(table)?.[1]) / 4;
    assert.ok(Number.isInteger(vocabulary) && vocabulary > 5, table);
    const lstm1 = 4 * (8 * (4 + 8) + 8);
    const lstm2 = 4 * (4 * (8 + 4) + 4);
    const total = vocabulary * 4 + lstm1 + lstm2 + 10;
    assert.equal(
      table,
      [
        "  Layer (type)                Output shape      Params",
        `  embedding_1 (embedding(4))  [batch, time, 4]  ${String(vocabulary * 4).padStart(6)}`,
        `  lstm_2 (lstm(8))            [batch, time, 8]  ${String(lstm1).padStart(6)}`,
        `  lstm_3 (lstm(4))            [batch, 4]        ${String(lstm2).padStart(6)}`,
        "  dense_4 (dense(2))          [batch, 2]            10",
        `  Total: ${total} parameters`,
        "",
      ].join("\n"),
    );
    // The total agrees with the built model's own count.
    assert.match(
      r.stdout,
      new RegExp(`model, ${total} parameters: embedding\\(4\\) -> lstm\\(8\\)`),
    );
  });
});
