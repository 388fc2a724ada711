// Gradient flow through time: the per-step norms the kernels give are ‖∂loss/∂h‖ as TF.js's autodiff
// computes it on TF.js's own cells; the probe on TF.js's cells gives them too; profiles, horizons and
// growth factors are computed as documented.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Scalar, Tensor, Variable } from "../../src/runtime/tfjs.js";
import seedrandom from "seedrandom";
import { backward, CELLS, type CellKind, forward } from "../../src/numerics/fused/cells.js";
import { fuse } from "../../src/numerics/fused/fuse.js";
import { Kernels } from "../../src/numerics/fused/kernels.js";
import {
  addTap,
  FlowRecorder,
  growthOf,
  horizonOf,
  type StepGradients,
} from "../../src/numerics/flow.js";
import { probeCells } from "../../src/numerics/probe.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";

interface Case {
  kind: CellKind;
  B: number;
  T: number;
  F: number;
  H: number;
  sequences: boolean;
  reverse: boolean;
  masked: boolean;
}

/** Random inputs, weights, initial states and gradients of the outputs, from a seeded stream. */
function draw(c: Case) {
  const random = seedrandom(JSON.stringify(c));
  const arr = (n: number, scale = 1) =>
    Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  const G = CELLS[c.kind].gates * c.H;
  // Every other row loses a few steps: at the end for some, at the start for others.
  const mask = Float32Array.from({ length: c.B * c.T }, (_, i) => {
    const [b, t] = [Math.floor(i / c.T), i % c.T];
    return b % 3 === 1 && t >= c.T - 2 ? 0 : b % 3 === 2 && t < 2 ? 0 : 1;
  });
  return {
    x: arr(c.B * c.T * c.F),
    w: arr(c.F * G, 0.6),
    u: arr(c.H * G, 0.6),
    b: arr(G, 0.3),
    init: CELLS[c.kind].states.map(() => arr(c.B * c.H, 0.5)),
    mask: c.masked ? mask : undefined,
    dout: arr(c.sequences ? c.B * c.T * c.H : c.B * c.H),
    dstates: CELLS[c.kind].states.map(() => arr(c.B * c.H)),
  };
}

/** The kernels' per-step norms ([B, T] by processing step; NaN where masked). */
function kernelNorms(k: Kernels, c: Case): StepGradients {
  const d = draw(c);
  const f = forward(
    k,
    c.kind,
    c,
    {
      x: d.x,
      w: d.w,
      u: d.u,
      b: d.b,
      init: d.init,
      ...(d.mask ? { mask: d.mask } : {}),
      reverse: c.reverse,
      sequences: c.sequences,
    },
    true,
  );
  return backward(k, f.saved!, d.dout, d.dstates, { flow: true }).flow!;
}

/**
 * The same norms by TF.js's autodiff through TF.js's cells, stepped by hand: the state after each
 * step gets a zero of its own added, and ∂loss/∂(that zero) is ∂loss/∂h of the step. The loss is
 * the one whose gradients the kernels were given: Σ dout ⊙ outputs + Σ dstates ⊙ final states.
 */
