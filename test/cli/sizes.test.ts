// Issue 10, defect 8, through the CLI: a model too large is refused before anything runs, rendered
// like any diagnostic (file, line, caret, the count, a hint), and nothing is computed.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { Rig } from "../rig.js";

const PIPELINE = `pipeline p {
  params { units = 8 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage vocab = vocabulary(raw, level: "char")
  stage seqs = encode(raw, vocab, maxLen: 8)
  stage net = model(seqs) {
    embedding(dim: 16)
    lstm(units: params.units)
    dense(units: 2, activation: "softmax")
  }
}
`;
const CSV = "name,label\nann,f\nbob,m\n";

describe("a model too large for rnnp, from the command line", () => {
  it("validate and run refuse it at the layer's line, with the count and a hint; nothing runs", async () => {
    const rig = new Rig().write({ "p.rnnp": PIPELINE, "d.csv": CSV });
    const refused = await rig.rnnp(["validate", "p.rnnp", "-P", "units=10000"]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /error\[too-large\]: this model has 400,700,002 parameters or more \(lstm_2: 400,680,000\), more than rnnp's limit of 100,000,000\n\s+--> p\.rnnp:8:5\n[\s\S]*\n8 \| {5}lstm\(units: params\.units\)\n\s+\| {5}\^+\n\s+= hint: use fewer units or a smaller dim/,
    );
    const run = await rig.rnnp(["run", "p.rnnp", "-P", "units=10000", "--cache", "c"]);
    assert.deepEqual(
      { code: run.code, stdout: run.stdout, stderr: run.stderr },
      { code: 2, stdout: "", stderr: refused.stderr },
    );
    assert.equal(existsSync(rig.path("c")), false, "no cache was even opened");
    const fine = await rig.rnnp(["validate", "p.rnnp", "-P", "units=64"]);
    assert.equal(fine.code, 0, fine.stderr);
  });
});
