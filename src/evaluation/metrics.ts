import type { Report } from "../artifacts/report.js";
import type { Scaling } from "../artifacts/table.js";
import { decodeValue } from "../artifacts/sequences.js";
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
  const guesses = new Int32Array(n);
  let inTopK = 0;
  for (let i = 0; i < n; i++) {
    const scores =
      units === 1
        ? [1 - probs[i]!, probs[i]!]
        : Array.from(probs.subarray(i * units, (i + 1) * units));
    guesses[i] = argmax(scores, 0, scores.length);
    // Rank of the true class: how many classes scored strictly higher (ties favour the lower index, as argmax does).
    const truth = scores[y[i]!]!;
    const above = scores.filter((s, j) => s > truth || (s === truth && j < y[i]!)).length;
    if (above < topK) inTopK++;
  }
  const { matrix, missed } = confusionOf(y, guesses, classes.length);
  const scored = classMetrics(matrix, missed, classes);
  if (classes.length > topK) scored.metrics[`top${topK}`] = inTopK / Math.max(1, n);
  return {
    type: "report",
    task: "class",
    n,
    metrics: scored.metrics,
    perClass: scored.perClass,
    ...(scored.zeroSupport.length ? { zeroSupport: scored.zeroSupport } : {}),
    confusion: { labels: classes, matrix },
  };
}

/** The confusion matrix of guesses (rows: true class); a guess of -1 (none) is counted in `missed`. */
export function confusionOf(
  y: ArrayLike<number>,
  guesses: ArrayLike<number>,
  C: number,
): { matrix: number[][]; missed: number[] } {
  const matrix = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  const missed = new Array<number>(C).fill(0);
  for (let i = 0; i < y.length; i++) {
    if (guesses[i]! < 0) missed[y[i]!]!++;
    else matrix[y[i]!]![guesses[i]!]!++;
  }
  return { matrix, missed };
}

/**
 * Accuracy, per-class precision/recall/F1 and their averages from a confusion matrix (counts, or
 * expected counts). Macro averages are over all classes; when some class has no example here, they
 * are also given over the classes present (`macroF1Present`), and those classes are named.
 */
export function classMetrics(
  matrix: number[][],
  missed: number[],
  classes: string[],
): {
  metrics: Record<string, number>;
  perClass: NonNullable<Report["perClass"]>;
  zeroSupport: string[];
} {
  const C = classes.length;
  const perClass = classes.map((label, c) => {
    const tp = matrix[c]![c]!;
    const predicted = matrix.reduce((a, row) => a + row[c]!, 0);
    const support = matrix[c]!.reduce((a, b) => a + b, 0) + missed[c]!;
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
  const n = perClass.reduce((a, c) => a + c.support, 0);
  const correct = perClass.reduce((a, _c, i) => a + matrix[i]![i]!, 0);
  const present = perClass.filter((c) => c.support > 0);
  const mean = (over: typeof perClass, k: "precision" | "recall" | "f1") =>
    over.reduce((a, c) => a + c[k], 0) / Math.max(1, over.length);
  const metrics: Record<string, number> = {
    accuracy: correct / Math.max(1, n),
    macroPrecision: mean(perClass, "precision"),
    macroRecall: mean(perClass, "recall"),
    macroF1: mean(perClass, "f1"),
    // Single-label: micro precision = micro recall = micro F1 = accuracy.
    microF1: correct / Math.max(1, n),
  };
  const zeroSupport = perClass.filter((c) => c.support === 0).map((c) => c.label);
  if (zeroSupport.length && C > zeroSupport.length) {
    metrics.macroPrecisionPresent = mean(present, "precision");
    metrics.macroRecallPresent = mean(present, "recall");
    metrics.macroF1Present = mean(present, "f1");
  }
  return { metrics, perClass, zeroSupport };
}

/** Errors in the targets' original units (scaling and relative encoding undone), overall, per target and per step. */
export interface ValueErrors {
  metrics: Record<string, number>;
  perTarget: { name: string; mae: number; rmse: number; mape: number }[];
  perStep: { mae: number; rmse: number }[];
}

/**
 * MAE, RMSE and MAPE of predictions in the targets' original units. MAPE skips true values of 0,
 * where it is undefined.
 */
export function valueErrors(
  pred: Float32Array,
  y: Float32Array,
  names: string[],
  horizon: number,
  scaling?: Record<string, Scaling>,
  relativeTo?: Float32Array,
): ValueErrors {
  const size = names.length * horizon;
  const n = y.length / size;
  const unscale = (v: number, k: number, example: number) =>
    decodeValue(v, scaling?.[names[k]!], relativeTo?.[example * names.length + k]);
  const zero = () => ({ abs: 0, sq: 0, pct: 0, pctN: 0, m: 0 });
  const acc = names.map(zero);
  const steps = Array.from({ length: horizon }, zero);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < horizon; h++) {
      for (let k = 0; k < names.length; k++) {
        const j = i * size + h * names.length + k;
        const truth = unscale(y[j]!, k, i);
        const err = unscale(pred[j]!, k, i) - truth;
        for (const a of [acc[k]!, steps[h]!]) {
          a.abs += Math.abs(err);
          a.sq += err * err;
          a.m++;
          if (truth !== 0) (a.pct += Math.abs(err / truth)), a.pctN++;
        }
      }
    }
  }
  const all = acc.reduce(
    (t, a) => ({
      abs: t.abs + a.abs,
      sq: t.sq + a.sq,
      pct: t.pct + a.pct,
      pctN: t.pctN + a.pctN,
      m: t.m + a.m,
    }),
    zero(),
  );
  const metrics: Record<string, number> = {
    mae: all.abs / Math.max(1, all.m),
    rmse: Math.sqrt(all.sq / Math.max(1, all.m)),
  };
  if (all.pctN) metrics.mape = (100 * all.pct) / all.pctN;
  return {
    metrics,
    perTarget: names.map((name, k) => {
      const a = acc[k]!;
      return {
        name,
        mae: a.abs / Math.max(1, a.m),
        rmse: Math.sqrt(a.sq / Math.max(1, a.m)),
        mape: a.pctN ? (100 * a.pct) / a.pctN : -1,
      };
    }),
    perStep: steps.map((a) => ({
      mae: a.abs / Math.max(1, a.m),
      rmse: Math.sqrt(a.sq / Math.max(1, a.m)),
    })),
  };
}

/** A value report without baselines: the errors overall and per target. */
export function valueReport(
  pred: Float32Array,
  y: Float32Array,
  names: string[],
  horizon: number,
  scaling?: Record<string, Scaling>,
): Report {
  const e = valueErrors(pred, y, names, horizon, scaling);
  return {
    type: "report",
    task: "value",
    n: y.length / (names.length * horizon),
    metrics: e.metrics,
    perTarget: e.perTarget,
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
