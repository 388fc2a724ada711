import type { SequenceSet } from "../artifacts/sequences.js";
import type { FeatureShift, LabelShift, ShiftSet, TokenShift } from "../artifacts/shift.js";

/**
 * Distribution shift between a reference (training) set of sequences and another set, measured on
 * the data alone. Every statistic is computed in float64 over values in a fixed order, so the
 * report's bytes depend on the data only.
 */

/** A share never taken as 0 inside a logarithm (the usual floor in PSI). */
const FLOOR = 1e-4;
/** Values per feature at most: beyond, an evenly strided sample (fixed, so deterministic). */
const MAX_VALUES = 200_000;

/** PSI = sum over bins of (q - p) ln(q / p), p the reference's shares, q the set's. */
export function psiOfShares(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = Math.max(p[i]!, FLOOR);
    const b = Math.max(q[i]!, FLOOR);
    sum += (b - a) * Math.log(b / a);
  }
  return sum;
}

/** How many of a sorted array are <= x. */
function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * PSI over `bins` bins cut at the reference's quantiles (repeated cut points merged, so a feature
 * with few distinct values gets as many bins as it has values).
 */
export function psi(reference: Float64Array, set: Float64Array, bins: number): number {
  if (!reference.length || !set.length) return 0;
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const e = reference[Math.min(reference.length - 1, Math.floor((k * reference.length) / bins))]!;
    if (edges.at(-1) !== e) edges.push(e);
  }
  // Bins (-inf, e1], (e1, e2], ..., (e_last, inf).
  const shares = (sorted: Float64Array) => {
    const out = new Float64Array(edges.length + 1);
    let below = 0;
    edges.forEach((e, i) => {
      const c = countAtMost(sorted, e);
      out[i] = (c - below) / sorted.length;
      below = c;
    });
    out[edges.length] = (sorted.length - below) / sorted.length;
    return out;
  };
  return psiOfShares(shares(reference), shares(set));
}

/** The two-sample Kolmogorov-Smirnov statistic of two sorted samples. */
export function ks(a: Float64Array, b: Float64Array): number {
  if (!a.length || !b.length) return 0;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= x) i++;
    while (j < b.length && b[j]! <= x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

const sorted = (values: Float64Array) => values.sort();

function meanStd(values: Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = values.length ? sum / values.length : 0;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: values.length ? Math.sqrt(sq / values.length) : 0 };
}

/** One feature (or length, or target) compared: PSI, KS and the moments. */
export function featureShift(
  name: string,
  reference: Float64Array,
  set: Float64Array,
  bins: number,
): FeatureShift {
  const r = sorted(reference);
  const s = sorted(set);
  const a = meanStd(r);
  const b = meanStd(s);
  return {
    name,
    psi: psi(r, s, bins),
    ks: ks(r, s),
    mean: b.mean,
    referenceMean: a.mean,
    std: b.std,
    referenceStd: a.std,
  };
}

/** Each feature's values over the real (unpadded) steps of every sequence: [feature][value]. */
export function featureValues(s: SequenceSet): Float64Array[] {
  const [n, T, F] = s.shape as [number, number, number];
  let steps = 0;
  for (let i = 0; i < n; i++) steps += Math.min(T, s.lengths[i]!);
  const stride = Math.max(1, Math.ceil(steps / MAX_VALUES));
  const out = Array.from({ length: F }, () => new Float64Array(Math.ceil(steps / stride)));
  let k = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const len = Math.min(T, s.lengths[i]!);
    const from = s.padding === "pre" ? T - len : 0;
    for (let t = from; t < from + len; t++, k++) {
      if (k % stride) continue;
      for (let f = 0; f < F; f++) out[f]![at] = s.x[(i * T + t) * F + f]!;
      at++;
    }
  }
  return out.map((v) => v.subarray(0, at));
}

/** Names of the features of a set: the window's columns and one-hot classes, else by position. */
export function featureNames(s: SequenceSet): string[] {
  const F = s.shape[2] ?? 0;
  const w = s.window;
  const names = s.featureNames
    ? s.featureNames
    : w
      ? [
          ...w.columns,
          ...(w.categorical ?? []).flatMap((c) => c.classes.map((k) => `${c.column}=${k}`)),
        ]
      : [];
  return Array.from({ length: F }, (_, f) => names[f] ?? `feature ${f}`);
}

/** The token ids of each sequence (its real steps), one-hot features read back to ids. */
function tokenIds(s: SequenceSet): Int32Array[] {
  const [n, T] = s.shape as [number, number];
  const V = s.input === "features" ? s.shape[2]! : 1;
  return Array.from({ length: n }, (_, i) => {
    const len = Math.min(T, s.lengths[i]!);
    const from = s.padding === "pre" ? T - len : 0;
    return Int32Array.from({ length: len }, (_, k) => {
      const t = from + k;
      if (V === 1) return s.x[i * T + t]!;
      let best = 0;
      for (let v = 1; v < V; v++)
        if (s.x[(i * T + t) * V + v]! > s.x[(i * T + t) * V + best]!) best = v;
      return best;
    });
  });
}

