import type { SequenceInfo } from "../artifacts/sequences.js";
import { type BlockItem, defineBlock, type ParamProblem } from "../stages/kind.js";
import { type CallsOf, p } from "../stages/schema.js";
import type { InitRule } from "./init.js";
import { bidirectional } from "./layers/bidirectional.js";
import { embedding } from "./layers/embedding.js";
import { gru } from "./layers/gru.js";
import { LAYERS } from "./layers/index.js";
import {
  type AnyLayerCall,
  type Shape,
  type TfLayer,
  type WeightDecl,
  withDefaults,
} from "./layers/layer.js";
import { lstm } from "./layers/lstm.js";
import { rnnParams } from "./layers/recurrent.js";
import {
  activationsOf,
  declareInit,
  paramsOf,
  sizeProblems,
  type Step,
  walk,
} from "./layers/sequential.js";
import { type Summary, summarise } from "./layers/summary.js";
import type { TF } from "./tf.js";

type LayersModel = import("../runtime/tfjs.js").LayersModel;
type SymbolicTensor = import("../runtime/tfjs.js").SymbolicTensor;
type Tensor = import("../runtime/tfjs.js").Tensor;

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
 *
 * The blocks hold the model's layers (their declarations build them, initialise and count their
 * weights), with fewer parameters: where they sit decides what they return, and the cells keep
 * their default activations.
 */
const cell = {
  units: rnnParams.units,
  dropout: rnnParams.dropout,
  recurrentDropout: rnnParams.recurrentDropout,
};
const CELLS = { lstm, gru };
const vectors = { dim: embedding.params.dim };

export const ENCODER_LAYERS = {
  embedding: vectors,
  lstm: cell,
  gru: cell,
  bidirectional: {
    layer: p.call(bidirectional.params.layer.doc, { lstm: cell, gru: cell }).positional(),
  },
};
export const DECODER_LAYERS = { embedding: vectors, lstm: cell, gru: cell };

export const SEQ2SEQ_BLOCK = defineBlock({
  param: "parts",
  doc: "an encoder { ... } block and a decoder { ... } block",
  items: { encoder: {}, decoder: {} },
  nested: {
    encoder: defineBlock({
      param: "layers",
      doc: "an embedding, then recurrent layers",
      items: ENCODER_LAYERS,
    }),
    decoder: defineBlock({
      param: "layers",
      doc: "an embedding, then one recurrent layer",
      items: DECODER_LAYERS,
    }),
  },
});

type EncoderLayer = CallsOf<typeof ENCODER_LAYERS>;
type DecoderLayer = CallsOf<typeof DECODER_LAYERS>;
type Cell = CallsOf<{ lstm: typeof cell; gru: typeof cell }>;

/** The kind's parameters: its `parts` block. */
export interface Seq2seqParams {
  parts: BlockItem<typeof SEQ2SEQ_BLOCK>[];
}

interface Parts {
  encoder: EncoderLayer[];
  decoder: DecoderLayer[];
}

export function partsOf(params: Seq2seqParams): Parts {
  const parts: Parts = { encoder: [], decoder: [] };
  for (const part of params.parts) {
    if (part.call === "encoder" && !parts.encoder.length) parts.encoder = part.block;
    if (part.call === "decoder" && !parts.decoder.length) parts.decoder = part.block;
  }
  return parts;
}

/** The recurrent layer of an encoder layer (the one a bidirectional wraps); none for an embedding. */
function recurrentOf(l: EncoderLayer | DecoderLayer): Cell | undefined {
  return l.call === "bidirectional" ? l.args.layer : l.call === "embedding" ? undefined : l;
}

/** The encoder's final state size: units, or twice them for a bidirectional layer (directions concatenated). */
function stateSize(last: EncoderLayer): number {
  return (recurrentOf(last)?.args.units ?? 0) * (last.call === "bidirectional" ? 2 : 1);
}

/**
 * The layers as the model holds them: each with all its declaration's arguments, those the blocks
 * leave out at their defaults, and what its position decides (a recurrent layer returns its
 * sequence unless it is the encoder's last).
 */
function fullCall(l: EncoderLayer | DecoderLayer, returnSequences: boolean): AnyLayerCall {
  const recurrent = (c: Cell) => withDefaults(CELLS[c.call].params, { ...c.args, returnSequences });
  switch (l.call) {
    case "embedding":
      return { call: "embedding", args: withDefaults(embedding.params, { ...l.args, mask: true }) };
    case "bidirectional": {
      const inner = l.args.layer;
      return {
        call: "bidirectional",
        args: withDefaults(bidirectional.params, {
          layer: { call: inner.call, args: recurrent(inner) },
        }),
      };
    }
    default:
      return { call: l.call, args: recurrent(l) };
  }
}

