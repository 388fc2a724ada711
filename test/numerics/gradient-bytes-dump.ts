// Not a test on its own (gradient-bytes.test.ts runs it): prints, as JSON, a digest of the bits of
// every gradient of a set of fused-layer setups, on the backend given as argv[2] (cpu | wasm) and
// the kernels RNNP_KERNELS_IMPL picks. Each setup exercises a decision of gradient-targets.ts (data
// leaf, differentiated input, initial states given, made, data or differentiated) or op.ts's reads
// of the wasm backend's memory.
import { createHash } from "node:crypto";
import seedrandom from "seedrandom";
import { fuse } from "../../src/numerics/fused/fuse.js";
import { kernels } from "../../src/numerics/fused/kernels.js";
import { loadTf } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { randomWeights } from "./random-weights.js";

type Tensor = import("../../src/runtime/tfjs.js").Tensor;
type Variable = import("../../src/runtime/tfjs.js").Variable;
type LayersModel = import("../../src/runtime/tfjs.js").LayersModel;

const backend = (process.argv[2] ?? "cpu") as "cpu" | "wasm";
// Dropout masks (tf.dropout draws from Math.random): the same in every run.
Math.random = seedrandom("math.random");
const tf = await loadTf(describeRuntime(backend));
const random = seedrandom("review13");
const values = (n: number, scale = 1) =>
  Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const digest = (t: Tensor | Float32Array) => {
  const a = t instanceof Float32Array ? t : (t.dataSync() as Float32Array);
  return createHash("sha256").update(new Uint8Array(a.slice().buffer)).digest("hex").slice(0, 16);
};
/** Weights drawn from their own stream: the same for every model made with the same seed. */
const setWeights = (m: LayersModel, seed = "w") => randomWeights(tf, m, seed, 0.5);

const out: Record<string, Record<string, string>> = {};

/** Gradients of sum(out * weigh) wrt the model's weights and any extra `wrt` variables. */
function grads(
  name: string,
  m: LayersModel,
  inputs: Tensor | Tensor[],
  extra: Variable[] = [],
): void {
  const f = fuse(tf, m);
  if (f.unfused.length) throw new Error(`${name}: unfused ${JSON.stringify(f.unfused)}`);
  const wrt = [...extra, ...m.trainableWeights.map((w) => w.read() as Variable)];
  const r = seedrandom(`weigh:${name.split("/")[0]}`);
  let weigh: Tensor | undefined;
  const { grads: g, value } = tf.variableGrads(() => {
    const y = m.apply(inputs, { training: true }) as Tensor;
    weigh ??= tf.tensor(
      Float32Array.from({ length: y.size }, () => r() * 2 - 1),
      y.shape,
    );
    return tf.sum(tf.mul(y, weigh)) as never;
  }, wrt);
  out[name] = { value: digest(value) };
  wrt.forEach((v, i) => (out[name]![`${i - extra.length}`] = digest(g[v.name]!)));
}

// 1. data -> LSTM(seq) -> GRU -> SimpleRNN(backwards): the first reads data.
{
  const [B, T, F] = [37, 7, 5];
  const mk = () => {
    const m = tf.sequential({
      layers: [
        tf.layers.lstm({
          recurrentActivation: "sigmoid",
          units: 6,
          returnSequences: true,
          inputShape: [T, F],
        }),
        tf.layers.gru({ recurrentActivation: "sigmoid", units: 4, returnSequences: true }),
        tf.layers.simpleRNN({ units: 3, goBackwards: true }),
      ],
    });
    setWeights(m);
    return m;
  };
  const x = tf.tensor3d(values(B * T * F), [B, T, F]);
  grads("stack/data", mk(), x);
  // The same input, differentiated (a variable in xs): the same weight gradients, plus dx.
  const v = tf.variable(x.clone(), true, "xvar");
  grads("stack/xs", mk(), v, [v]);
  // tf.grad with respect to the input.
  const m = mk();
  fuse(tf, m);
  const r = seedrandom("weigh:stack");
  const weigh = tf.tensor(
    Float32Array.from({ length: B * 3 }, () => r() * 2 - 1),
    [B, 3],
  );
  const dx = tf.grad((a: Tensor) =>
    tf.sum(tf.mul(m.apply(a, { training: true }) as Tensor, weigh)),
  )(x);
  out["stack/tf.grad"] = { dx: digest(dx) };
}

// 2. masking -> bidirectional GRU (data in), then dense.
{
  const [B, T, F] = [21, 9, 3];
  const m = tf.sequential({
    layers: [
      tf.layers.masking({ maskValue: 0, inputShape: [T, F] }),
      tf.layers.bidirectional({
        layer: tf.layers.gru({
          recurrentActivation: "sigmoid",
          units: 5,
          returnSequences: true,
        }) as never,
      }),
      tf.layers.lstm({ recurrentActivation: "sigmoid", units: 4 }),
    ],
  });
  setWeights(m);
  const xv = values(B * T * F);
  for (let b = 0; b < B; b++)
    for (let t = T - (b % 4); t < T; t++) xv.fill(0, (b * T + t) * F, (b * T + t + 1) * F);
  grads("masked-bidi", m, tf.tensor3d(xv, [B, T, F]));
}

// 3. embedding -> LSTM, and a frozen embedding.
{
  const [B, T, V] = [19, 8, 11];
  const ids = tf.tensor2d(
    Int32Array.from({ length: B * T }, () => Math.floor(random() * V)),
    [B, T],
    "int32",
  );
  for (const frozen of [false, true]) {
    const m = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: V, outputDim: 4, inputLength: T, maskZero: true }),
        tf.layers.lstm({ recurrentActivation: "sigmoid", units: 5 }),
      ],
    });
    setWeights(m);
    if (frozen) m.layers[0]!.trainable = false;
    grads(`embedding${frozen ? "/frozen" : ""}`, m, ids);
  }
}

