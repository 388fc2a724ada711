import type { SequenceSet, TextEncoding } from "../artifacts/sequences.js";
import { bytes, count, MAX_ARRAY_BYTES, MAX_STEPS } from "../numerics/limits.js";
import { defineKind, type ParamProblem } from "../stages/kind.js";
import { p } from "../stages/schema.js";

const PARTS = ["train", "val", "test"] as const;

/** Token ids of the copy task: padding and unknown as encode reserves them, then blank, go, symbols. */
const PAD = 0;
const BLANK = 2;
const GO = 3;
const FIRST_SYMBOL = 4;
const SYMBOLS = "abcdefghijklmnopqrstuvwxyz";

type Params = {
  task: "adding" | "copy";
  length: number;
  train: number;
  val: number;
  test: number;
  symbols: number;
  alphabet: number;
};

/**
 * The copy task's sizes as declared defaults. Kept as defaults (not optional) because resolved
 * parameters enter keys and seeds: the adding task's key has always held them. So the adding task
 * refuses them when they differ from the default, as train refuses minDelta without patience.
 */
const COPY_DEFAULTS = { symbols: 5, alphabet: 8 } as const;

export const synthTask = defineKind({
  name: "synth.task",
  version: 1,
  doc: "Generates the classic long-range dependency tasks of Hochreiter & Schmidhuber (1997), seeded, at a chosen length, as train/val/test sequences. adding: two features per step (a value uniform in [0, 1], a marker); one marked step in the first half, one in the second; the target is the sum of the two marked values (always predicting 1 scores MSE 1/6, MAE 1/3). copy: `symbols` tokens drawn from `alphabet` letters, blanks, a go mark `symbols` steps before the end, then the model must give the letters again, one per step (token accuracy by chance: 1 / alphabet; other steps' targets are padding and do not count).",
  params: {
    task: p.oneOf("Which task.", ["adding", "copy"]),
    length: p.int(
      "Steps per sequence: how far apart what must be remembered and where it is needed can be.",
      {
        min: 2,
        max: MAX_STEPS,
      },
    ),
    train: p.int("Training sequences.", { min: 1 }).default(2000),
    val: p.int("Validation sequences.", { min: 1 }).default(200),
    test: p.int("Test sequences.", { min: 1 }).default(1000),
    symbols: p
      .int("copy only: letters to remember, at the start of each sequence.", { min: 1 })
      .default(COPY_DEFAULTS.symbols),
    alphabet: p
      .int("copy only: letters the symbols are drawn from.", { min: 2, max: SYMBOLS.length })
      .default(COPY_DEFAULTS.alphabet),
  },
  inputs: {},
  outputs: PARTS,
  outputType: "sequences",
  random: true,
  backendDependent: false,
  describe: (params) => ({
    kind: "sequences",
    input: params.task === "adding" ? "features" : "tokens",
    target: params.task === "adding" ? "value" : "sequence",
    length: params.length,
    ...(params.task === "adding" ? { features: 2 } : {}),
  }),
  check: (params) => problems(params),
  run(ctx, _inputs, params) {
    const out: Record<string, SequenceSet> = {};
    for (const part of PARTS) {
      // One stream per part: resizing one part leaves the others' sequences as they were.
      const random = ctx.rng(`${params.task}:${part}`);
      out[part] =
        params.task === "adding"
          ? adding(params.length, params[part], random)
          : copy(params.length, params[part], params.symbols, params.alphabet, random);
    }
    ctx.log(
      params.task === "adding"
        ? `${params.train} sequences of ${params.length} steps to train on; always predicting 1 scores MSE 1/6 (RMSE 0.408), MAE 1/3`
        : `${params.train} sequences of ${params.length} steps to train on; ${params.symbols} letters to recall across ${params.length - params.symbols} steps; chance token accuracy ${(1 / params.alphabet).toFixed(3)}`,
    );
    return out;
  },
});

function problems(params: Params): ParamProblem[] {
  const out: ParamProblem[] = [];
  if (params.task === "adding")
    for (const param of ["symbols", "alphabet"] as const)
      if (params[param] !== COPY_DEFAULTS[param])
        out.push({
          param,
          message: `\`${param}\` sizes the copy task; the adding task has no letters`,
          hint: `remove \`${param}\`, or use task: "copy"`,
        });
  if (params.task === "copy" && params.length < 2 * params.symbols + 1)
    out.push({
      param: "length",
      message: `the copy task needs at least 2 x symbols + 1 = ${2 * params.symbols + 1} steps (the letters, the go mark, the letters again), not ${params.length}`,
      hint: `length: ${2 * params.symbols + 1}, or fewer symbols`,
    });
  const features = params.task === "adding" ? 2 : 1;
  for (const part of PARTS) {
    const size = params[part] * params.length * features * 4;
    if (size > MAX_ARRAY_BYTES)
      out.push({
        param: part,
        code: "too-large",
        message: `${count(params[part])} sequences of ${count(params.length)} steps are ${bytes(size)}, more than one array can hold (${bytes(MAX_ARRAY_BYTES)})`,
        hint: "fewer sequences or shorter ones",
      });
  }
  return out;
}

/** An index uniform in [from, to). */
const pick = (random: () => number, from: number, to: number) =>
  from + Math.floor(random() * (to - from));

/**
 * The adding problem: x[i, t] = (value, marker); one marked step uniform in the first half (rounded
 * down), one in the second; y = the sum of the two marked values.
 */
function adding(T: number, n: number, random: () => number): SequenceSet {
  const x = new Float32Array(n * T * 2);
  const y = new Float32Array(n);
  const half = Math.floor(T / 2);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) x[(i * T + t) * 2] = random();
    const marks = [pick(random, 0, half), pick(random, half, T)];
    let sum = 0;
    for (const t of marks) {
      x[(i * T + t) * 2 + 1] = 1;
      sum += x[(i * T + t) * 2]!;
    }
    y[i] = sum;
  }
  return {
    type: "sequences",
    input: "features",
    x,
    shape: [n, T, 2],
    lengths: new Int32Array(n).fill(T),
    padding: "post",
    target: { kind: "value", y, names: ["sum"], horizon: 1, size: 1 },
  };
}

/**
 * The copy task: k letters, blanks, the go mark at T-k-1, blanks; the target is padding (not scored)
 * but for the last k steps, which must give the letters in order.
 */
function copy(
  T: number,
  n: number,
  k: number,
  alphabet: number,
  random: () => number,
): SequenceSet {
  const x = new Int32Array(n * T).fill(BLANK);
  const y = new Int32Array(n * T).fill(PAD);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const symbol = FIRST_SYMBOL + pick(random, 0, alphabet);
      x[i * T + j] = symbol;
      y[i * T + T - k + j] = symbol;
    }
    x[i * T + T - k - 1] = GO;
  }
  const tokens = ["<pad>", "<unk>", "-", ":", ...SYMBOLS.slice(0, alphabet)];
  return {
    type: "sequences",
    input: "tokens",
    x,
    shape: [n, T],
    lengths: new Int32Array(n).fill(T),
    padding: "post",
    target: { kind: "sequence", y, tokens, level: "char" },
    text: copyEncoding(tokens, T),
  };
}

/** How the copy task's text reads (so `rnnp show` and `predict` read "abcde-----:-----"). */
function copyEncoding(tokens: string[], T: number): TextEncoding {
  return {
    level: "char",
    lowercase: false,
    punctuation: "split",
    tokens,
    reserved: { pad: PAD, unk: 1 },
    maxLen: T,
    pad: "post",
    truncate: "post",
    bos: false,
    eos: false,
    oneHot: false,
  };
}
