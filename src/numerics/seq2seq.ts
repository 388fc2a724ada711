import type { BlockSpec, ParamProblem } from "../stages/kind.js";
import { p, type ParamsSpec } from "../stages/schema.js";
import type { SequenceInfo } from "../artifacts/sequences.js";
import type { LayerCall } from "./layers.js";
import type { TF } from "./tf.js";

type LayersModel = import("@tensorflow/tfjs").LayersModel;
type SymbolicTensor = import("@tensorflow/tfjs").SymbolicTensor;
type Tensor = import("@tensorflow/tfjs").Tensor;

/**
 * Encoder-decoder (seq2seq) models, declared as two blocks:
 *
 *   stage net = seq2seq(pairs.train) {
 *     encoder { embedding(dim: 64) bidirectional(lstm(units: 128)) }
 *     decoder { embedding(dim: 64) lstm(units: 256) }
 *   }
 *
 * The encoder reads the input ids; its last recurrent layer's final state (both directions
 * concatenated for a bidirectional one) starts the decoder, which reads <bos> + the target shifted
 * right (teacher forcing) and gives a distribution over the target vocabulary at every step. For
 * decoding, the same layers are rewired into an encoder model and a one-step decoder model.
 */
const cell = {
  units: p.int("Size of the hidden state.", { min: 1 }),
  dropout: p.number("Dropout on the inputs, during training.", { min: 0, max: 0.99 }).default(0),
  recurrentDropout: p
    .number("Dropout on the recurrent state, during training.", { min: 0, max: 0.99 })
    .default(0),
};
const embedding = { dim: p.int("Size of each token's vector.", { min: 1 }) };

export const ENCODER_LAYERS: Record<string, ParamsSpec> = {
  embedding,
  lstm: cell,
  gru: cell,
  bidirectional: {
    layer: p.call("The recurrent layer to run both ways.", { lstm: cell, gru: cell }).positional(),
  },
};
export const DECODER_LAYERS: Record<string, ParamsSpec> = { embedding, lstm: cell, gru: cell };

export const SEQ2SEQ_BLOCK: BlockSpec = {
  param: "parts",
  doc: "an encoder { ... } block and a decoder { ... } block",
  items: { encoder: {}, decoder: {} },
  nested: {
    encoder: { param: "layers", doc: "an embedding, then recurrent layers", items: ENCODER_LAYERS },
    decoder: {
      param: "layers",
      doc: "an embedding, then one recurrent layer",
      items: DECODER_LAYERS,
    },
  },
};

interface Parts {
  encoder: LayerCall[];
  decoder: LayerCall[];
}

export function partsOf(params: object): Parts {
  const parts = (params as { parts: (LayerCall & { block: LayerCall[] })[] }).parts;
  return {
    encoder: parts.find((x) => x.call === "encoder")?.block ?? [],
    decoder: parts.find((x) => x.call === "decoder")?.block ?? [],
  };
}

const recurrentOf = (l: LayerCall) =>
  l.call === "bidirectional" ? (l.args.layer as LayerCall) : l;

/** The encoder's final state size: units, or twice them for a bidirectional layer (directions concatenated). */
function stateSize(last: LayerCall): number {
  const r = recurrentOf(last);
  return (r.args.units as number) * (last.call === "bidirectional" ? 2 : 1);
}

