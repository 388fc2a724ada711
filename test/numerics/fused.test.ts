import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { LayersModel, Tensor, Variable } from "../../src/runtime/tfjs.js";
import seedrandom from "seedrandom";
import { backward, CELLS, forward } from "../../src/numerics/fused/cells.js";
import { describeFusion, fuse } from "../../src/numerics/fused/fuse.js";
import { kernels, Kernels } from "../../src/numerics/fused/kernels.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { randomWeights } from "./random-weights.js";

type Cell = "lstm" | "gru" | "simpleRNN";
interface Case {
  cell: Cell;
  units: number;
  sequences?: boolean;
  backwards?: boolean;
  masked?: boolean;
  bidirectional?: boolean;
  stacked?: boolean;
  withState?: boolean;
  /** Batch size (default B): above 16 rows, the kernels run in several chunks. */
  batch?: number;
  /** Input dropout: both paths draw their mask from Math.random, seeded alike here. */
  dropout?: number;
  /** Recurrent dropout, drawn the same way. */
  recurrentDropout?: number;
}

const [B, T, F, VOCAB] = [5, 7, 6, 9];

/** A small model around the layer(s) under test, with random weights from a seeded stream. */
function build(tf: TF, c: Case): LayersModel {
  const L = tf.layers;
  const layer = (returnSequences: boolean, name: string) => {
    const args = {
      units: c.units,
      returnSequences,
      goBackwards: c.backwards ?? false,
      name,
      ...(c.withState ? { returnState: true } : {}),
      ...(c.dropout ? { dropout: c.dropout } : {}),
      ...(c.recurrentDropout ? { recurrentDropout: c.recurrentDropout } : {}),
    };
    return c.cell === "lstm"
      ? L.lstm({ ...args, recurrentActivation: "sigmoid" })
      : c.cell === "gru"
        ? L.gru({ ...args, recurrentActivation: "sigmoid" })
        : L.simpleRNN(args);
  };
  // Masked cases read token ids (0 = padding) through an embedding, whose gradient is the input's.
  const input = c.masked ? tf.input({ shape: [T], dtype: "int32" }) : tf.input({ shape: [T, F] });
  let h = c.masked
    ? (L.embedding({ inputDim: VOCAB, outputDim: F, maskZero: true }).apply(
        input,
      ) as import("../../src/runtime/tfjs.js").SymbolicTensor)
    : input;
  if (c.stacked)
    h = layer(true, "first").apply(h) as import("../../src/runtime/tfjs.js").SymbolicTensor;
  const last = c.bidirectional
    ? L.bidirectional({ layer: layer(c.sequences ?? false, "inner") as never, mergeMode: "concat" })
    : layer(c.sequences ?? false, "last");
  const out = last.apply(h) as
    | import("../../src/runtime/tfjs.js").SymbolicTensor
    | import("../../src/runtime/tfjs.js").SymbolicTensor[];
  // With returnState, every output (the sequence or last output, and the states) feeds the loss.
  const outputs = Array.isArray(out) ? out : [out];
  const model = tf.model({ inputs: input, outputs });
  randomWeights(tf, model, JSON.stringify(c), 0.6);
  return model;
}

/** Outputs, and gradients of a random projection of them with respect to the inputs (if real) and every weight. */
function outputsAndGradients(
  tf: TF,
  model: LayersModel,
  x: Tensor,
  c: Case,
): { outputs: Float32Array[]; grads: Float32Array[] } {
  const random = seedrandom(`proj:${JSON.stringify(c)}`);
  let outputs: Float32Array[] = [];
  const original = Math.random;
  seedrandom("dropout", { global: true });
  const wrt = [
    ...(x.dtype === "float32" ? [x as Variable] : []),
    ...model.trainableWeights.map((w) => w.read() as Variable),
  ];
  const { grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as Tensor | Tensor[];
    const list = Array.isArray(out) ? out : [out];
    outputs = list.map((o) => o.dataSync() as Float32Array);
    return tf.addN(
      list.map((o) =>
        tf.sum(
          tf.mul(
            o,
            tf.tensor(
              Float32Array.from({ length: o.size }, () => random() * 2 - 1),
              o.shape,
            ),
          ),
        ),
      ),
    ) as import("../../src/runtime/tfjs.js").Scalar;
  }, wrt);
  Math.random = original;
  return { outputs, grads: wrt.map((v) => grads[v.name]!.dataSync() as Float32Array) };
}

