import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rig } from "../rig.js";

/** What a user sees of issue 13 part 1: a verdict per set, the portability table, the shift ranking. */
const names = (n: number, long: boolean) =>
  Array.from({ length: n }, (_, i) => {
    const stem = long
      ? ["annabelle", "evangeline", "bartholomew", "maximilian"][i % 4]!
      : ["ann", "eve", "bob", "max"][i % 4]!;
    return `${stem}${i},${i % 4 < 2 ? "f" : "m"}`;
  });

const rig = new Rig().write({
  "d.csv": `name,label\n${[...names(80, false), ...names(40, true)].join("\n")}\n`,
  "p.rnnp": `pipeline p {
  seed 1
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage short = clean(raw, maxLength: 6)
  stage long = clean(raw, minLength: 9)
  stage parts = split(short, train: 0.6, val: 0.2, test: 0.2, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 6)
  stage other = encode(long, vocab, maxLen: 6)
  stage net = model(seqs.train) {
    embedding(dim: 4, mask: true)
    gru(units: 4)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: 1, batchSize: 16)
  stage report = evaluate(fit, {inDomain: seqs.test, long: other.out})
  stage drift = shift(seqs.train, {inDomain: seqs.test, long: other.out})
}
`,
});

describe("portability in the CLI", () => {
  it("run prints a verdict per set; show prints the table and the ranked shift", async () => {
    const r = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /report \(inDomain\): (beats|does NOT beat) its strongest baseline/);
    assert.match(r.stdout, /report \(long\): (beats|does NOT beat) its strongest baseline/);
    const report = await rig.rnnp(["show", "report"]);
    assert.match(report.stdout, /portability: each set beside its strongest baseline/);
    assert.match(report.stdout, /set +n +accuracy +baseline +change +macroF1 +baseline +change/);
    assert.match(report.stdout, /\n {2}inDomain +\d+ +[\d.]+ +majority [\d.]+/);
    assert.match(report.stdout, /\n {2}long +40 +[\d.]+ +\w+ [\d.]+.* +[-+]?[\d.]+/);
    const drift = await rig.rnnp(["show", "drift"]);
    // Long names are cut at the maximum length: the longest shift, in length, ranks them first.
    assert.match(
      drift.stdout,
      /set +n +largest PSI +of\n {2}long +40 +[\d.]+ \(large\) +length\n {2}inDomain/,
    );
    assert.match(drift.stdout, /cut at the maximum length 100% \(reference \d+%\)/);
    const json = JSON.parse((await rig.rnnp(["show", "drift", "--json"])).stdout) as {
      outputs: { out: { report: { sets: { name: string }[] } } };
    };
    assert.deepEqual(
      json.outputs.out.report.sets.map((s) => s.name),
      ["long", "inDomain"],
    );
  });
});
