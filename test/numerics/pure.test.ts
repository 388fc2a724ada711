import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { classWeighting } from "../../src/kinds/train.js";
import {
  classReport,
  editDistance,
  sequenceReport,
  valueReport,
} from "../../src/evaluation/metrics.js";
import { trainBatches } from "../../src/numerics/batches.js";
import { learningRate, type ScheduleCall } from "../../src/numerics/optimizers.js";
import { tokenData } from "./training.js";

describe("learning-rate schedules", () => {
  const at = (s: ScheduleCall, t: number, warmup = 0, stepFraction = 0) =>
    learningRate(s, 0.1, t, 10, warmup, stepFraction);
  const constant: ScheduleCall = { call: "constant", args: {} };
  it("constant, step, exponential and cosine", () => {
    assert.equal(at(constant, 7.5), 0.1);
    assert.equal(at({ call: "step", args: { every: 3, factor: 0.5 } }, 2.9), 0.1);
    assert.equal(at({ call: "step", args: { every: 3, factor: 0.5 } }, 6), 0.025);
    assert.ok(Math.abs(at({ call: "exponential", args: { rate: 0.5 } }, 2) - 0.025) < 1e-15);
    assert.equal(at({ call: "cosine", args: { minLr: 0 } }, 0), 0.1);
    assert.ok(Math.abs(at({ call: "cosine", args: { minLr: 0.02 } }, 5) - 0.06) < 1e-12);
  });
  it("warm-up ramps linearly to the schedule's rate", () => {
    assert.ok(Math.abs(at(constant, 0, 2, 0.25) - 0.0125) < 1e-15);
    assert.equal(at(constant, 1.75, 2, 0.25), 0.1);
  });
});

describe("seeded shuffling", () => {
  it("same seed, same batches; another seed, another order; every example once", () => {
    const data = tokenData();
    const a = trainBatches(data, 10, seedrandom("1:shuffle:1")).map((b) => Array.from(b));
    assert.deepEqual(
      trainBatches(data, 10, seedrandom("1:shuffle:1")).map((b) => Array.from(b)),
      a,
    );
    assert.notDeepEqual(
      trainBatches(data, 10, seedrandom("1:shuffle:2")).map((b) => Array.from(b)),
      a,
    );
    assert.deepEqual(
      a.flat().sort((x, y) => x - y),
      Array.from({ length: 48 }, (_, i) => i),
    );
    assert.deepEqual(
      trainBatches(data, 10).map((b) => b.length),
      [10, 10, 10, 10, 8],
    );
  });
});

describe("class weights", () => {
  it("balanced: inverse class frequency; explicit: by label", () => {
    const data = tokenData();
    const t = data.target as { y: Int32Array };
    const ones = t.y.reduce((a, b) => a + b, 0);
    const w = classWeighting("balanced", data).classWeights!;
    assert.ok(Math.abs(w[1]! - 48 / (2 * ones)) < 1e-6);
    assert.deepEqual(Array.from(classWeighting({ yes: 3 }, data).classWeights!), [1, 3]);
    assert.throws(() => classWeighting({ maybe: 2 }, data), /"maybe", which is not a class/);
    assert.deepEqual(classWeighting("none", data), {});
  });
});

describe("evaluation metrics", () => {
  it("classes: accuracy, per-class precision/recall/F1, macro and micro, confusion, top-k", () => {
    // 3 classes; true labels and probability rows.
    const y = Int32Array.from([0, 0, 1, 1, 2, 2]);
    const probs = Float32Array.from([
      0.8, 0.1, 0.1, 0.4, 0.5, 0.1, 0.1, 0.8, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7, 0.3, 0.4, 0.3,
    ]);
    const r = classReport(probs, 3, y, ["a", "b", "c"], 2);
    assert.deepEqual(r.confusion!.matrix, [
      [1, 1, 0],
      [0, 2, 0],
      [0, 1, 1],
    ]);
    assert.equal(r.metrics.accuracy, 4 / 6);
    assert.equal(r.metrics.microF1, 4 / 6);
    const b = r.perClass![1]!;
    assert.deepEqual([b.precision, b.recall, b.support], [0.5, 1, 2]);
    assert.ok(Math.abs(b.f1 - 2 / 3) < 1e-12);
    assert.ok(Math.abs(r.metrics.macroF1! - (2 / 3 + 2 / 3 + 2 / 3) / 3) < 1e-12);
    assert.equal(r.metrics.top2, 5 / 6, "all but one example have their class in the top two");
  });

  it("binary with one sigmoid unit", () => {
    const r = classReport(
      Float32Array.from([0.9, 0.2, 0.6]),
      1,
      Int32Array.from([1, 0, 0]),
      ["n", "p"],
      3,
    );
    assert.equal(r.metrics.accuracy, 2 / 3);
    assert.equal(r.metrics.top3, undefined, "top-k only with more than k classes");
  });

  it("values: MAE, RMSE, MAPE in original units", () => {
    const scaling = { v: { method: "zscore" as const, center: 10, scale: 2 } };
    // scaled truth 0, 1 -> 10, 12; predictions 0.5, 1 -> 11, 12
    const r = valueReport(
      Float32Array.from([0.5, 1]),
      Float32Array.from([0, 1]),
      ["v"],
      1,
      scaling,
    );
    assert.equal(r.metrics.mae, 0.5);
    assert.equal(r.metrics.rmse, Math.sqrt(0.5));
    assert.equal(r.metrics.mape, 5);
    assert.deepEqual(
      r.perTarget!.map((t) => t.name),
      ["v"],
    );
  });

  it("token sequences: token accuracy over non-padding steps, edit error rate, exact matches", () => {
    // 2 examples x 3 steps x 3 ids; id 0 is padding. Truth: [1,2,0] and [2,2,1].
    const y = Int32Array.from([1, 2, 0, 2, 2, 1]);
    const onehot = (ids: number[]) =>
      Float32Array.from(ids.flatMap((id) => [0, 1, 2].map((k) => (k === id ? 0.9 : 0.05))));
    const r = sequenceReport(onehot([1, 2, 2, 2, 0, 1]), y, 3, 3);
    assert.equal(r.metrics.tokenAccuracy, 4 / 5);
    assert.equal(r.metrics.editErrorRate, 1 / 5, "the second example lost one token");
    assert.equal(r.metrics.sequenceAccuracy, 1 / 2);
  });

  it("edit distance between token sequences", () => {
    assert.equal(editDistance([..."kitten"], [..."sitting"]), 3);
    assert.equal(editDistance([], ["a"]), 1);
    assert.equal(editDistance(["HH", "AH"], ["HH", "AH"]), 0);
  });
});