/** Equal within 1e-5 relative to the array's scale (elementwise ratios mean nothing for sums that cancel). */
function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  assert.ok(scale > 0, `${what} is all zeros: the test would prove nothing`);
  assert.ok(
    diff <= 1e-5 * scale,
    `${what}: max difference ${diff.toExponential(2)}, ${(diff / scale).toExponential(2)} of the largest value`,
  );
}

const CASES: Case[] = [];
for (const cell of ["lstm", "gru", "simpleRNN"] as const) {
  CASES.push(
    { cell, units: 8 },
    { cell, units: 6, sequences: true },
    { cell, units: 5, sequences: true, backwards: true, masked: true },
    { cell, units: 8, masked: true, bidirectional: true, sequences: true },
    { cell, units: 4, stacked: true, backwards: true },
    { cell, units: 7, withState: true, masked: true },
    { cell, units: 6, sequences: true, masked: true, batch: 37 },
    { cell, units: 6, sequences: true, dropout: 0.4 },
    // Both dropouts, stacked (the second layer's masks follow the first's draws), masked, both ways.
    {
      cell,
      units: 6,
      sequences: true,
      masked: true,
      bidirectional: true,
      stacked: true,
      dropout: 0.3,
      recurrentDropout: 0.4,
      batch: 21,
    },
    { cell, units: 5, sequences: true, backwards: true, recurrentDropout: 0.5 },
  );
}

describe("fused recurrent kernels agree with TF.js's cells", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const inputs = (batch: number) => {
    const data = seedrandom(`x${batch}`);
    const values = Float32Array.from({ length: batch * T * F }, () => data() * 2 - 1);
    const ids = Int32Array.from({ length: batch * T }, () => 1 + Math.floor(data() * (VOCAB - 1)));
    // Padding at the end of two sequences and at the start of one: masks read in both directions.
    for (const [b, from, to] of [
      [1, 5, T],
      [3, 2, T],
      [4, 0, 2],
      [batch - 1, 3, T],
    ] as const)
      ids.fill(0, b * T + from, b * T + to);
    return { values, ids };
  };

  for (const c of CASES) {
    it(JSON.stringify(c), () => {
      const model = build(tf, c);
      const n = c.batch ?? B;
      const { values, ids } = inputs(n);
      const x = c.masked
        ? tf.tensor2d(ids, [n, T], "int32")
        : tf.variable(tf.tensor3d(values, [n, T, F]));
      const expected = outputsAndGradients(tf, model, x, c);
      const fusion = fuse(tf, model);
      assert.equal(fusion.unfused.length, 0, describeFusion(fusion));
      const actual = outputsAndGradients(tf, model, x, c);
      const names = [
        ...(c.masked ? [] : ["input"]),
        ...model.trainableWeights.map((w) => w.originalName),
      ];
      expected.outputs.forEach((o, i) => assertClose(actual.outputs[i]!, o, `output ${i}`));
      expected.grads.forEach((g, i) => assertClose(actual.grads[i]!, g, `d ${names[i]}`));
    });
  }
});

