// What the training loop says about a run, rule by rule, on constructed histories: each warning where
// its evidence is, none a hair short of it; and the baseline losses they compare with.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EpochRecord, LayerFlow } from "../../src/artifacts/model.js";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import {
  epochWarnings,
  finalWarnings,
  explodingWarnings,
  flowWarnings,
  type RunFacts,
} from "../../src/numerics/health.js";
import { baselineLoss } from "../../src/numerics/losses.js";

const facts: RunFacts = { lr: 0.01, baselineLoss: 0.69, baselineWhat: "the class frequencies" };

/** A history from losses (and, optionally, validation losses and gradient norms). */
function history(losses: number[], val?: number[], grads?: number[]): EpochRecord[] {
  return losses.map((loss, i) => ({
    epoch: i + 1,
    lr: 0.01,
    loss,
    metrics: {},
    ...(val ? { valLoss: val[i]! } : {}),
    gradNorm: grads?.[i] ?? 1,
    layerGradNorms: {},
  }));
}

const keys = (w: { key: string }[]) => w.map((x) => x.key);

describe("warnings from the loss's trajectory", () => {
  it("rising: three rises in a row adding up to 10%, not two, not 9.8%", () => {
    const w = epochWarnings(history([0.6, 0.5, 0.51, 0.52, 0.55]), facts);
    assert.deepEqual(keys(w), ["rising"]);
    assert.equal(
      w[0]!.text,
      "the training loss rose for 3 epochs in a row (epochs 2 to 5: 0.5 -> 0.55): training is unstable; lower the learning rate (0.01) or set clipNorm (e.g. 1.0)",
    );
    assert.deepEqual(epochWarnings(history([0.6, 0.5, 0.51, 0.52, 0.52]), facts), []);
    assert.deepEqual(epochWarnings(history([0.6, 0.5, 0.51, 0.52, 0.549]), facts), [], "9.8%");
    assert.deepEqual(keys(epochWarnings(history([0.6, 0.64, 0.66]), facts)), ["above-first"]);
    const clipped = epochWarnings(history([0.6, 0.5, 0.51, 0.52, 0.55]), { ...facts, clipNorm: 1 });
    assert.match(clipped[0]!.text, /lower the learning rate \(0\.01\)$/, "clipNorm is set already");
  });

  it("above epoch 1: more than 5% above it", () => {
    const w = epochWarnings(history([5.65, 5.5, 6.2]), facts);
    assert.deepEqual(keys(w), ["above-first"]);
    assert.equal(
      w[0]!.text,
      "the training loss at epoch 3 (6.2) is above epoch 1's (5.65): training diverged; lower the learning rate (0.01) or set clipNorm (e.g. 1.0)",
    );
    assert.deepEqual(epochWarnings(history([1, 0.5, 1.0499]), facts), []);
    assert.deepEqual(keys(epochWarnings(history([1, 0.5, 1.0501]), facts)), ["above-first"]);
  });

  it("stall: flat for 3 epochs, gradients under 10% of epoch 1's, loss still at half the baseline or more", () => {
    const grads = [1, 0.5, 0.09, 0.08, 0.07];
    const w = epochWarnings(history([0.7, 0.65, 0.6, 0.6, 0.6], undefined, grads), facts);
    assert.deepEqual(keys(w), ["stall"]);
    assert.match(
      w[0]!.text,
      /^training stalled at epochs 3 to 5: the loss stayed at 0\.6 \(a constant prediction's is 0\.69\) while the gradient norm fell to 9% of epoch 1's \(0\.09 vs 1\); a larger learning rate \(0\.01\)/,
    );
    // Not flat (2% apart); gradients not tiny (one at 11%); converged (under half the baseline).
    assert.deepEqual(
      epochWarnings(history([0.7, 0.6, 0.6, 0.612, 0.6], undefined, grads), facts),
      [],
    );
    assert.deepEqual(
      epochWarnings(history([0.7, 0.6, 0.6, 0.6, 0.6], undefined, [1, 1, 0.11, 0.05, 0.05]), facts),
      [],
    );
    assert.deepEqual(
      epochWarnings(history([0.7, 0.3, 0.3, 0.3, 0.3], undefined, grads), facts),
      [],
    );
    assert.deepEqual(
      epochWarnings(history([0.7, 0.6, 0.6, 0.6], undefined, grads), { lr: 0.01 }),
      [],
      "without a baseline, a flat loss may be a converged one",
    );
  });

  it("no better than a constant prediction: its best epoch within 5% of it", () => {
    const w = finalWarnings(history([0.9, 0.7, 0.68]), facts);
    assert.deepEqual(keys(w), ["baseline"]);
    assert.equal(
      w[0]!.text,
      "after 3 epochs the training loss (0.68) is no better than that of a constant prediction (the class frequencies), 0.69: the model has learned nothing; see how far back its gradients reach (rnnp show), try a larger learning rate (0.01) or more epochs",
    );
    assert.match(
      finalWarnings(history([0.8, 0.9, 0.95]), facts)[0]!.text,
      /is above that of a constant prediction .*: the model has learned nothing; lower the learning rate/,
      "above it and not coming down: diverged",
    );
    assert.deepEqual(finalWarnings(history([0.9, 0.7, 0.65]), facts), []);
    assert.deepEqual(finalWarnings(history([0.9, 0.655, 0.7]), facts), [], "best 5.1% under");
    assert.equal(
      finalWarnings(history([0.9, 0.656, 0.7]), facts)[0]!.text.slice(0, 58),
      "after 3 epochs the training loss (0.7, at best 0.656) is n",
    );
    assert.deepEqual(finalWarnings(history([0.9, 0.7, 0.7]), { lr: 0.01 }), []);
  });

  it("overfitting: validation loss 10% above its best, 3 epochs later, training loss lower; not when the best epoch was restored", () => {
    const train = [0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
    const val = [0.6, 0.5, 0.45, 0.47, 0.48, 0.5];
    const w = finalWarnings(history(train, val), facts);
    assert.deepEqual(keys(w), ["overfit"]);
    assert.equal(
      w[0]!.text,
      "the validation loss parted from the training loss after epoch 3: by epoch 6 val_loss rose 0.45 -> 0.5 while the training loss fell 0.4 -> 0.1: the model overfits; regularise (dropout, recurrentDropout), use early stopping (patience: 3, which restores the best epoch), or more data",
    );
    assert.deepEqual(finalWarnings(history(train, [0.6, 0.5, 0.45, 0.47, 0.48, 0.49]), facts), []);
    assert.deepEqual(
      finalWarnings(history(train, [0.6, 0.5, 0.45, 0.47, 0.5, 0.5]), facts).length,
      1,
    );
    assert.deepEqual(finalWarnings(history(train, [0.6, 0.5, 0.5, 0.45, 0.5, 0.5]), facts), []);
    assert.deepEqual(
      finalWarnings(history(train, val), {
        ...facts,
        earlyStopping: { patience: 3, restoreBest: true },
        bestEpoch: 3,
      }),
      [],
      "early stopping gave back epoch 3's weights",
    );
    assert.match(
      finalWarnings(history(train, val), {
        ...facts,
        earlyStopping: { patience: 5, restoreBest: false },
      })[0]!.text,
      /use early stopping with restoreBest: true/,
    );
  });
});

describe("warnings from the gradient flow through time", () => {
  const flow = (norms: number[], extra: Partial<LayerFlow> = {}): LayerFlow => ({
    layer: "lstm_2",
    cell: "lstm",
    source: "kernels",
    norms,
    horizon:
      norms.findIndex((n) => n < 0.01 * norms[0]!) < 0
        ? norms.length
        : norms.findIndex((n) => n < 0.01 * norms[0]!),
    growth: +((norms.at(-1)! / norms[0]!) ** (1 / (norms.length - 1))).toPrecision(6),
    ...extra,
  });

  it("vanishing: sees fewer than half its steps back, over 8 steps or more", () => {
    const norms = Array.from({ length: 50 }, (_, k) => 0.61 ** k);
    const w = flowWarnings(flow(norms), 4, facts);
    assert.deepEqual(keys(w), ["vanish:lstm_2"]);
    assert.equal(
      w[0]!.text,
      "lstm_2 sees 10 of 50 steps back at epoch 4: the gradient shrinks 0.61x per step; try layerNormalization, shorter sequences (maxLen, window length), or a larger learning rate (0.01)",
    );
    const rnn = flowWarnings(flow(norms, { layer: "simpleRNN_1", cell: "simpleRNN" }), 4, facts);
    assert.match(rnn[0]!.text, /; try gru or lstm \(their gates carry gradients over more steps\)/);
    assert.deepEqual(flowWarnings(flow(norms.slice(0, 20)), 4, facts), [], "10 of 20: half");
    assert.deepEqual(
      flowWarnings(flow(norms.slice(0, 7)), 4, facts),
      [],
      "7 steps: too few to judge",
    );
    assert.deepEqual(flowWarnings(flow([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]), 4, facts), []);
  });

  it("exploding: 100 times larger at the first step than at the last", () => {
    const norms = Array.from({ length: 21 }, (_, k) => 1.3 ** k);
    const w = explodingWarnings(flow(norms), 2, facts);
    assert.deepEqual(keys(w), ["explode:lstm_2"]);
    assert.equal(
      w[0]!.text,
      "lstm_2's gradient grows back through time at epoch 2: the gradient grows 1.3x per step, 190x larger 20 steps back than at the last step: it explodes; lower the learning rate (0.01) or set clipNorm (e.g. 1.0)",
    );
    assert.deepEqual(
      explodingWarnings(flow(Array.from({ length: 17 }, (_, k) => 1.3 ** k)), 2, facts),
      [],
      "1.3^16 = 67x: under 100x",
    );
    assert.deepEqual(flowWarnings(flow(norms), 2, facts), [], "not a final-flow warning");
    // A decoder's profile (g2p.rnnp): near 0 at its last step (padding), then flat: one jump.
    const decoder = [9.6e-7, 0.011, 0.061, 0.14, 0.2, 0.23, 0.25, 0.26, 0.27, 0.28, 0.28, 0.29];
    assert.deepEqual(explodingWarnings(flow(decoder), 1, facts), [], "a jump, not a growth");
    // Growth in most steps (median ratio 1.6 >= 100^(1/11) = 1.52), flat in one: it explodes.
    const mostly = [1, 1.6, 2.56, 2.56, 4.1, 6.55, 10.5, 16.8, 26.8, 42.9, 68.7, 110];
    assert.deepEqual(keys(explodingWarnings(flow(mostly), 1, facts)), ["explode:lstm_2"]);
    // At whichever epoch it happens, once: epoch 1 explodes, epoch 2 has recovered.
    const h = history([5, 0.4]);
    h[0]!.flow = [flow(norms)];
    assert.deepEqual(keys(epochWarnings(h.slice(0, 1), facts)), ["explode:lstm_2"]);
    h[1]!.flow = [flow([1, 0.9, 0.8])];
    assert.deepEqual(epochWarnings(h, facts), []);
  });

  it("saturation: half the candidates beyond ±0.99, or half the forget gates shut", () => {
    const ok = [1, 0.8, 0.7];
    const w = flowWarnings(
      flow(ok, { saturation: { candidates: 0.5, gates: { near0: 0.1, near1: 0.2 } } }),
      3,
      facts,
    );
    assert.deepEqual(keys(w), ["saturated:lstm_2"]);
    assert.equal(
      w[0]!.text,
      "lstm_2 at epoch 3: 50% of its candidates are saturated (|tanh| > 0.99): gradients through them nearly vanish; lower the learning rate (0.01) or set clipNorm (e.g. 1.0), or normalise its inputs (layerNormalization)",
    );
    const gates = flowWarnings(
      flow(ok, { saturation: { candidates: 0, gates: { near0: 0.6, near1: 0 } } }),
      3,
      facts,
    );
    assert.match(gates[0]!.text, /60% of its forget gates are shut \(< 0\.01\)/);
    assert.deepEqual(
      flowWarnings(
        flow(ok, { saturation: { candidates: 0.49, gates: { near0: 0.49, near1: 1 } } }),
        3,
        facts,
      ),
      [],
    );
    // Saturation joins a vanishing warning as its evidence, and changes its remedy.
    const both = flowWarnings(
      flow(
        Array.from({ length: 12 }, (_, k) => (k ? 0 : 1)),
        { layer: "simpleRNN_2", cell: "simpleRNN", saturation: { candidates: 1 } },
      ),
      10,
      facts,
    );
    assert.deepEqual(keys(both), ["vanish:simpleRNN_2"]);
    assert.equal(
      both[0]!.text,
      "simpleRNN_2 sees 1 of 12 steps back at epoch 10: the gradient vanishes within a step; 100% of its units are saturated (|tanh| > 0.99); lower the learning rate (0.01) or set clipNorm (e.g. 1.0), or normalise its inputs (layerNormalization)",
    );
  });

  it("a bidirectional layer's directions together: vanishing only where neither reaches", () => {
    const dir = (side: string, horizon: number): LayerFlow => ({
      ...flow(Array.from({ length: 200 }, (_, k) => (k < horizon ? 1 : 0.001))),
      layer: `bidirectional_2 (${side})`,
    });
    const h = history([0.5, 0.4]);
    h[1]!.flow = [dir("forward", 96), dir("backward", 104)];
    assert.deepEqual(keys(finalWarnings(h, facts)), [], "96 + 104 steps: all 200 reached");
    h[1]!.flow = [dir("forward", 96), dir("backward", 103)];
    assert.deepEqual(keys(finalWarnings(h, facts)), ["vanish:bidirectional_2 (forward)"]);
    h[1]!.flow = [dir("forward", 96)];
    assert.deepEqual(keys(finalWarnings(h, facts)), ["vanish:bidirectional_2 (forward)"]);
  });

  it("a short horizon is no warning once the model has learned its task (loss under half the baseline's)", () => {
    const short = [flow(Array.from({ length: 50 }, (_, k) => 0.61 ** k))];
    const h = history([0.5, 0.3451]);
    h[1]!.flow = short;
    assert.deepEqual(keys(finalWarnings(h, facts)), ["vanish:lstm_2"], "0.3451 of 0.69: half");
    h[1]!.loss = 0.3449;
    assert.deepEqual(keys(finalWarnings(h, facts)), []);
    assert.deepEqual(keys(finalWarnings(h, { lr: 0.01 })), ["vanish:lstm_2"], "no baseline");
  });

  it("finalWarnings reads the last epoch's flow", () => {
    const h = history([0.5, 0.4]);
    h[1]!.flow = [flow(Array.from({ length: 50 }, (_, k) => 0.61 ** k))];
    h[0]!.flow = [flow([1, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9])];
    assert.deepEqual(keys(finalWarnings(h, facts)), ["vanish:lstm_2"]);
    assert.match(finalWarnings(h, facts)[0]!.text, /at epoch 2:/);
  });
});

describe("baseline losses: the best constant prediction's", () => {
  const classes = (y: number[], n = 2): Pick<SequenceSet, "target" | "shape"> => ({
    target: { kind: "class", y: Int32Array.from(y), classes: ["a", "b", "c"].slice(0, n) },
    shape: [y.length, 4],
  });
  it("cross-entropy: the entropy of the class frequencies, weighted as the loss weighs them", () => {
    const p = 0.25;
    const h = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    assert.ok(
      Math.abs(baselineLoss(classes([0, 1, 1, 1]), "sparseCategoricalCrossentropy", 2)! - h) <
        1e-12,
    );
    assert.ok(Math.abs(baselineLoss(classes([0, 1, 1, 1]), "binaryCrossentropy", 1)! - h) < 1e-12);
    assert.equal(baselineLoss(classes([0, 1, 1, 1]), "binaryCrossentropy", 2), undefined);
    // Weights 3 and 1: q = (3/6, 3/6); loss = (3 ln 2 + 3 ln 2) / 4.
    const w = baselineLoss(
      classes([0, 1, 1, 1]),
      "sparseCategoricalCrossentropy",
      2,
      Float32Array.from([3, 1]),
    );
    assert.ok(Math.abs(w! - (6 * Math.log(2)) / 4) < 1e-12);
    assert.equal(baselineLoss(classes([1, 1, 1]), "sparseCategoricalCrossentropy", 2), 0);
  });
  it("per-step tokens: each example's tokens weigh 1 / its token count; padding does not count", () => {
    // Example 0: tokens 2, 2 (0 is padding); example 1: token 3. Frequencies: 2 -> 1/2, 3 -> 1/2.
    const seq: Pick<SequenceSet, "target" | "shape"> = {
      target: {
        kind: "sequence",
        y: Int32Array.from([2, 2, 0, 3, 0, 0]),
        tokens: ["<pad>", "<unk>", "x", "y"],
        level: "char",
      },
      shape: [2, 3],
    };
    assert.ok(
      Math.abs(baselineLoss(seq, "sparseCategoricalCrossentropy", 4)! - Math.log(2)) < 1e-12,
    );
  });
  it("mse: each value's variance; mae: its mean distance to the median", () => {
    const values: Pick<SequenceSet, "target" | "shape"> = {
      target: {
        kind: "value",
        y: Float32Array.from([1, 10, 2, 20, 3, 60]),
        names: ["a", "b"],
        horizon: 1,
        size: 2,
      },
      shape: [3, 5, 1],
    };
    // a: 1, 2, 3 (variance 2/3); b: 10, 20, 60 (variance 1400/3 - ... computed below).
    const mean = 30;
    const varB = ((10 - mean) ** 2 + (20 - mean) ** 2 + (60 - mean) ** 2) / 3;
    assert.ok(Math.abs(baselineLoss(values, "mse", 2)! - (2 / 3 + varB) / 2) < 1e-9);
    // Medians 2 and 20: (2/3 + 50/3) / 2.
    assert.ok(Math.abs(baselineLoss(values, "mae", 2)! - (2 / 3 + 50 / 3) / 2) < 1e-9);
    assert.equal(baselineLoss(values, "sparseCategoricalCrossentropy", 2), undefined);
  });
});