function autodiffNorms(tf: TF, c: Case): Float64Array {
  const d = draw(c);
  const L = tf.layers;
  // Zeros to start (the weights are set below): TF.js's orthogonal initializer needs the chained
  // ops, which rnnp's TF.js (src/runtime/tfjs.ts) does not register.
  const init = { kernelInitializer: "zeros", recurrentInitializer: "zeros" } as const;
  const args = { units: c.H, recurrentActivation: "sigmoid" as const, ...init };
  const cell =
    c.kind === "lstm"
      ? L.lstmCell(args)
      : c.kind === "gru"
        ? L.gruCell(args)
        : L.simpleRNNCell({ units: c.H, ...init });
  const G = CELLS[c.kind].gates * c.H;
  cell.build([c.B, c.F]);
  cell.setWeights([tf.tensor2d(d.w, [c.F, G]), tf.tensor2d(d.u, [c.H, G]), tf.tensor1d(d.b)]);
  const x = tf.tensor3d(d.x, [c.B, c.T, c.F]);
  const zeros = Array.from({ length: c.T }, () => tf.variable(tf.zeros([c.B, c.H])) as Variable);
  const mask = d.mask ? tf.tensor2d(d.mask, [c.B, c.T]) : undefined;
  const { grads } = tf.variableGrads(() => {
    let states: Tensor[] = d.init.map((s) => tf.tensor2d(s, [c.B, c.H]));
    const outputs: Tensor[] = [];
    for (let s = 0; s < c.T; s++) {
      const t = c.reverse ? c.T - 1 - s : s;
      const xt = tf.reshape(tf.slice(x, [0, t, 0], [c.B, 1, c.F]), [c.B, c.F]);
      const out = cell.call([xt, ...states], {}) as Tensor[];
      let next = out.slice(1);
      if (mask) {
        const m = tf.slice(mask, [0, t], [c.B, 1]);
        next = next.map((n, i) => tf.add(tf.mul(n, m), tf.mul(states[i]!, tf.sub(1, m))));
      }
      next[0] = tf.add(next[0]!, zeros[s]!);
      states = next;
      outputs.push(states[0]!);
    }
    const output = c.sequences ? tf.stack(outputs, 1) : outputs.at(-1)!;
    const terms = [
      tf.sum(tf.mul(output, tf.tensor(d.dout, output.shape))),
      ...states.map((s, i) => tf.sum(tf.mul(s, tf.tensor2d(d.dstates[i]!, [c.B, c.H])))),
    ];
    return tf.addN(terms) as Scalar;
  }, zeros);
  const norms = new Float64Array(c.B * c.T).fill(Number.NaN);
  zeros.forEach((z, s) => {
    const g = grads[z.name]!.dataSync();
    const t = c.reverse ? c.T - 1 - s : s;
    for (let b = 0; b < c.B; b++) {
      if (d.mask && d.mask[b * c.T + t] === 0) continue;
      let sq = 0;
      for (let j = 0; j < c.H; j++) sq += g[b * c.H + j]! ** 2;
      norms[b * c.T + s] = Math.sqrt(sq);
    }
  });
  return norms;
}