describe("a recurrent layer with several outputs runs once per batch", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  it("as a seq2seq encoder: both directions' final h and c feed other layers", () => {
    // TF.js's executor applies a layer once per output the model uses: four times here.
    const input = tf.input({ shape: [T, F] });
    const bi = tf.layers.bidirectional({
      layer: tf.layers.lstm({
        units: 5,
        returnState: true,
        recurrentActivation: "sigmoid",
      }) as never,
      mergeMode: "concat",
    });
    const [, hf, cf, hb, cb] = bi.apply(
      input,
    ) as import("../../src/runtime/tfjs.js").SymbolicTensor[];
    const states = [
      tf.layers.concatenate().apply([hf!, hb!]),
      tf.layers.concatenate().apply([cf!, cb!]),
    ] as import("../../src/runtime/tfjs.js").SymbolicTensor[];
    const model = tf.model({ inputs: input, outputs: states });
    const random = seedrandom("once");
    const x = tf.variable(
      tf.tensor3d(
        Float32Array.from({ length: B * T * F }, () => random() * 2 - 1),
        [B, T, F],
      ),
    );
    const c: Case = { cell: "lstm", units: 5 };
    const expected = outputsAndGradients(tf, model, x, c);
    fuse(tf, model);
    const k = kernels();
    const run = k.pool.run.bind(k.pool);
    let rounds = 0;
    k.pool.run = (calls) => {
      rounds++;
      run(calls);
    };
    try {
      const actual = outputsAndGradients(tf, model, x, c);
      assert.equal(rounds, 4, "one forward and one backward call per direction");
      expected.outputs.forEach((o, i) => assertClose(actual.outputs[i]!, o, `state ${i}`));
      expected.grads.forEach((g, i) => assertClose(actual.grads[i]!, g, `gradient ${i}`));
    } finally {
      k.pool.run = run;
    }
  });
});

describe("fused recurrent kernels give the same bytes on any number of threads", () => {
  const random = seedrandom("threads");
  const d = { B: 37, T: 9, F: 5, H: 12 };
  const arr = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
  const mask = Float32Array.from({ length: d.B * d.T }, (_, i) => (i % 7 === 3 ? 0 : 1));
  const pools = [1, 2, 3].map((threads) => Kernels.load(threads));

  for (const kind of ["lstm", "gru", "simpleRNN"] as const) {
    it(kind, () => {
      const G = CELLS[kind].gates * d.H;
      const inputs = {
        x: arr(d.B * d.T * d.F),
        w: arr(d.F * G),
        u: arr(d.H * G),
        b: arr(G),
        init: CELLS[kind].states.map(() => arr(d.B * d.H)),
        mask,
        reverse: true,
        sequences: true,
      };
      const dout = arr(d.B * d.T * d.H);
      const dstates = CELLS[kind].states.map(() => arr(d.B * d.H));
      const results = pools.map((k) => {
        const f = forward(k, kind, d, inputs, true);
        return {
          f: { output: f.output, states: f.states },
          g: backward(k, f.saved!, dout, dstates),
        };
      });
      assert.equal(pools[1]!.pool.threads, 2);
      for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
    });
  }
});