/** The parts' layers with every argument of their declarations (for summaries). */
export function fullLayers(parts: Parts): { encoder: AnyLayerCall[]; decoder: AnyLayerCall[] } {
  return {
    encoder: parts.encoder.map((l, i) => fullCall(l, i < parts.encoder.length - 1)),
    decoder: parts.decoder.map((l) => fullCall(l, true)),
  };
}

/** Layer names, fixed: the weights carry them, and decoding finds the decoder's layers by them. */
const NAMES = {
  encoder: (call: string, i: number) => (i === 0 ? "enc_embedding" : `enc_${call}_${i + 1}`),
  decoder: (call: string, i: number) => (i === 0 ? "dec_embedding" : `dec_${call}`),
  state: (s: number) => `enc_state_${s}`,
  output: "dec_out",
  outputDense: "dec_dense",
};

/** TF.js's `apply` on symbolic tensors, typed by what the layer gives: one tensor... */
const one = (layer: TfLayer, x: SymbolicTensor | SymbolicTensor[]) =>
  layer.apply(x) as SymbolicTensor;
/** ...or its output followed by its final states (a recurrent layer with returnState). */
const withStates = (layer: TfLayer, x: SymbolicTensor | SymbolicTensor[]) =>
  layer.apply(x) as SymbolicTensor[];

/** The encoder and decoder walked through their declarations (shapes, weights, names). */
function stepsOf(
  parts: Parts,
  vocab: { input?: number; target?: number },
  steps?: number,
): { encoder: Step[]; decoder: Step[] } {
  const ids = (vocabulary?: number, length?: number): Shape => ({
    rank: 2,
    ids: true,
    ...(vocabulary !== undefined ? { vocabulary } : {}),
    ...(length !== undefined ? { steps: length } : {}),
  });
  const full = fullLayers(parts);
  const encoder = walk(full.encoder, ids(vocab.input, steps), {
    param: "encoder",
    name: NAMES.encoder,
  }).steps;
  const decoder = walk(full.decoder, ids(vocab.target), {
    param: "decoder",
    name: NAMES.decoder,
  }).steps;
  return { encoder, decoder };
}