/** Out-of-vocabulary rate, lengths and the token distribution of a set against the reference's. */
export function tokenShift(reference: SequenceSet, set: SequenceSet, bins: number): TokenShift {
  const unk = reference.text?.reserved.unk ?? 1;
  const pad = reference.text?.reserved.pad ?? 0;
  const maxLen = reference.text?.maxLen ?? reference.shape[1]!;
  const vocab = Math.max(reference.text?.tokens.length ?? 0, 2);
  const stats = (s: SequenceSet) => {
    const ids = tokenIds(s);
    const counts = new Float64Array(vocab);
    let tokens = 0;
    let oov = 0;
    let truncated = 0;
    for (const seq of ids) {
      if (seq.length >= maxLen) truncated++;
      for (const id of seq) {
        if (id === pad) continue;
        tokens++;
        if (id === unk) oov++;
        if (id >= 0 && id < vocab) counts[id]!++;
      }
    }
    return {
      oovRate: tokens ? oov / tokens : 0,
      truncated: ids.length ? truncated / ids.length : 0,
      shares: counts.map((c) => (tokens ? c / tokens : 0)),
      lengths: Float64Array.from(ids, (seq) => seq.length),
    };
  };
  const a = stats(reference);
  const b = stats(set);
  return {
    oovRate: b.oovRate,
    referenceOovRate: a.oovRate,
    length: featureShift("length", a.lengths, b.lengths, bins),
    truncated: b.truncated,
    referenceTruncated: a.truncated,
    tokenPsi: psiOfShares(a.shares, b.shares),
  };
}

/** The label distribution of class targets, against the reference's. */
export function labelShift(reference: SequenceSet, set: SequenceSet): LabelShift | undefined {
  const r = reference.target;
  const s = set.target;
  if (r.kind !== "class" || s.kind !== "class") return undefined;
  const shares = (y: Int32Array, index: (c: number) => number) => {
    const out = new Float64Array(r.classes.length);
    for (const c of y) {
      const k = index(c);
      if (k >= 0) out[k]!++;
    }
    return out.map((v) => (y.length ? v / y.length : 0));
  };
  const p = shares(r.y, (c) => c);
  // The set's classes by name (its encoding may order them otherwise).
  const q = shares(s.y, (c) => r.classes.indexOf(s.classes[c]!));
  let tv = 0;
  for (let k = 0; k < p.length; k++) tv += Math.abs(p[k]! - q[k]!) / 2;
  return {
    psi: psiOfShares(p, q),
    tv,
    shares: r.classes.map((label, k) => ({ label, reference: p[k]!, set: q[k]! })),
  };
}

/** Value targets: each target column's values (all horizons), against the reference's. */
export function targetShifts(
  reference: SequenceSet,
  set: SequenceSet,
  bins: number,
): FeatureShift[] | undefined {
  const r = reference.target;
  const s = set.target;
  if (r.kind !== "value" || s.kind !== "value" || r.names.join() !== s.names.join())
    return undefined;
  const column = (y: Float32Array, k: number) =>
    Float64Array.from({ length: y.length / r.names.length }, (_, j) => y[j * r.names.length + k]!);
  return r.names.map((name, k) =>
    featureShift(`target ${name}`, column(r.y, k), column(s.y, k), bins),
  );
}

/** Everything measured on one set, ranked: features by PSI, the set by its largest PSI. */
export function shiftOf(
  name: string,
  reference: SequenceSet,
  set: SequenceSet,
  bins: number,
  cache: { features?: Float64Array[] },
): ShiftSet {
  const tokens =
    reference.input === "tokens" || reference.text ? tokenShift(reference, set, bins) : undefined;
  let features: FeatureShift[] = [];
  if (!tokens) {
    cache.features ??= featureValues(reference);
    const mine = featureValues(set);
    const names = featureNames(reference);
    features = cache.features
      .map((ref, f) => featureShift(names[f]!, ref, mine[f] ?? new Float64Array(0), bins))
      .sort((a, b) => b.psi - a.psi || (a.name < b.name ? -1 : 1));
  }
  // Sequences of features of varying length (audio frames): how long they are is a feature too.
  const lengths =
    !tokens && varies(reference.lengths)
      ? featureShift(
          "length",
          Float64Array.from(reference.lengths),
          Float64Array.from(set.lengths),
          bins,
        )
      : undefined;
  const labels = labelShift(reference, set);
  const targets = targetShifts(reference, set, bins)?.sort((a, b) => b.psi - a.psi);
  const candidates: [string, number][] = [
    ...features.map((f): [string, number] => [f.name, f.psi]),
    ...(lengths ? [["length", lengths.psi] as [string, number]] : []),
    ...(tokens
      ? ([
          ["length", tokens.length.psi],
          ["tokens", tokens.tokenPsi],
        ] as [string, number][])
      : []),
    ...(labels ? [["labels", labels.psi] as [string, number]] : []),
    ...(targets ?? []).map((t): [string, number] => [t.name, t.psi]),
  ];
  const [worst, score] = candidates.reduce<[string, number]>(
    (best, c) => (c[1] > best[1] ? c : best),
    ["nothing", 0],
  );
  return {
    name,
    n: set.shape[0] ?? 0,
    score,
    worst,
    features,
    ...(lengths ? { lengths } : {}),
    ...(tokens ? { tokens } : {}),
    ...(labels ? { labels } : {}),
    ...(targets ? { targets } : {}),
  };
}

const varies = (a: Int32Array) => a.some((v) => v !== a[0]);