describe("tapes: what backward needs stays in the kernels' memory until released", () => {
  const random = seedrandom("tapes");
  const arr = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
  const k = Kernels.load(2);
  const layer = (d: { B: number; T: number; F: number; H: number }) => {
    const G = 4 * d.H;
    return {
      d,
      inputs: {
        x: arr(d.B * d.T * d.F),
        w: arr(d.F * G),
        u: arr(d.H * G),
        b: arr(G),
        init: [arr(d.B * d.H), arr(d.B * d.H)],
        reverse: false,
        sequences: true,
      },
      dout: arr(d.B * d.T * d.H),
      dstates: [arr(d.B * d.H), arr(d.B * d.H)],
    };
  };
  const a = layer({ B: 20, T: 6, F: 3, H: 8 });
  const b = layer({ B: 7, T: 9, F: 8, H: 5 });
  const run = (
    l: ReturnType<typeof layer>,
    tape: import("../../src/numerics/fused/cells.js").Tape,
  ) => backward(k, tape, l.dout, l.dstates);

  it("gives the same gradients whatever runs between a forward pass and its backward pass, and frees everything", () => {
    const alone = [a, b].map((l) => run(l, forward(k, "lstm", l.d, l.inputs, true).saved!));
    assert.equal(k.inUse(), 0);
    // Both forward passes first, then the backward passes in the same order (not the reverse):
    // regions are not a stack. Scratch of the later calls must not touch the earlier tapes.
    const ta = forward(k, "lstm", a.d, a.inputs, true).saved!;
    const tb = forward(k, "lstm", b.d, b.inputs, true).saved!;
    assert.ok(k.inUse() > 0);
    const ga = run(a, ta);
    // A new tape fits in the gap a left below b.
    const tc = forward(k, "lstm", b.d, b.inputs, true).saved!;
    assert.ok(tc.chunks[0]!.p.w! < tb.chunks[0]!.p.w!);
    assert.deepEqual([ga, run(b, tb)], alone);
    assert.deepEqual(run(b, tc), alone[1]);
    assert.equal(k.inUse(), 0);
    // Releasing twice frees nothing that has since taken the same place.
    const td = forward(k, "lstm", a.d, a.inputs, true).saved!;
    ta.release();
    assert.ok(k.inUse() > 0);
    run(a, td);
  });

  it("refuses, with advice, a layer larger than WebAssembly's 4 GiB", () => {
    assert.throws(
      () => k.scratch({ gates: 2 ** 30 + 1 }),
      (e: Error & { hint?: string }) =>
        /needs 4\.0 GiB in rnnp's fused kernels, more than WebAssembly's 4 GiB/.test(e.message) &&
        /lower batchSize/.test(e.hint ?? ""),
    );
    assert.equal(k.inUse(), 0);
  });

  it("starts every buffer on a 64-byte boundary (a cache line; one 512-bit vector)", () => {
    // Odd sizes, the flow's 3-float counts among them: none may shift a later buffer off the lines.
    const sizes = { sat: 3, dhn: 17, gates: 1001, tiny: 1, dz: 4096 };
    const held = k.allocate(sizes, {});
    const scratch = k.scratch(sizes);
    const offsets = [held, scratch].flatMap((l) => Object.keys(sizes).map((n) => l[n as "sat"]));
    assert.deepEqual(
      offsets.map((p) => p % 64),
      offsets.map(() => 0),
    );
    assert.ok(scratch.sat >= held.end, "scratch lies above the held region");
    held.release();
    assert.equal(k.inUse(), 0);
  });

  it("keeps no tape for inference", () => {
    forward(k, "lstm", a.d, a.inputs, false);
    assert.equal(k.inUse(), 0);
  });

  it("frees a tape that is dropped without a backward pass once it is collected", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    (() => forward(k, "lstm", a.d, a.inputs, true))();
    assert.ok(k.inUse() > 0);
    for (let i = 0; i < 20 && k.inUse() > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(k.inUse(), 0);
  });
});

// A layer that runs once per batch (applyOnce) must not hand back outputs made with other weights:
// a model whose last layer is the recurrent one gives those outputs to a caller who may keep them.
it("applied again to the same tensor after its weights changed, it runs again (review13)", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const [B, T, F] = [3, 4, 2];
  const m = tf.sequential({
    layers: [tf.layers.gru({ units: 3, recurrentActivation: "sigmoid", inputShape: [T, F] })],
  });
  assert.equal(fuse(tf, m).fused.length, 1);
  const x = tf.tensor3d(
    Array.from({ length: B * T * F }, (_, i) => Math.sin(i)),
    [B, T, F],
  );
  const before = m.predict(x) as Tensor;
  m.setWeights(m.getWeights().map((w) => tf.mul(w, 2)));
  const after = m.predict(x) as Tensor;
  assert.notDeepEqual(Array.from(after.dataSync()), Array.from(before.dataSync()), "predict");
  const a1 = m.apply(x) as Tensor;
  m.setWeights(m.getWeights().map((w) => tf.mul(w, 2)));
  const a2 = m.apply(x) as Tensor;
  assert.notDeepEqual(Array.from(a2.dataSync()), Array.from(a1.dataSync()), "model.apply");
  const layer = m.layers[0]!;
  const l1 = layer.apply(x) as Tensor;
  m.setWeights(m.getWeights().map((w) => tf.mul(w, 2)));
  const l2 = layer.apply(x) as Tensor;
  assert.notDeepEqual(Array.from(l2.dataSync()), Array.from(l1.dataSync()), "layer.apply");
});