export function checkSeq2seq(
  params: Seq2seqParams,
  data: SequenceInfo | undefined,
): ParamProblem[] {
  const parts = params.parts;
  const problems: ParamProblem[] = [];
  const at = (part: string) => parts.findIndex((x) => x.call === part);
  for (const part of ["encoder", "decoder"] as const) {
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
  const d = decoder[1];
  if (decoder.length !== 2 || decoder[0]!.call !== "embedding" || d?.call === "embedding") {
    problems.push({
      param: `parts.${at("decoder")}`,
      message: "the decoder is an embedding followed by one recurrent layer",
      hint: "decoder { embedding(dim: 64) lstm(units: 256) }",
    });
  }
  const last = encoder.at(-1);
  const encoderCell = last && recurrentOf(last);
  const decoderCell = d && recurrentOf(d);
  if (!problems.length && last && encoderCell && decoderCell) {
    if (encoderCell.call !== decoderCell.call)
      problems.push({
        param: `${dec}.1`,
        message: `the decoder's ${decoderCell.call} cannot start from the state of the encoder's ${encoderCell.call}`,
        hint: `use ${encoderCell.call} in both`,
      });
    else if (decoderCell.args.units !== stateSize(last)) {
      problems.push({
        param: `${dec}.1`,
        message: `the decoder starts from the encoder's final state, which has ${stateSize(last)} units; this layer has ${decoderCell.args.units}`,
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
  if (!problems.length) {
    const steps = stepsOf({ encoder, decoder }, {}, data?.length);
    const where = (s: Step) => ({
      ...s,
      at: s.at.replace(/^encoder/, enc).replace(/^decoder/, dec),
    });
    problems.push(...sizeProblems([...steps.encoder.map(where), ...steps.decoder.map(where)]));
  }
  return problems;
}

/** What is known of a seq2seq model before it is built: its parameters (but the vocabularies'), one example's encoder activations. */
export function describeSeq2seq(params: Seq2seqParams, data: SequenceInfo | undefined) {
  const parts = partsOf(params);
  if (parts.encoder[0]?.call !== "embedding" || parts.decoder.length !== 2) return undefined;
  const { encoder, decoder } = stepsOf(parts, {}, data?.length);
  const activations = activationsOf(encoder);
  return {
    params: [...encoder, ...decoder].reduce((a, s) => a + paramsOf(s.weights).known, 0),
    ...(activations !== undefined ? { activations } : {}),
  };
}

/**
 * The training model: [input ids, decoder input ids] -> per-step probabilities over the target
 * vocabulary; and each weight's initialisation rule, by name.
 */
export function buildSeq2seq(
  tf: TF,
  parts: Parts,
  vocab: { input: number; target: number },
): { model: LayersModel; init: ReadonlyMap<string, InitRule>; summary: Summary } {
  const steps = stepsOf(parts, vocab);
  // Layers and their declared weights; TF.js makes a layer's weights when it is first applied.
  const made: [TfLayer, WeightDecl[]][] = [];
  // The output layer: token probabilities at every step.
  const [output] = walk(
    [
      {
        call: "timeDistributed",
        args: { layer: { call: "dense", args: { units: vocab.target, activation: "softmax" } } },
      },
    ],
    steps.decoder[1]!.output,
    { name: () => NAMES.output },
  ).steps;
  const build = (
    s: Step,
    config?: Record<string, unknown>,
    inner?: { name(call: string): string; config?: Record<string, unknown> },
  ) => {
    const layer = s.def.build(tf, s.call.args, {
      name: s.name,
      ...(config ? { config } : {}),
      ...(inner ? { inner } : {}),
      ...(s.input.vocabulary !== undefined ? { vocabulary: s.input.vocabulary } : {}),
    });
    made.push([layer, s.weights]);
    return layer;
  };
  const encIn = tf.input({ shape: [null], dtype: "int32", name: "encoder_input" });
  let h = one(build(steps.encoder[0]!), encIn);
  let states: SymbolicTensor[] = [];
  steps.encoder.forEach((s, j) => {
    if (j === 0) return;
    const last = j === steps.encoder.length - 1;
    if (s.call.call === "bidirectional") {
      const layer = build(s, undefined, {
        name: (call) => NAMES.encoder(call, j),
        config: { returnState: last },
      });
      if (!last) h = one(layer, h);
      else {
        const o = withStates(layer, h);
        // [output, forward states..., backward states...]: concatenate each state's two directions.
        const k = (o.length - 1) / 2;
        states = Array.from({ length: k }, (_, i) =>
          one(tf.layers.concatenate({ name: NAMES.state(i) }), [o[1 + i]!, o[1 + k + i]!]),
        );
      }
    } else {
      const layer = build(s, { returnState: last });
      if (!last) h = one(layer, h);
      else states = withStates(layer, h).slice(1);
    }
  });
  const decIn = tf.input({ shape: [null], dtype: "int32", name: "decoder_input" });
  const e = one(build(steps.decoder[0]!), decIn);
  // Initial state passed as extra inputs (not as the initialState keyword, which TF.js cannot
  // serialise and then re-applies twice): [input, ...states].
  const decRnn = build(steps.decoder[1]!, { returnState: true });
  const seq = withStates(decRnn, [e, ...states])[0]!;
  const out = one(build(output!, undefined, { name: () => NAMES.outputDense }), seq);
  const model = tf.model({ inputs: [encIn, decIn], outputs: out, name: "seq2seq" });
  const init = new Map<string, InitRule>();
  for (const [layer, weights] of made) declareInit(layer, weights, init);
  return {
    model,
    init,
    summary: summarise([...steps.encoder, ...steps.decoder, output!]),
  };
}

/** The trained model's layers rewired for decoding: encoder -> states, and one decoder step. */
export function inferenceModels(
  tf: TF,
  model: LayersModel,
): { encoder: LayersModel; step: LayersModel; cell: "lstm" | "gru"; size: number } {
  // The decoder's recurrent layer feeds the output layer; it reads [embedded tokens, ...states],
  // the states being the encoder's final ones.
  const decRnn = model.getLayer(NAMES.output).inboundNodes[0]!.inboundLayers[0]!;
  const cellType = LAYERS.ofClass(decRnn.getClassName())?.name;
  if (cellType !== "lstm" && cellType !== "gru")
    throw new Error(`the decoder of this seq2seq model is a ${decRnn.getClassName()}`);
  const states = decRnn.inboundNodes[0]!.inputTensors.slice(1);
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
  const emb = one(model.getLayer(NAMES.decoder("embedding", 0)), tok);
  const [seq, ...next] = withStates(decRnn, [emb, ...stateIns]);
  const probs = one(model.getLayer(NAMES.output), seq!);
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
