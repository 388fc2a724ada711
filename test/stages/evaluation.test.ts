import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classBaselines, sequenceBaselines, verdictOf } from "../../src/evaluation/baselines.js";
import { classReport } from "../../src/evaluation/metrics.js";

const probs = (guesses: number[], C: number) =>
  Float32Array.from(guesses.flatMap((g) => Array.from({ length: C }, (_, k) => (k === g ? 1 : 0))));

describe("class metrics (defect 6): zero-support classes", () => {
  it("macro averages over all classes and over present classes; zero-support classes named", () => {
    // Classes a, b, c; the test part has no "c". Truth a a b b, guesses a b b b.
    const r = classReport(
      probs([0, 1, 1, 1], 3),
      3,
      Int32Array.from([0, 0, 1, 1]),
      ["a", "b", "c"],
      3,
    );
    // a: P 1, R .5, F1 2/3; b: P 2/3, R 1, F1 .8; c: 0.
    assert.equal(r.metrics.macroF1, (2 / 3 + 0.8 + 0) / 3);
    assert.equal(r.metrics.macroF1Present, (2 / 3 + 0.8) / 2);
    assert.equal(r.metrics.macroRecallPresent, (0.5 + 1) / 2);
    assert.deepEqual(r.zeroSupport, ["c"]);
    const all = classReport(probs([0, 1], 2), 2, Int32Array.from([0, 1]), ["a", "b"], 3);
    assert.equal(all.zeroSupport, undefined);
    assert.equal(
      all.metrics.macroF1Present,
      undefined,
      "one macro average when every class is present",
    );
  });
});

describe("class baselines, hand-computed", () => {
  // Fit part: 6 "a", 3 "b", 1 "c". Test truth: a b b c b.
  const y = Int32Array.from([0, 1, 1, 2, 1]);
  const classes = ["a", "b", "c"];
  const counts = Int32Array.from([6, 3, 1]);

  it("majority class of the fit part; stratified guessing's expected score; persistence", () => {
    const scores = classBaselines(y, classes, {
      classCounts: counts,
      persistence: Int32Array.from([0, 0, 1, -1, 2]),
    });
    assert.deepEqual(
      scores.map((s) => s.name),
      ["majority", "stratified", "persistence"],
    );
    const [majority, stratified, persistence] = scores;
    assert.equal(majority!.metrics.accuracy, 1 / 5);
    assert.equal(majority!.metrics.macroF1, (2 * (1 / 5) * 1) / (1 / 5 + 1) / 3);
    // Expected accuracy: sum over test examples of P(guess = truth) = (.6 + .3 + .3 + .1 + .3) / 5.
    assert.ok(Math.abs(stratified!.metrics.accuracy! - 1.6 / 5) < 1e-12);
    // Persistence: guesses a a b (none) c against a b b c b: right on 1st and 3rd.
    assert.equal(persistence!.metrics.accuracy, 2 / 5);
  });

  it("the verdict: the strongest baseline on the metric, and the margin", () => {
    const scores = classBaselines(y, classes, { classCounts: counts });
    const win = verdictOf({ accuracy: 0.6 }, scores, "accuracy")!;
    assert.deepEqual(
      [win.baseline, win.beats, +win.margin.toFixed(12)],
      ["stratified", true, 0.28],
    );
    const lose = verdictOf({ accuracy: 0.2 }, scores, "accuracy")!;
    assert.equal(lose.beats, false);
    assert.equal(verdictOf({ accuracy: 1 }, [], "accuracy"), undefined);
  });

  it("token sequences: the empty output", () => {
    const [empty] = sequenceBaselines("tokens", { decoded: [[1, 2], [3]] });
    assert.equal(empty!.metrics.tokenErrorRate, 1);
    assert.equal(empty!.metrics.sequenceAccuracy, 0);
  });
});
