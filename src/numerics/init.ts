import { sinceStart } from "../core/clock.js";
import seedrandom from "seedrandom";
import { subSeed } from "./seeds.js";

/**
 * Initial weights, computed here rather than by TF.js's initialisers: in float64 JavaScript, which
 * gives the same bytes on every machine and backend, and fast (TF.js's orthogonal initialiser takes
 * ~11 s for one 128x512 recurrent kernel). Layers name the rule of each of their weights (see a
 * layer's `weights`); the rules are Keras's defaults:
 *   glorotUniform     kernels: uniform in +-sqrt(6 / (fanIn + fanOut))
 *   orthogonal        recurrent kernels: QR of a normal matrix, signs fixed by R's diagonal
 *   zeros, ones       biases, layer normalisation's beta and gamma
 *   unitForgetBias    an LSTM's bias: zeros, its forget-gate slice ones
 *   embeddingUniform  embeddings: uniform(-0.05, 0.05)
 * Each weight draws from its own stream, seeded from the stage seed and the weight's name.
 */
export interface InitRule {
  /** As Keras names it. */
  readonly name: string;
  /**
   * Makes the values, yielding now and then how much of its `cost` is done, so that a long one
   * (the QR of a large recurrent kernel) can report progress and let the event loop breathe.
   */
  make(shape: readonly number[], random: () => number): Generator<number, Float32Array>;
  /** Roughly how many arithmetic operations `make` takes; cheap rules leave it out. */
  cost?(shape: readonly number[]): number;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A rule that needs no progress: its values at once. */
function immediate(
  name: string,
  values: (shape: readonly number[], random: () => number) => Float32Array,
): InitRule {
  return {
    name,
    // biome-ignore lint/correctness/useYield: cheap rules finish without reporting progress
    *make(shape, random) {
      return values(shape, random);
    },
  };
}

function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape.at(-2)! * receptive, shape.at(-1)! * receptive];
}

export const INIT = {
  glorotUniform: immediate("glorot_uniform", (shape, random) => {
    const [fanIn, fanOut] = fans(shape);
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return Float32Array.from({ length: sizeOf(shape) }, () => (random() * 2 - 1) * limit);
  }),
  orthogonal: {
    name: "orthogonal",
    make: orthogonalSteps,
    cost: (shape) => orthogonalCost(...dims(shape)),
  } satisfies InitRule,
  zeros: immediate("zeros", (shape) => new Float32Array(sizeOf(shape))),
  ones: immediate("ones", (shape) => new Float32Array(sizeOf(shape)).fill(1)),
  unitForgetBias: immediate("unit_forget_bias", (shape) => {
    const size = sizeOf(shape);
    return new Float32Array(size).fill(1, size / 4, size / 2);
  }),
  embeddingUniform: immediate("random_uniform(-0.05, 0.05)", (shape, random) =>
    Float32Array.from({ length: sizeOf(shape) }, () => (random() * 2 - 1) * 0.05),
  ),
};

/** A weight to initialise: its name (which seeds its stream), shape and rule. */
export interface WeightInit {
  name: string;
  shape: readonly number[];
  init: InitRule;
}

/** Each weight (in the given order) with the rule its layer declared for it, by name. */
export function weightInits(
  specs: readonly { name: string; shape: readonly number[] }[],
  rules: ReadonlyMap<string, InitRule>,
): WeightInit[] {
  return specs.map((s) => {
    const init = rules.get(s.name);
    if (!init) throw new Error(`no initialisation rule for weight ${s.name}`);
    return { name: s.name, shape: s.shape, init };
  });
}

export interface InitHooks {
  /** Progress of the slow rules, in operations done of the total. */
  progress?(done: number, total: number, unit: string): void;
  log?(message: string): void;
  signal?: AbortSignal;
}

/** Initialisation estimated above this many operations is announced (about a second or more). */
const SLOW = 2e9;
const UNIT = "operations (initialisation)";

/** Every weight's initial values, in order. Long ones report progress and can be interrupted. */
export async function initialWeights(
  weights: readonly WeightInit[],
  seed: number,
  hooks: InitHooks = {},
): Promise<Float32Array[]> {
  const costs = weights.map((w) => w.init.cost?.(w.shape) ?? 0);
  const total = costs.reduce((a, b) => a + b, 0);
  if (total >= SLOW)
    hooks.log?.(
      `initialising weights: ${weights
        .filter((_, i) => costs[i]! >= SLOW / 10)
        .map((w) => `${w.init.name} ${w.name} [${w.shape.join(", ")}]`)
        .join(", ")}: about ${total.toExponential(1)} operations in float64`,
    );
  const out: Float32Array[] = [];
  let before = 0;
  let reported = false;
  let breath = sinceStart();
  for (const [i, w] of weights.entries()) {
    const steps = w.init.make(w.shape, seedrandom.alea(String(subSeed(seed, w.name))));
    for (let s = steps.next(); ; s = steps.next()) {
      if (s.done) {
        out.push(s.value);
        break;
      }
      // Between steps: let timers run (leases, Ctrl-C, the progress bar) a few times a second.
      if (sinceStart() - breath > 100) {
        hooks.progress?.(Math.round(before + s.value), Math.round(total), UNIT);
        reported = true;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (hooks.signal?.aborted) throw new Error("interrupted");
        breath = sinceStart();
      }
    }
    before += costs[i]!;
  }
  if (reported) hooks.progress?.(Math.round(total), Math.round(total), UNIT);
  return out;
}

