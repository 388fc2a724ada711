import type { LayerFlow } from "../artifacts/model.js";
import type { CellKind } from "./fused/cells.js";

/**
 * Gradient flow through time: the signature of vanishing and exploding gradients in a recurrent
 * layer is not the size of its weight gradients but how the gradient with respect to its hidden state
 * changes as it flows back through the steps. Backpropagation through time computes that gradient at
 * every step anyway; rnnp's kernels keep a copy of it (and TF.js's cells pass it through a probe, see
 * probe.ts), and this module turns it into per-layer, per-epoch figures:
 *
 * - the profile: norms[k], the mean over the epoch's sequences of ‖∂loss/∂h‖ at the k-th step before
 *   each sequence's last step, in the order the layer reads (steps the mask skips do not count: the
 *   state passes through them unchanged). Aligning each sequence at its own last step is what makes
 *   "k steps back" mean the same for sequences of different lengths, padded before or after, read
 *   forwards or backwards;
 * - the horizon: how many steps back the gradient keeps at least 1% of its value at the last step;
 * - the growth factor: the geometric mean of norms[k+1] / norms[k] (below 1 the gradient vanishes
 *   going back, above 1 it explodes);
 * - gate saturation from the forward pass's tape (fused kernels only).
 */

/** The fraction of the last step's gradient that still counts as "seen" (issue 15). */
export const HORIZON_FRACTION = 0.01;

/** Counts of saturated activations over the live steps of one or more batches. */
export interface SaturationCounts {
  /** Forget (LSTM) or update (GRU) gate values seen, and those within 0.01 of 0 and of 1. */
  gates: number;
  gatesNear0: number;
  gatesNear1: number;
  /** Candidate values seen (SimpleRNN: its state, a tanh), and those beyond ±0.99. */
  candidates: number;
  candidatesSaturated: number;
}

/** One backward pass of one recurrent layer, as measured. */
export interface StepGradients {
  rows: number;
  steps: number;
  /** ‖∂loss/∂h‖ of row b after processing step s, at [b * steps + s]; NaN where the mask skipped it. */
  norms: Float64Array;
  /** Only where the gates are on a tape (rnnp's fused kernels). */
  saturation?: SaturationCounts;
}

/**
 * A recurrent layer whose gradient flow can be recorded: its label in the run output (`lstm_2`,
 * `bidirectional_1 (backward)`), its cell, where it is measured, and while a training loop listens,
 * where its measurements go.
 */
export interface FlowTap {
  readonly label: string;
  readonly cell: CellKind;
  readonly source: LayerFlow["source"];
  sink?: (g: StepGradients) => void;
}

const taps = new WeakMap<object, FlowTap[]>();

/** Declares a tap on one of a model's layers (fuse.ts and probe.ts do, for the layers they run). */
export function addTap(model: object, tap: FlowTap): FlowTap {
  const list = taps.get(model) ?? [];
  list.push(tap);
  taps.set(model, list);
  return tap;
}

export function tapsOf(model: object): readonly FlowTap[] {
  return taps.get(model) ?? [];
}

/** Sums, by steps back from each sequence's last step, of one layer's gradient norms over an epoch. */
class LayerAccumulator {
  private sums: number[] = [];
  private counts: number[] = [];
  private sat: SaturationCounts | undefined;

  constructor(readonly tap: FlowTap) {}

  add(g: StepGradients): void {
    // A batch's loss is the mean of its examples' losses: B times the gradient is an example's own.
    for (let b = 0; b < g.rows; b++) {
      let k = 0;
      for (let s = g.steps - 1; s >= 0; s--) {
        const n = g.norms[b * g.steps + s]!;
        if (Number.isNaN(n)) continue;
        this.sums[k] = (this.sums[k] ?? 0) + n * g.rows;
        this.counts[k] = (this.counts[k] ?? 0) + 1;
        k++;
      }
    }
    if (g.saturation) {
      this.sat ??= {
        gates: 0,
        gatesNear0: 0,
        gatesNear1: 0,
        candidates: 0,
        candidatesSaturated: 0,
      };
      for (const key of Object.keys(this.sat) as (keyof SaturationCounts)[])
        this.sat[key] += g.saturation[key];
    }
  }

  /** The epoch's figures; undefined if no batch reached this layer. */
  result(): LayerFlow | undefined {
    if (this.sums.length === 0) return undefined;
    const norms = this.sums.map((s, k) => round(s / this.counts[k]!));
    const sat = this.sat;
    return {
      layer: this.tap.label,
      cell: this.tap.cell,
      source: this.tap.source,
      norms,
      horizon: horizonOf(norms),
      growth: growthOf(norms),
      ...(sat && sat.candidates > 0
        ? {
            saturation: {
              ...(sat.gates > 0
                ? {
                    gates: {
                      near0: round(sat.gatesNear0 / sat.gates),
                      near1: round(sat.gatesNear1 / sat.gates),
                    },
                  }
                : {}),
              candidates: round(sat.candidatesSaturated / sat.candidates),
            },
          }
        : {}),
    };
  }
}

/** Six significant digits: enough to read and plot, and the artifact stays small. */
const round = (v: number): number => (Number.isFinite(v) ? Number(v.toPrecision(6)) : v);

/**
 * How many steps back (the last step counted) the gradient keeps at least 1% of its norm at the last
 * step: the steps the layer can learn from. All of them if it never falls below; 0 if the last step
 * gets no gradient.
 */
export function horizonOf(norms: readonly number[]): number {
  const last = norms[0];
  if (last === undefined || !(last > 0)) return 0;
  const k = norms.findIndex((n) => !(n >= HORIZON_FRACTION * last));
  return k < 0 ? norms.length : k;
}

/**
 * The geometric mean of norms[k+1] / norms[k] over the steps the gradient reaches (those before the
 * first exact zero, where float32 underflows and a ratio means nothing): (norms[j] / norms[0])^(1/j)
 * for the last nonzero norms[j]; 0 when the gradient is zero one step back. Null with fewer than two
 * steps or no gradient at the last step.
 */
export function growthOf(norms: readonly number[]): number | null {
  const K = norms.length;
  const first = norms[0];
  if (K < 2 || first === undefined || !(first > 0)) return null;
  let j = K - 1;
  while (j > 0 && !(norms[j]! > 0)) j--;
  if (j === 0) return 0;
  const last = norms[j]!;
  if (!Number.isFinite(last)) return last;
  return round((last / first) ** (1 / j));
}

/** Listens to every tapped layer of a model during training and gives one figure per layer per epoch. */
export class FlowRecorder {
  private layers: LayerAccumulator[];

  constructor(private readonly model: object) {
    this.layers = tapsOf(model).map((tap) => new LayerAccumulator(tap));
    for (const l of this.layers) l.tap.sink = (g) => l.add(g);
  }

  /** The figures of the epoch that just ended, and a fresh start for the next one. */
  epoch(): LayerFlow[] {
    const out = this.layers.flatMap((l) => l.result() ?? []);
    this.layers = this.layers.map((l) => new LayerAccumulator(l.tap));
    for (const l of this.layers) l.tap.sink = (g) => l.add(g);
    return out;
  }

  /** Stops listening (the model's layers run without measuring again). */
  close(): void {
    for (const tap of tapsOf(this.model)) delete tap.sink;
  }
}
