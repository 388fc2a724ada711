import type { EpochRecord, LayerFlow } from "../artifacts/model.js";

/**
 * What the training loop says about a training run, with the evidence and a remedy: the classic
 * recurrent failures measured where they happen (gradient flow through time, saturation; flow.ts),
 * and the trajectory of the loss (rising, diverging, stalling, overfitting). Each warning has a key
 * (one warning per key per run) and its text.
 *
 * The thresholds below were calibrated on pipelines/longrange.rnnp (the adding problem and the copy
 * task at 20, 50 and 100 steps with SimpleRNN, GRU and LSTM; the table is in the README), on
 * pipelines built to trigger each warning (test/numerics/health.test.ts, test/cli/health.test.ts)
 * and on every shipped example pipeline, which raises none.
 */
export interface Warning {
  key: string;
  text: string;
}

/** What the warnings read besides the history. */
export interface RunFacts {
  /** The training loss of the best constant prediction (losses.ts: baselineLoss), and what it predicts. */
  baselineLoss?: number;
  baselineWhat?: string;
  /** The learning rate as configured (for the hints). */
  lr: number;
  clipNorm?: number;
  /** Early stopping, if on; `bestEpoch` when it restored that epoch's weights. */
  earlyStopping?: { patience: number; restoreBest: boolean };
  bestEpoch?: number;
}

// ---- thresholds (each calibrated as the module comment says) ----

// Measured noise on the shipped examples (pipelines/*.rnnp at full size): stocks.rnnp's six trainings
// (relative monthly prices, a few hundred windows: its loss moves a few percent from epoch to epoch)
// put a later epoch up to 3.0% above epoch 1's, rose for three epochs in a row by up to 6.1%, and
// reached a best training loss 7.5% (the closest of all) under a constant prediction's. Every
// threshold below leaves a margin over those figures; the pipelines built to trigger each warning
// (test/cli/health.test.ts) clear it by far.

/** Epochs of consecutive rises of the training loss that make a trend, not noise... */
export const RISING_EPOCHS = 3;
/** ...when they add up to at least this fraction of the loss they started from (noise: 6.1%). */
export const RISE_MIN = 0.1;
/**
 * A loss above epoch 1's by more than this fraction (noise: 3.0%): epoch 1's loss is an average over
 * a model still near its initial weights for part of the epoch, so a later epoch above it has undone
 * everything learned since. The run of issue 15 (names.rnnp, SimpleRNN, lr 3: 5.65 -> 6.20) is 9.7%.
 */
export const ABOVE_FIRST = 0.05;
/**
 * A run whose best training loss stays within this fraction of a constant prediction's has learned
 * nothing (the closest shipped example: 7.5% under it).
 */
export const BASELINE_MARGIN = 0.05;
/** Stall: epochs of a flat loss (max - min under FLAT of their mean)... */
export const STALL_EPOCHS = 3;
export const FLAT = 0.01;
/** ...while the gradient norm is under this fraction of epoch 1's... */
export const TINY_GRADIENT = 0.1;
/** ...and the loss is still above this fraction of a constant prediction's (a converged model is not stalled). */
export const STALL_LOSS = 0.5;
/** Overfitting: validation loss this much above its best, at least OVERFIT_EPOCHS after it, training loss lower. */
export const OVERFIT_RISE = 0.1;
export const OVERFIT_EPOCHS = 3;
/** Vanishing: a layer that sees fewer than this fraction of its steps back... */
export const HORIZON_SHORT = 0.5;
/** ...over at least this many steps (a handful of steps is not a horizon worth judging)... */
export const MIN_STEPS = 8;
/**
 * ...unless its training loss is under this fraction of a constant prediction's: a model that has
 * learned its task needed no longer horizon (digits.rnnp: 0.0004 of it; the SimpleRNNs of the
 * long-range demonstration that fail with a short horizon: 1.0 and above).
 */
export const LEARNED = 0.5;
/** Exploding: the gradient this many times larger at the first step than at the last. */
export const EXPLODE_RATIO = 100;
/** Saturation: this fraction of candidate activations beyond ±0.99, or of gates within 0.01 of 0. */
export const SATURATED = 0.5;

/**
 * A warning's kind from its text (the artifact keeps the texts): "rising", "above-first", "stall",
 * "baseline", "overfit", "vanish", "explode", "saturated"; undefined for a text this module does not
 * write.
 */
