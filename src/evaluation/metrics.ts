import type { Report } from "../artifacts/report.js";
import type { Scaling } from "../artifacts/table.js";
import { argmax } from "../numerics/losses.js";

/** Classification metrics from class probabilities [N x units] (units 1: a sigmoid's P(class 1)). */
export function classReport(
  probs: Float32Array,
  units: number,
  y: Int32Array,
  classes: string[],
  topK: number,
): Report {
  const n = y.length;
  const C = classes.length;
  const matrix = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let inTopK = 0;
  for (let i = 0; i < n; i++) {
    const scores =
      units === 1
        ? [1 - probs[i]!, probs[i]!]
        : Array.from(probs.subarray(i * units, (i + 1) * units));
    const guess = argmax(scores, 0, scores.length);
    matrix[y[i]!]![guess]!++;
    // Rank of the true class: how many classes scored strictly higher (ties favour the lower index, as argmax does).
    const truth = scores[y[i]!]!;
    const above = scores.filter((s, j) => s > truth || (s === truth && j < y[i]!)).length;
    if (above < topK) inTopK++;
  }
  const perClass = classes.map((label, c) => {
    const tp = matrix[c]![c]!;
    const predicted = matrix.reduce((a, row) => a + row[c]!, 0);
    const support = matrix[c]!.reduce((a, b) => a + b, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    return {
      label,
      precision,
      recall,
      f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
      support,
    };
  });
  const correct = perClass.reduce((a, _c, i) => a + matrix[i]![i]!, 0);
  const mean = (k: "precision" | "recall" | "f1") =>
    perClass.reduce((a, c) => a + c[k], 0) / Math.max(1, C);
  const metrics: Record<string, number> = {
    accuracy: correct / Math.max(1, n),
    macroPrecision: mean("precision"),
    macroRecall: mean("recall"),
    macroF1: mean("f1"),
    // Single-label: micro precision = micro recall = micro F1 = accuracy.
    microF1: correct / Math.max(1, n),
  };
  if (C > topK) metrics[`top${topK}`] = inTopK / Math.max(1, n);
  return {
    type: "report",
    task: "class",
    n,
    metrics,
    perClass,
    confusion: { labels: classes, matrix },
  };
}

/**
 * Regression metrics in the targets' original units (scaling undone): per target column and overall.
 * MAPE skips true values of 0, where it is undefined.
 */
export function valueReport(
  pred: Float32Array,
  y: Float32Array,
  names: string[],
  horizon: number,
  scaling?: Record<string, Scaling>,
  naive?: Float32Array,
  relativeTo?: Float32Array,
): Report {
  const size = names.length * horizon;
  const n = y.length / size;
  let example = 0;
  const unscale = (v: number, k: number) => {
    const s = scaling?.[names[k]!];
    const u = s ? v * s.scale + s.center : v;
    return relativeTo ? (u + 1) * relativeTo[example * names.length + k]! : u;
  };
  const acc = names.map(() => ({ abs: 0, sq: 0, pct: 0, pctN: 0, m: 0 }));
  for (let i = 0; i < n; i++) {
    example = i;
    for (let h = 0; h < horizon; h++) {
      for (let k = 0; k < names.length; k++) {
        const j = i * size + h * names.length + k;
        const truth = unscale(y[j]!, k);
        const err = unscale(pred[j]!, k) - truth;
        const a = acc[k]!;
        a.abs += Math.abs(err);
        a.sq += err * err;
        a.m++;
        if (truth !== 0) (a.pct += Math.abs(err / truth)), a.pctN++;
      }
    }
  }
  const perTarget = names.map((name, k) => {
    const a = acc[k]!;
    return {
      name,
      mae: a.abs / a.m,
      rmse: Math.sqrt(a.sq / a.m),
      mape: a.pctN ? (100 * a.pct) / a.pctN : NaN,
    };
  });
  const all = acc.reduce(
    (t, a) => ({
      abs: t.abs + a.abs,
      sq: t.sq + a.sq,
      pct: t.pct + a.pct,
      pctN: t.pctN + a.pctN,
      m: t.m + a.m,
    }),
    { abs: 0, sq: 0, pct: 0, pctN: 0, m: 0 },
  );
  const metrics: Record<string, number> = {
    mae: all.abs / Math.max(1, all.m),
    rmse: Math.sqrt(all.sq / Math.max(1, all.m)),
  };
  if (all.pctN) metrics.mape = (100 * all.pct) / all.pctN;
  if (naive) {
    // The naive forecast (the last observed value, for every future step), on the same examples.
    const base = valueReport(naive, y, names, horizon, scaling, undefined, relativeTo).metrics;
    metrics.naiveMae = base.mae!;
    metrics.naiveRmse = base.rmse!;
    metrics.skill = 1 - metrics.mae! / base.mae!;
  }
  return {
    type: "report",
    task: "value",
    n,
    metrics,
    perTarget: perTarget.map((t) => ({ ...t, mape: Number.isNaN(t.mape) ? -1 : t.mape })),
  };
}

/**
 * Sequence outputs: token accuracy over the target's non-padding steps, and the edit-distance error
 * rate (the sum over examples of the Levenshtein distance between the predicted and the true token
 * sequences, over the true tokens; the PER/WER of speech and G2P work), with exact-match accuracy.
 */
export function sequenceReport(
  probs: Float32Array,
  y: Int32Array,
  steps: number,
  vocab: number,
): Report {
  const n = y.length / steps;
  let correct = 0;
  let tokens = 0;
  let edits = 0;
  let exact = 0;
  for (let i = 0; i < n; i++) {
    const truth: number[] = [];
    const guess: number[] = [];
    for (let t = 0; t < steps; t++) {
      const want = y[i * steps + t]!;
      if (want === 0) continue;
      const got = argmax(probs, (i * steps + t) * vocab, vocab);
      truth.push(want);
      if (got !== 0) guess.push(got);
      if (got === want) correct++;
    }
    tokens += truth.length;
    const d = editDistance(guess, truth);
    edits += d;
    if (d === 0) exact++;
  }
  return {
    type: "report",
    task: "sequence",
    n,
    metrics: {
      tokenAccuracy: correct / Math.max(1, tokens),
      editErrorRate: edits / Math.max(1, tokens),
      sequenceAccuracy: exact / Math.max(1, n),
    },
  };
}

/**
 * Decoded sequences against the truth (ids, without <eos>): the token error rate (edit distance over
 * true tokens: PER for phonemes), the sequence error rate (WER for G2P: any error in the word), and
 * exact-match accuracy.
 */
export function decodingReport(decoded: number[][], truth: number[][]): Report {
  let edits = 0;
  let tokens = 0;
  let wrong = 0;
  decoded.forEach((d, i) => {
    const e = editDistance(d, truth[i]!);
    edits += e;
    tokens += truth[i]!.length;
    if (e > 0) wrong++;
  });
  const n = decoded.length;
  return {
    type: "report",
    task: "sequence",
    n,
    metrics: {
      tokenErrorRate: edits / Math.max(1, tokens),
      sequenceErrorRate: wrong / Math.max(1, n),
      sequenceAccuracy: 1 - wrong / Math.max(1, n),
    },
  };
}

/** Levenshtein distance between two token sequences. */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length]!;
}
