import type { Scaling } from "./table.js";

/**
 * A set of sequences ready for a recurrent model: `x` holds N sequences of length T (token ids, or
 * F features per step), padded on one side; `lengths` gives each one's true length; `target` what
 * to predict. A split gives one SequenceSet per part.
 */
export type Target =
  | { kind: "class"; y: Int32Array; classes: string[] }
  /** One token id per step, aligned with the input steps (tagging, transliteration); id 0 is padding. */
  | { kind: "sequence"; y: Int32Array; tokens: string[]; level: "char" | "word" }
  /**
   * A token sequence of its own length (translation, G2P): [N, length] ids ending in <eos>, 0-padded.
   * An encoder-decoder reads the input and is fed <bos> + the target shifted right (teacher forcing).
   */
  | {
      kind: "tokens";
      y: Int32Array;
      length: number;
      tokens: string[];
      level: "char" | "word";
      bos: number;
      eos: number;
    }
  /** `size` values per example: `horizon` future steps of each target column, step-major. */
  | {
      kind: "value";
      y: Float32Array;
      names: string[];
      horizon: number;
      size: number;
      scaling?: Record<string, Scaling>;
      /** Relative windows: per example, each target's last observed value; a value v means (v + 1) times it. */
      relativeTo?: Float32Array;
      /** What each forecast step is in time, when the series has a time column ("+1 month"). */
      steps?: string[];
    }
  | { kind: "none" };

/** How text became token ids, carried along so new text can be encoded the same way (`rnnp predict`). */
export interface TextEncoding {
  level: "char" | "word";
  lowercase: boolean;
  punctuation: "split" | "strip";
  tokens: string[];
  reserved: { pad: number; unk: number; bos?: number; eos?: number };
  maxLen: number;
  pad: "pre" | "post";
  truncate: "pre" | "post";
  bos: boolean;
  eos: boolean;
  oneHot: boolean;
}

/** How numeric rows became feature windows, for the same purpose. */
export interface WindowEncoding {
  columns: string[];
  length: number;
  relative?: boolean;
  scaling?: Record<string, Scaling>;
  /** One-hot features after the numeric ones: each column's classes (fitted on the fit part). */
  categorical?: { column: string; classes: string[] }[];
}

/*
 * A window's numbers as the model sees them, and back: relative to a reference (the window's last
 * value) when the window is relative, then scaled. One definition: the window kind encodes its
 * training data with it, `rnnp predict` new rows, and evaluate and predict decode forecasts.
 */

/** A value relative to a reference: v = (1 + r) * ref. */
export function toRelative(v: number, ref: number): number {
  return v / ref - 1;
}

export function scaleValue(v: number, s: Scaling | undefined): number {
  return s ? (v - s.center) / s.scale : v;
}

/** A model's output back in its column's units: unscaled, then times its reference when relative. */
export function decodeValue(v: number, s: Scaling | undefined, ref?: number): number {
  const u = s ? v * s.scale + s.center : v;
  return ref === undefined ? u : (u + 1) * ref;
}

/**
 * What the baselines a model must beat predict, made where the data is known (the fit part's classes,
 * the rows before each window) and carried example by example, so that evaluate scores them on
 * exactly the examples it scores the model on.
 */
export interface Baselines {
  /** Class targets: how many examples of each class the fit part has (majority class, stratified guessing). */
  classCounts?: Int32Array;
  /** Class targets of a series: per example, the class of the last label known before its target (-1: none). */
  persistence?: Int32Array;
  /** Value targets: each baseline's forecast for every example, encoded as `target.y` is. */
  forecasts?: { name: string; doc: string; y: Float32Array }[];
}

/** What a window stage did, part by part: windows made, and windows left out and why. */
export interface WindowReport {
  windows: number;
  /** Reason -> windows left out: "gap" (span crosses a gap), "filled" (target on a filled step), "parts" (targets in two parts). */
  dropped: Record<string, number>;
  /** Rows added to fill gaps (gaps: "fill"). */
  filled: number;
  /** The series' time step, when it has a time column ("1 month"). */
  step?: string;
}

export interface SequenceSet {
  type: "sequences";
  input: "tokens" | "features";
  x: Int32Array | Float32Array;
  /** [N, T] for tokens, [N, T, F] for features. */
  shape: number[];
  lengths: Int32Array;
  padding: "pre" | "post";
  target: Target;
  text?: TextEncoding;
  window?: WindowEncoding;
  /** From `bucket`: batches of example indices of similar length; each batch is cut to its longest. */
  batches?: Int32Array[];
  /** A column carried along to report metrics by (e.g. the speaker's voice). */
  groups?: { name: string; values: string[] };
  baselines?: Baselines;
  /** From `window`: how the windows were made. */
  report?: WindowReport;
}

/** What is known of a stage's sequences before it runs: enough to check a model's layers against. */
export interface SequenceInfo {
  kind: "sequences";
  input: "tokens" | "features";
  target: Target["kind"];
  length?: number;
  features?: number;
  /** The sequences come in `bucket` batches (train's batchSize does not apply). */
  batched?: boolean;
}

export function count(s: SequenceSet): number {
  return s.shape[0] ?? 0;
}

export function describeSequences(s: SequenceSet): string {
  const t = s.target;
  const target =
    t.kind === "class"
      ? `${t.classes.length} classes`
      : t.kind === "value"
        ? `${t.size} values (${t.names.join(", ")} x ${t.horizon})`
        : t.kind === "sequence"
          ? `token sequences over ${t.tokens.length} ids`
          : t.kind === "tokens"
            ? `target sequences of ${t.length} over ${t.tokens.length} ids`
            : "no target";
  const batches = s.batches ? `, ${s.batches.length} length buckets` : "";
  return `sequences of ${s.input}, shape [${s.shape.join(", ")}], ${s.padding}-padded, ${target}${batches}`;
}