// 4. encoder -> decoder with the encoder's final states as initial states (functional, seq2seq-like),
//    and a decoder whose initial states are model inputs fed with data (or differentiated).
{
  const [B, T, F, H] = [18, 6, 4, 5];
  const encIn = tf.input({ shape: [T, F] });
  const decIn = tf.input({ shape: [T, F] });
  const enc = tf.layers.lstm({ recurrentActivation: "sigmoid", units: H, returnState: true });
  const [, h, c] = enc.apply(encIn) as import("../../src/runtime/tfjs.js").SymbolicTensor[];
  const dec = tf.layers.lstm({ recurrentActivation: "sigmoid", units: H, returnSequences: true });
  const y = dec.apply([decIn, h!, c!]) as import("../../src/runtime/tfjs.js").SymbolicTensor;
  const m = tf.model({ inputs: [encIn, decIn], outputs: y });
  setWeights(m);
  const xe = tf.tensor3d(values(B * T * F), [B, T, F]);
  const xd = tf.tensor3d(values(B * T * F), [B, T, F]);
  grads("seq2seq", m, [xe, xd]);

  const sIn = [tf.input({ shape: [H] }), tf.input({ shape: [H] })];
  const dIn = tf.input({ shape: [T, F] });
  const d2 = tf.layers.gru({ recurrentActivation: "sigmoid", units: H, returnSequences: true });
  const mk = () => {
    const m2 = tf.model({
      inputs: [dIn, sIn[0]!],
      outputs: d2.apply([dIn, sIn[0]!]) as import("../../src/runtime/tfjs.js").SymbolicTensor,
    });
    return m2;
  };
  const m2 = mk();
  setWeights(m2);
  const s0 = tf.tensor2d(values(B * H), [B, H]);
  grads("init-state/data", m2, [xd, s0]);
  const sv = tf.variable(s0.clone(), true, "svar");
  grads("init-state/xs", m2, [xd, sv], [sv]);
}

// 5. A large batch: the wasm backend's memory grows while the batch is made and used.
{
  const [B, T, F] = [700, 30, 24];
  const m = tf.sequential({
    layers: [
      tf.layers.gru({
        recurrentActivation: "sigmoid",
        units: 16,
        returnSequences: false,
        inputShape: [T, F],
      }),
    ],
  });
  setWeights(m);
  grads("large", m, tf.tensor3d(values(B * T * F), [B, T, F]));
}

// 6. Every cell and a bidirectional wrapper reading data first; dropout and recurrent dropout; a
//    mask given to a layer reading data.
{
  const [B, T, F] = [33, 5, 6];
  const x = tf.tensor3d(values(B * T * F), [B, T, F]);
  const first = {
    simple: () => tf.layers.simpleRNN({ units: 4, returnSequences: true, inputShape: [T, F] }),
    gru: () =>
      tf.layers.gru({
        recurrentActivation: "sigmoid",
        units: 4,
        returnSequences: true,
        inputShape: [T, F],
      }),
    bidi: () =>
      tf.layers.bidirectional({
        layer: tf.layers.lstm({
          recurrentActivation: "sigmoid",
          units: 3,
          returnSequences: true,
        }) as never,
        inputShape: [T, F],
      }),
    dropout: () =>
      tf.layers.lstm({
        recurrentActivation: "sigmoid",
        units: 4,
        returnSequences: true,
        dropout: 0.3,
        recurrentDropout: 0.4,
        inputShape: [T, F],
      }),
    gruDropout: () =>
      tf.layers.gru({
        recurrentActivation: "sigmoid",
        units: 4,
        returnSequences: true,
        recurrentDropout: 0.25,
        inputShape: [T, F],
      }),
  };
  for (const [name, make] of Object.entries(first)) {
    const m = tf.sequential({ layers: [make() as never, tf.layers.simpleRNN({ units: 2 })] });
    setWeights(m, name);
    grads(`first/${name}`, m, x);
    const v = tf.variable(x.clone(), true, `x_${name}`);
    const m2 = tf.sequential({ layers: [make() as never, tf.layers.simpleRNN({ units: 2 })] });
    setWeights(m2, name);
    grads(`first/${name}/xs`, m2, v, [v]);
  }
  // A mask given directly with data.
  const layer = tf.layers.lstm({ recurrentActivation: "sigmoid", units: 4, returnSequences: true });
  const mv = Float32Array.from({ length: B * T }, (_, i) => ((i * 7) % 5 === 0 ? 0 : 1));
  const mask = tf.tensor2d(mv, [B, T]);
  const inp = tf.input({ shape: [T, F] });
  const m = tf.model({ inputs: inp, outputs: layer.apply(inp) as never });
  setWeights(m, "mask");
  fuse(tf, m);
  const r = seedrandom("weigh:mask");
  const weigh = tf.tensor(
    Float32Array.from({ length: B * T * 4 }, () => r() * 2 - 1),
    [B, T, 4],
  );
  const wrt = m.trainableWeights.map((w) => w.read() as Variable);
  const g = tf.variableGrads(
    () => tf.sum(tf.mul(layer.apply(x, { mask, training: true }) as Tensor, weigh)) as never,
    wrt,
  ).grads;
  out["mask/data"] = Object.fromEntries(wrt.map((v, i) => [String(i), digest(g[v.name]!)]));
}

process.stdout.write(JSON.stringify({ backend, kernels: kernels().describe(), out }, null, 1));