export function warningKind(text: string): string | undefined {
  const kinds: [RegExp, string][] = [
    [/ sees \d+ of \d+ steps back at epoch /, "vanish"],
    [/: it explodes; /, "explode"],
    [/ at epoch \d+: .* (saturated|shut) .*: gradients through them nearly vanish/, "saturated"],
    [/ that of a constant prediction.*: the model has learned nothing/, "baseline"],
    [/^training stalled at epochs /, "stall"],
    [/^the training loss rose for /, "rising"],
    [/ is above epoch 1's .*: training diverged/, "above-first"],
    [/^the validation loss parted from the training loss /, "overfit"],
  ];
  return kinds.find(([re]) => re.test(text))?.[1];
}

const f = (v: number): string =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(2)
    : String(+v.toPrecision(3));
const pct = (v: number): string => `${+(100 * v).toPrecision(2)}%`;

/**
 * Warnings that a run's history shows as soon as it shows them (checked after every epoch): the
 * loss's trajectory, and a gradient that explodes back through time at any epoch (an explosion is an
 * event: the epochs after it may recover, the damage to the weights stays).
 */
export function epochWarnings(history: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const last = history.at(-1);
  return [
    ...rising(history, facts),
    ...aboveFirst(history, facts),
    ...stalled(history, facts),
    ...(last?.flow ?? []).flatMap((l) => explodingWarnings(l, last!.epoch, facts)),
  ];
}

/**
 * Warnings about the run as it ended: its final gradient flow (how far back each layer learns, and
 * its saturation: early epochs are still finding their way), its loss against the baseline,
 * overfitting.
 */
export function finalWarnings(history: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const last = history.at(-1);
  if (!last) return [];
  return [
    ...(last.flow ?? []).flatMap((l) =>
      flowWarnings(l, last.epoch, facts, coveredTogether(l, last.flow!) || learned(last, facts)),
    ),
    ...noBetterThanConstant(history, facts),
    ...overfitting(history, facts),
  ];
}

const lrHint = (facts: RunFacts) =>
  `lower the learning rate (${f(facts.lr)})${facts.clipNorm === undefined ? " or set clipNorm (e.g. 1.0)" : ""}`;

function rising(h: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const n = h.length;
  if (n <= RISING_EPOCHS) return [];
  for (let i = n - RISING_EPOCHS; i < n; i++) if (!(h[i]!.loss > h[i - 1]!.loss)) return [];
  const from = h[n - 1 - RISING_EPOCHS]!;
  const to = h[n - 1]!;
  if (!(to.loss >= from.loss * (1 + RISE_MIN))) return [];
  return [
    {
      key: "rising",
      text: `the training loss rose for ${RISING_EPOCHS} epochs in a row (epochs ${from.epoch} to ${to.epoch}: ${f(from.loss)} -> ${f(to.loss)}): training is unstable; ${lrHint(facts)}`,
    },
  ];
}

function aboveFirst(h: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const first = h[0];
  const last = h.at(-1);
  if (!first || !last || last === first || !(last.loss > first.loss * (1 + ABOVE_FIRST))) return [];
  return [
    {
      key: "above-first",
      text: `the training loss at epoch ${last.epoch} (${f(last.loss)}) is above epoch 1's (${f(first.loss)}): training diverged; ${lrHint(facts)}`,
    },
  ];
}

function stalled(h: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const first = h[0];
  if (!first || h.length < STALL_EPOCHS || facts.baselineLoss === undefined) return [];
  const span = h.slice(-STALL_EPOCHS);
  const losses = span.map((e) => e.loss);
  const mean = losses.reduce((a, v) => a + v, 0) / losses.length;
  const flat = Math.max(...losses) - Math.min(...losses) <= FLAT * mean;
  const tiny = span.every((e) => e.gradNorm <= TINY_GRADIENT * first.gradNorm);
  if (!flat || !tiny || !(mean >= STALL_LOSS * facts.baselineLoss)) return [];
  const grad = Math.max(...span.map((e) => e.gradNorm));
  return [
    {
      key: "stall",
      text: `training stalled at epochs ${span[0]!.epoch} to ${span.at(-1)!.epoch}: the loss stayed at ${f(mean)} (a constant prediction's is ${f(facts.baselineLoss)}) while the gradient norm fell to ${pct(grad / first.gradNorm)} of epoch 1's (${f(grad)} vs ${f(first.gradNorm)}); ${stallHint(span.at(-1)!, facts)}`,
    },
  ];
}

/** Saturated units stall with tiny gradients: a smaller step unsaturates them; otherwise a larger one. */
function stallHint(e: EpochRecord, facts: RunFacts): string {
  const saturated = (e.flow ?? []).filter((l) => (l.saturation?.candidates ?? 0) >= SATURATED);
  if (saturated.length)
    return `${saturated.map((l) => `${l.layer} has ${pct(l.saturation!.candidates)} of its tanh units saturated`).join(", ")}: ${lrHint(facts)}`;
  return `a larger learning rate (${f(facts.lr)}), gru or lstm for recurrent layers, or layerNormalization`;
}

function noBetterThanConstant(h: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const last = h.at(-1)!;
  const base = facts.baselineLoss;
  const best = Math.min(...h.map((e) => e.loss));
  if (base === undefined || h.length < 2 || !(best >= base * (1 - BASELINE_MARGIN))) return [];
  // Above the baseline and not coming down: the steps are too large. Else it has not learned yet.
  const diverged = last.loss > base && last.loss >= h[0]!.loss;
  const what = facts.baselineWhat ? ` (${facts.baselineWhat})` : "";
  const loss = best === last.loss ? `(${f(last.loss)})` : `(${f(last.loss)}, at best ${f(best)})`;
  return [
    {
      key: "baseline",
      text: `after ${h.length} epochs the training loss ${loss} is ${best > base ? "above" : "no better than"} that of a constant prediction${what}, ${f(base)}: the model has learned nothing; ${diverged ? lrHint(facts) : `see how far back its gradients reach (rnnp show), try a larger learning rate (${f(facts.lr)}) or more epochs`}`,
    },
  ];
}

function overfitting(h: readonly EpochRecord[], facts: RunFacts): Warning[] {
  const withVal = h.filter((e) => e.valLoss !== undefined);
  if (withVal.length < 2) return [];
  const best = withVal.reduce((a, e) => (e.valLoss! < a.valLoss! ? e : a));
  // The weights the run ends with: the best epoch's when early stopping restored them.
  const kept = h.find((e) => e.epoch === facts.bestEpoch) ?? h.at(-1)!;
  if (kept.valLoss === undefined || kept.epoch - best.epoch < OVERFIT_EPOCHS) return [];
  if (!(kept.valLoss >= best.valLoss! * (1 + OVERFIT_RISE) && kept.loss < best.loss)) return [];
  const stop = facts.earlyStopping
    ? "early stopping with restoreBest: true"
    : `early stopping (patience: ${OVERFIT_EPOCHS}, which restores the best epoch)`;
  return [
    {
      key: "overfit",
      text: `the validation loss parted from the training loss after epoch ${best.epoch}: by epoch ${kept.epoch} val_loss rose ${f(best.valLoss!)} -> ${f(kept.valLoss)} while the training loss fell ${f(best.loss)} -> ${f(kept.loss)}: the model overfits; regularise (dropout, recurrentDropout), use ${stop}, or more data`,
    },
  ];
}

/** "the gradient shrinks 0.61x per step": a layer's growth factor, in words. */
function growthWords(l: LayerFlow): string {
  if (l.growth === null) return "";
  if (l.growth === 0) return ": the gradient vanishes within a step";
  return `: the gradient ${l.growth < 1 ? "shrinks" : "grows"} ${f(l.growth)}x per step`;
}

/**
 * Whether the model has learned its task well enough that a short horizon was all it needed: its
 * training loss under LEARNED of a constant prediction's. (digits.rnnp: its two directions reach 35
 * and 24 of 142 frames back, and its loss is 0.001 against a constant prediction's 2.30.)
 */
function learned(last: EpochRecord, facts: RunFacts): boolean {
  return facts.baselineLoss !== undefined && last.loss < LEARNED * facts.baselineLoss;
}

/**
 * Whether a bidirectional layer's two directions together reach every step: the forward one counts
 * back from the last step, the backward one from the first, so a step is within reach when it is
 * within either horizon. (spam.rnnp: forward 96 and backward 150 of 200 steps, every token reached.)
 */
export function coveredTogether(l: LayerFlow, all: readonly LayerFlow[]): boolean {
  const pair = l.layer.match(/^(.*) \((forward|backward)\)$/);
  if (!pair) return false;
  const other = all.find(
    (o) => o.layer === `${pair[1]} (${pair[2] === "forward" ? "backward" : "forward"})`,
  );
  return (
    other !== undefined && l.horizon + other.horizon >= Math.max(l.norms.length, other.norms.length)
  );
}

/**
 * A layer's gradient flow at the end of training: vanishing (with saturation as its evidence), or
 * saturated. `excused`: a short horizon is no problem here: its other direction reaches the steps it
 * does not (coveredTogether), or the model has learned its task (learned).
 */
export function flowWarnings(
  l: LayerFlow,
  epoch: number,
  facts: RunFacts,
  excused = false,
): Warning[] {
  const K = l.norms.length;
  const saturated = saturation(l);
  if (K >= MIN_STEPS && l.horizon < HORIZON_SHORT * K && !excused)
    return [
      {
        key: `vanish:${l.layer}`,
        text: `${l.layer} sees ${l.horizon} of ${K} steps back at epoch ${epoch}${growthWords(l)}${saturated ? `; ${saturated}` : ""}; ${vanishHint(l, saturated, facts)}`,
      },
    ];
  if (saturated)
    return [
      {
        key: `saturated:${l.layer}`,
        text: `${l.layer} at epoch ${epoch}: ${saturated}: gradients through them nearly vanish; ${lrHint(facts)}, or normalise its inputs (layerNormalization)`,
      },
    ];
  return [];
}

/**
 * A layer's gradient at one epoch, EXPLODE_RATIO times larger at its first step than at its last,
 * growing all the way: the median ratio between neighbouring steps is at least the per-step growth
 * that makes EXPLODE_RATIO. One jump is not an explosion: a decoder's last steps are padding for most
 * targets, so its last-step gradient is near 0 and the profile jumps at once to the size of its
 * other steps (g2p.rnnp: 1e-6 at the last step, then 0.01, 0.06, 0.14, ... 0.29, flat).
 */
export function explodingWarnings(l: LayerFlow, epoch: number, facts: RunFacts): Warning[] {
  const K = l.norms.length;
  const first = l.norms[0] ?? 0;
  const end = l.norms[K - 1] ?? 0;
  if (K < 2 || !(first > 0) || !(end >= EXPLODE_RATIO * first)) return [];
  const ratios = l.norms
    .slice(1)
    .map((n, k) => n / l.norms[k]!)
    .sort((a, b) => a - b);
  const median = ratios[Math.floor((ratios.length - 1) / 2)]!;
  if (!(median >= EXPLODE_RATIO ** (1 / (K - 1)))) return [];
  return [
    {
      key: `explode:${l.layer}`,
      text: `${l.layer}'s gradient grows back through time at epoch ${epoch}${growthWords(l)}, ${f(end / first)}x larger ${K - 1} steps back than at the last step: it explodes; ${lrHint(facts)}`,
    },
  ];
}

/** The saturation worth a warning, in words, if any. */
function saturation(l: LayerFlow): string | undefined {
  const s = l.saturation;
  if (!s) return undefined;
  const parts: string[] = [];
  if (s.candidates >= SATURATED)
    parts.push(
      `${pct(s.candidates)} of its ${l.cell === "simpleRNN" ? "units" : "candidates"} are saturated (|tanh| > 0.99)`,
    );
  if (s.gates && s.gates.near0 >= SATURATED)
    parts.push(
      `${pct(s.gates.near0)} of its ${l.cell === "lstm" ? "forget" : "update"} gates are shut (< 0.01)`,
    );
  return parts.length ? parts.join(", ") : undefined;
}

function vanishHint(l: LayerFlow, saturated: string | undefined, facts: RunFacts): string {
  if (saturated) return `${lrHint(facts)}, or normalise its inputs (layerNormalization)`;
  return l.cell === "simpleRNN"
    ? "try gru or lstm (their gates carry gradients over more steps), layerNormalization, or shorter sequences"
    : `try layerNormalization, shorter sequences (maxLen, window length), or a larger learning rate (${f(facts.lr)})`;
}
