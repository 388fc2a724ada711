/**
 * How far each test set is from the training data, before any model is involved: per feature, per
 * token statistic and for the labels. Population stability index (PSI) over the reference's
 * quantile bins, and the two-sample Kolmogorov-Smirnov statistic (the largest gap between the two
 * empirical distribution functions). PSI below 0.1 is read as no shift, 0.1-0.25 as moderate, above
 * 0.25 as large (the credit-scoring convention it comes from).
 */
export interface ShiftReport {
  type: "shift";
  /** Examples of the reference (training) data. */
  n: number;
  /** The sets, the most shifted first. */
  sets: ShiftSet[];
}

export interface ShiftSet {
  name: string;
  n: number;
  /** The largest PSI of anything measured on this set: what it is ranked by. */
  score: number;
  /** What has that largest PSI ("feature 3", "length", "labels"). */
  worst: string;
  /** Per numeric feature, the most shifted first. */
  features: FeatureShift[];
  /** Feature sequences of varying length (audio): the distribution of their lengths in steps. */
  lengths?: FeatureShift;
  /** Token sequences: out-of-vocabulary rate, lengths, the token distribution. */
  tokens?: TokenShift;
  /** Class targets: the label distribution; value targets: each target's values. */
  labels?: LabelShift;
  targets?: FeatureShift[];
}

export interface FeatureShift {
  name: string;
  psi: number;
  ks: number;
  mean: number;
  referenceMean: number;
  std: number;
  referenceStd: number;
}

export interface TokenShift {
  /** Share of (non-padding) tokens that are <unk>, here and in the reference. */
  oovRate: number;
  referenceOovRate: number;
  /** The distribution of sequence lengths (tokens before padding). */
  length: FeatureShift;
  /** Share of sequences cut at the maximum length, here and in the reference. */
  truncated: number;
  referenceTruncated: number;
  /** PSI of the token frequencies (each id a bin). */
  tokenPsi: number;
}

export interface LabelShift {
  psi: number;
  /** Total variation distance: half the sum of the absolute share differences. */
  tv: number;
  shares: { label: string; reference: number; set: number }[];
}

/** The conventional reading of a PSI. */
export function psiLevel(psi: number): "none" | "moderate" | "large" {
  return psi < 0.1 ? "none" : psi < 0.25 ? "moderate" : "large";
}

export function describeShift(s: ShiftReport): string {
  return `shift of ${s.sets.length} set${s.sets.length === 1 ? "" : "s"} from ${s.n} reference examples: ${s.sets
    .map((x) => `${x.name} PSI ${x.score.toPrecision(3)} (${x.worst})`)
    .join(", ")}`;
}