/** Equal within 1e-4 relative, NaN (masked) where the other is NaN; at least one live value. */
function assertNormsClose(actual: Float64Array, expected: Float64Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  let live = 0;
  expected.forEach((e, i) => {
    const a = actual[i]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}: [${i}] is masked, the kernels give ${a}`);
      return;
    }
    live++;
    assert.ok(
      Math.abs(a - e) <= 1e-4 * e,
      `${what}: [${i}] ${a} vs ${e} (${(Math.abs(a - e) / e).toExponential(2)} relative)`,
    );
  });
  assert.ok(live > actual.length / 2, `${what}: ${live} live steps of ${actual.length}`);
}

describe("per-step gradient norms: the kernels against TF.js's autodiff on TF.js's cells", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const k = Kernels.load(2);
  for (const kind of ["lstm", "gru", "simpleRNN"] as const)
    for (const o of [
      { sequences: false, reverse: false, masked: false, B: 5 },
      { sequences: true, reverse: false, masked: true, B: 5 },
      { sequences: true, reverse: true, masked: true, B: 21 },
      { sequences: false, reverse: true, masked: true, B: 37 },
    ]) {
      const c: Case = { kind, T: 9, F: 4, H: 6, ...o };
      it(JSON.stringify(c), () => {
        const g = kernelNorms(k, c);
        assert.deepEqual([g.rows, g.steps], [c.B, c.T]);
        assertNormsClose(g.norms, autodiffNorms(tf, c), kind);
      });
    }

  it("the saturation counts cover the live steps' gates and candidates", () => {
    const c: Case = {
      kind: "lstm",
      B: 5,
      T: 9,
      F: 4,
      H: 6,
      sequences: true,
      reverse: false,
      masked: true,
    };
    const s = kernelNorms(k, c).saturation!;
    const live = draw(c).mask!.reduce((a, m) => a + m, 0);
    assert.equal(s.gates, live * c.H);
    assert.equal(s.candidates, live * c.H);
  });
});

describe("gate saturation, counted by the kernels on the forward pass's tape", () => {
  const k = Kernels.load(1);
  it("counts forget gates near 0 and 1 and saturated candidates, at live steps only", () => {
    // LSTM, H = 5 (a vector of 4 and a tail of 1), bias alone decides: no input, no recurrence.
    const [B, T, F, H] = [3, 4, 1, 5];
    const G = 4 * H;
    const b = new Float32Array(G);
    // Forget gates: sigmoid(-10) < 0.01 for units 0-1, sigmoid(10) > 0.99 for unit 4, 0.5 for 2-3.
    b.set([-10, -10, 0, 0, 10], H);
    // Candidates: tanh(4) > 0.99 for units 0 and 4, tanh(-4) for unit 1, small for 2-3.
    b.set([4, -4, 0.1, -0.1, 4], 2 * H);
    const mask = Float32Array.from({ length: B * T }, (_, i) => (i === 5 || i === 6 ? 0 : 1));
    const f = forward(
      k,
      "lstm",
      { B, T, F, H },
      {
        x: new Float32Array(B * T * F),
        w: new Float32Array(F * G),
        u: new Float32Array(H * G),
        b,
        init: [new Float32Array(B * H), new Float32Array(B * H)],
        mask,
        reverse: false,
        sequences: false,
      },
      true,
    );
    const g = backward(
      k,
      f.saved!,
      new Float32Array(B * H).fill(1),
      [new Float32Array(B * H), new Float32Array(B * H)],
      { flow: true },
    );
    const live = B * T - 2;
    assert.deepEqual(g.flow!.saturation, {
      gates: live * H,
      gatesNear0: 2 * live,
      gatesNear1: live,
      candidates: live * H,
      candidatesSaturated: 3 * live,
    });
  });
});

describe("the profile by steps back, its horizon and growth factor", () => {
  it("horizon: the steps back over which the norm keeps at least 1% of the last step's", () => {
    assert.equal(horizonOf([1, 0.5, 0.1, 0.011, 0.0099, 0.5]), 4);
    assert.equal(horizonOf([1, 0.5, 0.1, 0.01]), 4, "exactly 1% still counts");
    assert.equal(horizonOf([2, 3, 5]), 3, "growing: every step");
    assert.equal(horizonOf([1]), 1);
    assert.equal(horizonOf([0, 1]), 0, "no gradient at the last step");
    assert.equal(horizonOf([]), 0);
    assert.equal(horizonOf([1, Number.NaN, 1]), 1, "a NaN is not a kept gradient");
  });

  it("growth: the geometric mean of neighbouring ratios", () => {
    // 0.61 per step over 9 ratios: the example (9 steps to 1%).
    const shrinking = Array.from({ length: 10 }, (_, k) => 0.61 ** k);
    assert.equal(growthOf(shrinking), 0.61);
    assert.equal(horizonOf(shrinking), 10);
    assert.equal(horizonOf(Array.from({ length: 50 }, (_, k) => 0.61 ** k)), 10);
    // Uneven ratios: (0.5 x 2 x 0.25)^(1/3) = 0.25^(1/3).
    assert.equal(growthOf([1, 0.5, 1, 0.25]), +(0.25 ** (1 / 3)).toPrecision(6));
    assert.equal(growthOf([3, 3 * 1.2 ** 4]), +(1.2 ** 4).toPrecision(6));
    assert.equal(growthOf([1]), null);
    assert.equal(growthOf([0, 1]), null);
    assert.equal(growthOf([1, 0]), 0);
    assert.equal(growthOf([1, 0, 0]), 0, "zero one step back: vanishes within a step");
    // Underflow to exact zeros far back: the ratio over the steps the gradient reaches.
    assert.equal(growthOf([1, 0.5, 0.25, 0, 0]), 0.5);
  });

  it("aligns each sequence at its own last live step, and weighs examples, not batches", () => {
    // Two batches of one layer: rows of different lengths (NaN: masked), and a batch of 1.
    const tap = { label: "lstm_2", cell: "lstm" as const, source: "kernels" as const };
    const model = {};
    const t = addTap(model, tap);
    const recorder = new FlowRecorder(model);
    const N = Number.NaN;
    // Batch of 2 (the loss a mean over 2: norms are doubled). Row 0 is post-padded, row 1 pre-padded.
    t.sink!({ rows: 2, steps: 4, norms: Float64Array.from([4, 2, 1, N, N, 8, 4, 2]) });
    t.sink!({
      rows: 1,
      steps: 4,
      norms: Float64Array.from([1, 2, 3, 6]),
      saturation: { gates: 8, gatesNear0: 2, gatesNear1: 4, candidates: 4, candidatesSaturated: 1 },
    });
    const [flow] = recorder.epoch();
    // Steps back 0: (1x2, 2x2, 6) / 3; 1: (2x2, 4x2, 3) / 3; 2: (4x2, 8x2, 2) / 3; 3: 1 / 1.
    assert.deepEqual(
      flow!.norms,
      [4, 5, 26 / 3, 1].map((v) => +v.toPrecision(6)),
    );
    assert.equal(flow!.horizon, 4);
    assert.equal(flow!.growth, +((1 / 4) ** (1 / 3)).toPrecision(6));
    assert.deepEqual(flow!.saturation, { gates: { near0: 0.25, near1: 0.5 }, candidates: 0.25 });
    assert.deepEqual(recorder.epoch(), [], "each epoch starts afresh");
    recorder.close();
    assert.equal(t.sink, undefined);
  });
});

describe("the probe on TF.js's cells measures what the fused kernels measure", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  for (const kind of ["lstm", "gru", "simpleRNN"] as const)
    it(`${kind}, masked, bidirectional, stacked`, () => {
      const flows = [false, true].map((fused) => {
        const random = seedrandom(`probe:${kind}`);
        const L = tf.layers;
        const layer = (returnSequences: boolean) => {
          const a = {
            units: 5,
            returnSequences,
            kernelInitializer: "zeros" as const,
            recurrentInitializer: "zeros" as const,
          };
          return kind === "lstm"
            ? L.lstm({ ...a, recurrentActivation: "sigmoid" })
            : kind === "gru"
              ? L.gru({ ...a, recurrentActivation: "sigmoid" })
              : L.simpleRNN(a);
        };
        const model = tf.sequential({
          layers: [
            L.embedding({ inputDim: 7, outputDim: 4, maskZero: true, inputLength: 8 }),
            L.bidirectional({ layer: layer(true) as never, mergeMode: "concat" }),
            layer(false),
            L.dense({ units: 3, activation: "softmax" }),
          ],
        });
        model.setWeights(
          model.getWeights().map((w) =>
            tf.tensor(
              Float32Array.from({ length: w.size }, () => (random() * 2 - 1) * 0.6),
              w.shape,
            ),
          ),
        );
        if (fused) fuse(tf, model, Kernels.load(1));
        probeCells(tf, model);
        const recorder = new FlowRecorder(model);
        const ids = Int32Array.from({ length: 6 * 8 }, (_, i) =>
          i % 8 < (i >> 3) % 3 ? 0 : 1 + (i % 6),
        );
        const x = tf.tensor2d(ids, [6, 8], "int32");
        const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], "int32"), 3);
        tf.variableGrads(
          () =>
            tf.losses.softmaxCrossEntropy(
              y,
              model.apply(x, { training: true }) as Tensor,
            ) as Scalar,
        );
        const flow = recorder.epoch();
        recorder.close();
        return flow;
      });
      const [tfjs, kernels] = flows as [
        import("../../src/artifacts/model.js").LayerFlow[],
        import("../../src/artifacts/model.js").LayerFlow[],
      ];
      // The two models are built one after the other: TF.js numbers their layers on.
      const unnumbered = (l: { layer: string }) => l.layer.replace(/\d+/g, "");
      assert.deepEqual(
        tfjs.map((l) => [unnumbered(l), l.source]),
        kernels.map((l) => [unnumbered(l), "tfjs"]),
      );
      assert.equal(kernels.length, 3, "both directions and the last layer");
      tfjs.forEach((l, i) => {
        const f = kernels[i]!;
        assert.equal(l.norms.length, f.norms.length);
        l.norms.forEach((n, j) =>
          assert.ok(
            Math.abs(n - f.norms[j]!) <= 1e-4 * f.norms[j]!,
            `${l.layer}[${j}]: ${n} vs ${f.norms[j]}`,
          ),
        );
        assert.equal(l.saturation, undefined, "TF.js's cells keep no gates");
        assert.ok(f.saturation, "the kernels count saturation");
      });
    });
});