export function checkSeq2seq(params: object, data: SequenceInfo | undefined): ParamProblem[] {
  const parts = (params as { parts: LayerCall[] }).parts;
  const problems: ParamProblem[] = [];
  const at = (part: string) => parts.findIndex((x) => x.call === part);
  for (const part of ["encoder", "decoder"]) {
    if (at(part) < 0)
      problems.push({ param: "parts", message: `a seq2seq model needs a ${part} { ... } block` });
    if (parts.filter((x) => x.call === part).length > 1)
      problems.push({
        param: `parts.${parts.map((x) => x.call).lastIndexOf(part)}`,
        message: `only one ${part} block`,
      });
  }
  if (problems.length) return problems;
  const { encoder, decoder } = partsOf(params);
  const enc = `parts.${at("encoder")}.layers`;
  const dec = `parts.${at("decoder")}.layers`;
  if (encoder[0]?.call !== "embedding")
    problems.push({
      param: `${enc}.0`,
      message: "the encoder must start with an embedding of the input tokens",
      hint: "embedding(dim: 64)",
    });
  if (encoder.length < 2)
    problems.push({
      param: `parts.${at("encoder")}`,
      message: "the encoder needs at least one recurrent layer after its embedding",
    });
  encoder.slice(1).forEach((l, i) => {
    if (l.call === "embedding")
      problems.push({
        param: `${enc}.${i + 1}`,
        message: "an embedding must be the encoder's first layer",
      });
  });
  if (
    decoder.length !== 2 ||
    decoder[0]!.call !== "embedding" ||
    decoder[1]!.call === "embedding"
  ) {
    problems.push({
      param: `parts.${at("decoder")}`,
      message: "the decoder is an embedding followed by one recurrent layer",
      hint: "decoder { embedding(dim: 64) lstm(units: 256) }",
    });
  }
  const last = encoder.at(-1);
  const d = decoder[1];
  if (!problems.length && last && d) {
    if (recurrentOf(last).call !== d.call)
      problems.push({
        param: `${dec}.1`,
        message: `the decoder's ${d.call} cannot start from the state of the encoder's ${recurrentOf(last).call}`,
        hint: `use ${recurrentOf(last).call} in both`,
      });
    else if ((d.args.units as number) !== stateSize(last)) {
      problems.push({
        param: `${dec}.1`,
        message: `the decoder starts from the encoder's final state, which has ${stateSize(last)} units; this layer has ${d.args.units as number}`,
        hint: `units: ${stateSize(last)}`,
      });
    }
  }
  if (data && data.target !== "tokens")
    problems.push({
      param: "parts",
      message: "a seq2seq model needs target sequences of their own length",
      hint: 'encode(..., target: "column", targetVocab: v, aligned: false)',
    });
  if (data && data.input !== "tokens")
    problems.push({
      param: "parts",
      message: "a seq2seq encoder reads token ids",
      hint: "encode without oneHot",
    });
  return problems;
}

/** The training model: [input ids, decoder input ids] -> per-step probabilities over the target vocabulary. */
export function buildSeq2seq(tf: TF, parts: Parts, vocab: { input: number; target: number }) {
  const L = tf.layers;
  const zeros = "zeros" as const;
  const rnn = (l: LayerCall, name: string, extra: object) => {
    const cfg = {
      units: l.args.units as number,
      dropout: l.args.dropout as number,
      recurrentDropout: l.args.recurrentDropout as number,
      kernelInitializer: zeros,
      recurrentInitializer: zeros,
      biasInitializer: zeros,
      recurrentActivation: "sigmoid" as const,
      name,
      ...extra,
    };
    return l.call === "lstm" ? L.lstm({ ...cfg, unitForgetBias: false }) : L.gru(cfg);
  };
  const encIn = tf.input({ shape: [null], dtype: "int32", name: "encoder_input" });
  let h = L.embedding({
    inputDim: vocab.input,
    outputDim: parts.encoder[0]!.args.dim as number,
    maskZero: true,
    embeddingsInitializer: zeros,
    name: "enc_embedding",
  }).apply(encIn) as SymbolicTensor;
  const layers = parts.encoder.slice(1);
  let states: SymbolicTensor[] = [];
  layers.forEach((l, i) => {
    const last = i === layers.length - 1;
    const inner = recurrentOf(l);
    const name = `enc_${inner.call}_${i + 2}`;
    if (l.call === "bidirectional") {
      const bi = L.bidirectional({
        layer: rnn(inner, name, { returnSequences: !last, returnState: last }) as never,
        mergeMode: "concat",
        name: `enc_bidirectional_${i + 2}`,
      });
      const out = bi.apply(h) as SymbolicTensor | SymbolicTensor[];
      if (!last) h = out as SymbolicTensor;
      else {
        const o = out as SymbolicTensor[];
        // [output, forward states..., backward states...]: concatenate each state's two directions.
        const k = (o.length - 1) / 2;
        states = Array.from(
          { length: k },
          (_, s) =>
            L.concatenate({ name: `enc_state_${s}` }).apply([
              o[1 + s]!,
              o[1 + k + s]!,
            ]) as SymbolicTensor,
        );
      }
    } else {
      const out = rnn(inner, name, { returnSequences: !last, returnState: last }).apply(h) as
        | SymbolicTensor
        | SymbolicTensor[];
      if (!last) h = out as SymbolicTensor;
      else states = (out as SymbolicTensor[]).slice(1);
    }
  });
  const d = parts.decoder;
  const decIn = tf.input({ shape: [null], dtype: "int32", name: "decoder_input" });
  const e = L.embedding({
    inputDim: vocab.target,
    outputDim: d[0]!.args.dim as number,
    maskZero: true,
    embeddingsInitializer: zeros,
    name: "dec_embedding",
  }).apply(decIn) as SymbolicTensor;
  const decRnn = rnn(d[1]!, `dec_${d[1]!.call}`, { returnSequences: true, returnState: true });
  // Initial state passed as extra inputs (not as the initialState keyword, which TF.js cannot
  // serialise and then re-applies twice): [input, ...states].
  const seq = (decRnn.apply([e, ...states]) as SymbolicTensor[])[0]!;
  const out = L.timeDistributed({
    layer: L.dense({
      units: vocab.target,
      activation: "softmax",
      kernelInitializer: zeros,
      biasInitializer: zeros,
      name: "dec_dense",
    }),
    name: "dec_out",
  }).apply(seq) as SymbolicTensor;
  return tf.model({ inputs: [encIn, decIn], outputs: out, name: "seq2seq" });
}

