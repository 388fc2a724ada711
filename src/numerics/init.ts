import seedrandom from "seedrandom";
import type { WeightSpec } from "../artifacts/model.js";
import { subSeed } from "./seeds.js";

/**
 * Initial weights, computed here rather than by TF.js's initialisers: in float64 JavaScript, which
 * gives the same bytes on every machine and backend, and fast (TF.js's orthogonal initialiser takes
 * ~11 s for one 128x512 recurrent kernel). The rules are Keras's defaults:
 *   kernel            Glorot uniform, limit sqrt(6 / (fanIn + fanOut))
 *   recurrent_kernel  orthogonal (QR of a normal matrix, signs fixed by R's diagonal)
 *   bias              zeros; an LSTM's forget-gate slice ones (unit forget bias)
 *   embeddings        uniform(-0.05, 0.05)
 *   gamma / beta      ones / zeros (layer normalisation)
 * Each weight draws from its own stream, seeded from the stage seed and the weight's name.
 */

export function initialWeights(specs: readonly WeightSpec[], seed: number): Float32Array[] {
  return specs.map((w) => {
    const random = seedrandom.alea(String(subSeed(seed, w.name)));
    const size = w.shape.reduce((a, b) => a * b, 1);
    const role = w.name.split("/").at(-1)!.replace(/_\d+$/, "");
    switch (role) {
      case "kernel": {
        const [fanIn, fanOut] = fans(w.shape);
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        return Float32Array.from({ length: size }, () => (random() * 2 - 1) * limit);
      }
      case "recurrent_kernel":
        return orthogonal(w.shape, random);
      case "embeddings":
        return Float32Array.from({ length: size }, () => (random() * 2 - 1) * 0.05);
      case "bias": {
        const b = new Float32Array(size);
        // An LSTM's bias (its layer is named lstm_N, enc_lstm_N or dec_lstm, maybe inside a bidirectional).
        if (
          /(^|\/)(forward_|backward_)?(enc_|dec_)?lstm(_\d+)?$/.test(
            w.name.split("/").slice(0, -1).join("/"),
          )
        )
          b.fill(1, size / 4, size / 2);
        return b;
      }
      case "gamma":
        return new Float32Array(size).fill(1);
      case "beta":
        return new Float32Array(size);
      default:
        throw new Error(`no initialisation rule for weight ${w.name}`);
    }
  });
}

function fans(shape: number[]): [number, number] {
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape.at(-2)! * receptive, shape.at(-1)! * receptive];
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

/**
 * A (rows x cols) matrix with orthonormal rows or columns, as Keras makes it: QR of a normal
 * (max x min) matrix by Householder reflections, Q's columns multiplied by the signs of R's diagonal,
 * transposed when there are fewer rows than columns.
 */
export function orthogonal(shape: number[], random: () => number): Float32Array {
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const cols = shape.at(-1)!;
  const n = Math.max(rows, cols);
  const m = Math.min(rows, cols);
  const a = normals(n * m, random); // n x m, row-major
  const q = thinQ(a, n, m); // n x m
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (rows >= cols) out[i * cols + j] = q[i * m + j]!;
      else out[j * cols + i] = q[i * m + j]!;
    }
  }
  return out;
}

/** The thin Q (n x m, n >= m) of A = QR, with R's diagonal made positive. */
function thinQ(a: Float64Array, n: number, m: number): Float64Array {
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
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
    // R <- (I - 2vv^T) R
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i]! * r[i * m + j]!;
      for (let i = k; i < n; i++) r[i * m + j] = r[i * m + j]! - 2 * v[i]! * dot;
    }
  }
  // Q = H_0 H_1 ... H_{m-1} applied to the first m columns of I.
  const q = new Float64Array(n * m);
  for (let j = 0; j < m; j++) q[j * m + j] = 1;
  for (let k = m - 1; k >= 0; k--) {
    const v = vs[k]!;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i]! * q[i * m + j]!;
      for (let i = k; i < n; i++) q[i * m + j] = q[i * m + j]! - 2 * v[i]! * dot;
    }
  }
  for (let j = 0; j < m; j++) {
    if (r[j * m + j]! < 0) for (let i = 0; i < n; i++) q[i * m + j] = -q[i * m + j]!;
  }
  return q;
}