/** Runs an initialiser to its end at once (tests, small weights). */
export function runToEnd(steps: Generator<number, Float32Array>): Float32Array {
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}

/** Standard normal draws by Box-Muller (both values used), in float64. */
function normals(n: number, random: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - random(); // (0, 1]: log is finite
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** [rows, cols] of a weight; the QR works on (max x min). */
function dims(shape: readonly number[]): [number, number] {
  return [shape.slice(0, -1).reduce((a, b) => a * b, 1), shape.at(-1)!];
}

/** Multiply-adds of the QR below: two passes of m reflections over the trailing (n-k) x (m-k) block. */
export function orthogonalCost(rows: number, cols: number): number {
  const n = Math.max(rows, cols);
  const m = Math.min(rows, cols);
  // sum over k < m of 4 (n - k)(m - k), twice (R, then Q), in closed form.
  const s = m * n * m - ((n + m) * (m - 1) * m) / 2 + ((m - 1) * m * (2 * m - 1)) / 6;
  return 8 * s;
}

/** A (rows x cols) matrix with orthonormal rows or columns, at once. */
export function orthogonal(shape: readonly number[], random: () => number): Float32Array {
  return runToEnd(orthogonalSteps(shape, random));
}

/**
 * A (rows x cols) matrix with orthonormal rows or columns, as Keras makes it: QR of a normal
 * (max x min) matrix by Householder reflections, Q's columns multiplied by the signs of R's diagonal,
 * transposed when there are fewer rows than columns. Yields the operations done after each reflection.
 */
function* orthogonalSteps(
  shape: readonly number[],
  random: () => number,
): Generator<number, Float32Array> {
  const [rows, cols] = dims(shape);
  const n = Math.max(rows, cols);
  const m = Math.min(rows, cols);
  const q = yield* thinQ(normals(n * m, random), n, m); // n x m
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (rows >= cols) out[i * cols + j] = q[i * m + j]!;
      else out[j * cols + i] = q[i * m + j]!;
    }
  }
  return out;
}

/**
 * The thin Q (n x m, n >= m) of A = QR (A row-major, overwritten), with R's diagonal made positive.
 * The reflections sweep rows, not columns (rows are contiguous), but every sum adds the same terms in
 * the same order as a column-by-column loop would: the bytes are those of the textbook loop, about
 * four times sooner on large kernels.
 */
function* thinQ(r: Float64Array, n: number, m: number): Generator<number, Float64Array> {
  const vs: Float64Array[] = [];
  const dots = new Float64Array(m);
  let done = 0;
  for (let k = 0; k < m; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += r[i * m + k]! ** 2;
    norm = Math.sqrt(norm);
    const alpha = r[k * m + k]! > 0 ? -norm : norm;
    const v = new Float64Array(n);
    for (let i = k; i < n; i++) v[i] = r[i * m + k]!;
    v[k] = v[k]! - alpha;
    let vnorm = 0;
    for (let i = k; i < n; i++) vnorm += v[i]! ** 2;
    vnorm = Math.sqrt(vnorm);
    if (vnorm > 0) for (let i = k; i < n; i++) v[i] = v[i]! / vnorm;
    vs.push(v);
    // R <- (I - 2vv^T) R; the columns left of k are finished (only R's diagonal is read later).
    reflect(r, v, k, n, m, dots);
    done += 4 * (n - k) * (m - k);
    yield done;
  }
  const diagonal = Float64Array.from({ length: m }, (_, j) => r[j * m + j]!);
  // Q = H_0 H_1 ... H_{m-1} applied to the first m columns of I. Columns left of k are still those
  // of I in the rows a reflection k touches (all zero there), so they are skipped too.
  const q = r.fill(0);
  for (let j = 0; j < m; j++) q[j * m + j] = 1;
  for (let k = m - 1; k >= 0; k--) {
    reflect(q, vs[k]!, k, n, m, dots);
    done += 4 * (n - k) * (m - k);
    yield done;
  }
  for (let j = 0; j < m; j++) {
    if (diagonal[j]! < 0) for (let i = 0; i < n; i++) q[i * m + j] = -q[i * m + j]!;
  }
  return q;
}

/** a <- (I - 2vv^T) a on rows k.. and columns k.. of the row-major n x m matrix a. */
function reflect(
  a: Float64Array,
  v: Float64Array,
  k: number,
  n: number,
  m: number,
  dots: Float64Array,
): void {
  dots.fill(0, k, m);
  for (let i = k; i < n; i++) {
    const vi = v[i]!;
    const row = i * m;
    for (let j = k; j < m; j++) dots[j] = dots[j]! + vi * a[row + j]!;
  }
  for (let i = k; i < n; i++) {
    const twice = 2 * v[i]!;
    const row = i * m;
    for (let j = k; j < m; j++) a[row + j] = a[row + j]! - twice * dots[j]!;
  }
}