/** The trained model's layers rewired for decoding: encoder -> states, and one decoder step. */
export function inferenceModels(
  tf: TF,
  model: LayersModel,
): { encoder: LayersModel; step: LayersModel; cell: "lstm" | "gru"; size: number } {
  const decRnn = model.layers.find((l) => /^dec_(lstm|gru)$/.test(l.name))!;
  const cellType = decRnn.name.endsWith("lstm") ? "lstm" : "gru";
  const stateLayers = model.layers.filter((l) => /^enc_state_\d+$/.test(l.name));
  let states: SymbolicTensor[];
  if (stateLayers.length)
    states = stateLayers
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((l) => l.output as SymbolicTensor);
  else {
    const encLast = model.layers.filter((l) => /^enc_(lstm|gru)_\d+$/.test(l.name)).at(-1)!;
    states = (encLast.output as SymbolicTensor[]).slice(1);
  }
  const encoder = tf.model({ inputs: model.inputs[0]!, outputs: states });
  const size = states[0]!.shape.at(-1) as number;
  // TF.js 4.22: a recurrent layer given its state as extra inputs writes `initialState` into the
  // keyword arguments it was called with; when the graph runner calls it again with the same
  // arguments (a layer with several outputs), it then rejects them. Give each call fresh ones.
  const apply = decRnn.apply.bind(decRnn);
  decRnn.apply = (inputs, kwargs) =>
    apply(
      inputs,
      kwargs && Array.isArray(inputs) ? { ...kwargs, initialState: undefined } : kwargs,
    );
  const tok = tf.input({ shape: [1], dtype: "int32", name: "step_token" });
  const stateIns = states.map((_, i) => tf.input({ shape: [size], name: `step_state_${i}` }));
  const emb = model.getLayer("dec_embedding").apply(tok) as SymbolicTensor;
  const [seq, ...next] = decRnn.apply([emb, ...stateIns]) as SymbolicTensor[];
  const probs = model.getLayer("dec_out").apply(seq!) as SymbolicTensor;
  const step = tf.model({ inputs: [tok, ...stateIns], outputs: [probs, ...next] });
  return { encoder, step, cell: cellType, size };
}

/** Finished hypotheses compete by log-probability over length^0.6 (GNMT's length penalty, simplified). */
const LENGTH_PENALTY = 0.6;
const normalised = (logp: number, length: number) => logp / Math.max(1, length) ** LENGTH_PENALTY;

/**
 * Decodes a batch of inputs, greedily (beam 1) or with beam search: per example, the `beam` best
 * partial sequences by total log-probability. A hypothesis ends when <eos> ranks among the `beam`
 * best continuations; an example is decided when it has `beam` finished hypotheses and its best
 * live one no longer beats the worst of them (judged at the current length). Returns token ids
 * without <eos>; beam 1 is exactly greedy decoding.
 */
export function decode(
  tf: TF,
  m: ReturnType<typeof inferenceModels>,
  x: Int32Array,
  shape: [number, number],
  o: { bos: number; eos: number; maxLen: number; beam: number },
): number[][] {
  const [n] = shape;
  const k = Math.max(1, o.beam);
  const initial = tf.tidy(() => {
    // apply (not predict): TF.js's predict executor re-runs a layer once per output it fetches, and
    // recurrent layers with returned states then fail or run several times.
    const s = m.encoder.apply(tf.tensor2d(x, shape, "int32"), { training: false }) as
      | Tensor
      | Tensor[];
    const list = Array.isArray(s) ? s : [s];
    // Every example starts with k copies of its state (one per beam).
    return list.map((t) =>
      tf.keep(
        tf.gather(
          t,
          tf.tensor1d(
            Array.from({ length: n * k }, (_, r) => Math.floor(r / k)),
            "int32",
          ),
        ),
      ),
    );
  });
  let states = initial;
  const seqs: number[][] = Array.from({ length: n * k }, () => []);
  const scores = Float64Array.from({ length: n * k }, (_, r) => (r % k === 0 ? 0 : -Infinity));
  const finished: { seq: number[]; score: number }[][] = Array.from({ length: n }, () => []);
  const decided = new Uint8Array(n);
  const dead = (ex: number) => ({ from: ex * k, token: 0, score: -Infinity });
  let tokens = new Int32Array(n * k).fill(o.bos);
  for (let t = 0; t < o.maxLen; t++) {
    const [probs, ...next] = tf.tidy(
      () =>
        m.step.apply([tf.tensor2d(tokens, [n * k, 1], "int32"), ...states], {
          training: false,
        }) as Tensor[],
    );
    const p = probs!.dataSync() as Float32Array;
    const V = p.length / (n * k);
    probs!.dispose();
    const pick: { from: number; token: number; score: number }[] = [];
    for (let ex = 0; ex < n; ex++) {
      const cands: { from: number; token: number; score: number }[] = [];
      for (let b = 0; b < k && !decided[ex]; b++) {
        const r = ex * k + b;
        if (scores[r] === -Infinity) continue;
        // Its k+1 best continuations are enough to find the k best overall, one of them <eos> or not.
        // Padding and <bos> are never outputs (a half-trained model may still give them probability).
        const row = Array.from(p.subarray(r * V, (r + 1) * V), (v, token) => ({
          token,
          lp: Math.log(Math.max(v, 1e-30)),
        })).filter((c) => c.token !== 0 && c.token !== o.bos);
        row.sort((a, b2) => b2.lp - a.lp || a.token - b2.token);
        for (const c of row.slice(0, k + 1))
          cands.push({ from: r, token: c.token, score: scores[r]! + c.lp });
      }
      cands.sort((a, b2) => b2.score - a.score || a.from - b2.from || a.token - b2.token);
      const alive: typeof cands = [];
      const done = finished[ex]!;
      for (const [rank, c] of cands.entries()) {
        if (c.token !== o.eos) alive.push(c);
        // An <eos> merely possible (ranked below the k best) would fill the finished list with short
        // hypotheses and end the search before the likely, longer ones finish.
        else if (rank < k) {
          done.push({ seq: seqs[c.from]!, score: normalised(c.score, t + 1) });
          done.sort((a, b2) => b2.score - a.score);
          done.length = Math.min(done.length, k);
        }
        if (alive.length === k) break;
      }
      if (
        !alive.length ||
        (done.length >= k && normalised(alive[0]!.score, t + 1) <= done.at(-1)!.score)
      )
        decided[ex] = 1;
      // Decided examples keep dead beams (score -Infinity) so that rows stay aligned.
      for (let b = 0; b < k; b++) pick.push(decided[ex] ? dead(ex) : (alive[b] ?? dead(ex)));
    }
    if (pick.every((c) => c.score === -Infinity)) {
      tf.dispose(next);
      break;
    }
    const rows = tf.tensor1d(
      pick.map((c) => c.from),
      "int32",
    );
    const gathered = next.map((s) => tf.gather(s, rows));
    tf.dispose([...next, ...states, rows]);
    states = gathered;
    const before = seqs.map((s) => s);
    pick.forEach((c, r) => {
      seqs[r] = c.score === -Infinity ? [] : [...before[c.from]!, c.token];
      scores[r] = c.score;
    });
    tokens = Int32Array.from(pick, (c) => c.token);
  }
  tf.dispose(states);
  return Array.from({ length: n }, (_, ex) => {
    const done = finished[ex]!;
    if (done.length) return done[0]!.seq;
    let best = ex * k;
    for (let b = 1; b < k; b++) if (scores[ex * k + b]! > scores[best]!) best = ex * k + b;
    return seqs[best]!;
  });
}
