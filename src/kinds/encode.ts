import { UserError } from "../core/diagnostic.js";
import { grown } from "../core/grown.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { asStrings, column, rowCount, type Table } from "../artifacts/table.js";
import type { SequenceSet, Target, TextEncoding } from "../artifacts/sequences.js";
import type { Vocabulary } from "../artifacts/vocabulary.js";
import { tokenize } from "../data/tokenize.js";
import { fitPart } from "../data/parts.js";
import { ensureArrayFits, MAX_STEPS } from "../numerics/limits.js";

export const encode = defineKind({
  name: "encode",
  // 2: class targets carry the fit part's class counts (the majority and stratified baselines).
  version: 2,
  doc: "Turns text into padded sequences of token ids with a vocabulary, and labels into class indices. Lengths and classes are fitted on one part (`fit`, default train).",
  params: {
    column: p.string("Text column (default: the table's text column).").optional(),
    label: p
      .string("Label column (default: the table's label column; none means no target).")
      .optional(),
    maxLen: p
      .int("Sequence length; longer texts are truncated, shorter padded.", {
        min: 1,
        max: MAX_STEPS,
      })
      .optional(),
    percentile: p
      .number(
        "Without maxLen: the length that covers this percent of the fit part's texts (100 = the longest).",
        { greaterThan: 0, max: 100 },
      )
      .default(100),
    pad: p.oneOf("Where padding goes.", ["pre", "post"]).default("pre"),
    truncate: p.oneOf("Which end of a long text is cut.", ["pre", "post"]).default("post"),
    bos: p.bool("Start each sequence with <bos> (default: when the vocabulary has it).").optional(),
    eos: p.bool("End each sequence with <eos> (default: when the vocabulary has it).").optional(),
    oneHot: p
      .bool(
        "Give one-hot vectors (features) instead of ids (tokens), for models without an embedding.",
      )
      .default(false),
    target: p.string("A text column to predict token by token (needs targetVocab).").optional(),
    aligned: p
      .bool(
        "With target: one target token per input step (tagging); false: a sequence of its own length, for an encoder-decoder (seq2seq).",
      )
      .default(true),
    targetLen: p
      .int(
        "With target and aligned: false: target length, <eos> included (default: the fit part's longest).",
        { min: 1, max: MAX_STEPS },
      )
      .optional(),
    fit: p.string("The part whose lengths and labels are fitted on.").optional(),
  },
  inputs: {
    data: { type: "table", doc: "A table or a split.", bundle: true },
    vocab: { type: "vocabulary", doc: "The vocabulary, fitted on the training part." },
    targetVocab: {
      type: "vocabulary",
      doc: "With `target`: the vocabulary of the target column.",
      optional: true,
    },
  },
  outputs: { mirror: "data" },
  outputType: "sequences",
  random: false,
  backendDependent: false,
  describe: (params) => ({
    kind: "sequences",
    input: params.oneHot ? "features" : "tokens",
    target: params.target ? (params.aligned ? "sequence" : "tokens") : "class",
    ...(params.maxLen ? { length: params.maxLen } : {}),
  }),
  check: (params) => [
    ...(params.target && params.label
      ? [
          {
            param: "target",
            message: "give a label (one class per text) or a target (one token per step), not both",
          },
        ]
      : []),
    ...(params.maxLen !== undefined && params.percentile !== 100
      ? [
          {
            param: "percentile",
            message: "percentile chooses the length when maxLen is not given; here maxLen is",
            hint: "give one of maxLen and percentile",
          },
        ]
      : []),
    ...(!params.target && !params.aligned
      ? [{ param: "aligned", message: "aligned is about a `target` column, and there is none" }]
      : []),
    ...(params.targetLen !== undefined && (!params.target || params.aligned)
      ? [
          {
            param: "targetLen",
            message:
              "targetLen is the length of target sequences of their own (target with aligned: false)",
          },
        ]
      : []),
  ],
  run(_ctx, inputs, params) {
    const vocab = inputs.vocab;
    const bos = params.bos ?? vocab.reserved.bos !== undefined;
    const eos = params.eos ?? vocab.reserved.eos !== undefined;
    if (bos && vocab.reserved.bos === undefined)
      throw new UserError("bos: true, but the vocabulary has no <bos>: build it with bos: true");
    if (eos && vocab.reserved.eos === undefined)
      throw new UserError("eos: true, but the vocabulary has no <eos>: build it with eos: true");
    const toIds = idsOf({ ...vocab, bos, eos });
    const textOf = (t: Table) => {
      const name = params.column ?? t.roles.text;
      if (!name) throw new UserError("the table has no text column: name one with `column:`");
      return column(t, name).values as string[];
    };
    const [fitName, fitTable] = fitPart(inputs.data, params.fit, "encode");
    // The fit part's ids are made first only when its lengths choose maxLen; they go once encoded.
    let fitIds = params.maxLen === undefined ? idRows(textOf(fitTable), toIds) : undefined;
    const maxLen = params.maxLen ?? percentileLength(rowLengths(fitIds!), params.percentile);
    if (params.target && !inputs.targetVocab)
      throw new UserError("`target` needs a `targetVocab:` vocabulary fitted on the target column");
    const labelName = params.target ? undefined : (params.label ?? fitTable.roles.label);
    const classes = labelName
      ? [...new Set(asStrings(column(fitTable, labelName)))].sort()
      : undefined;
    const encoding: TextEncoding = {
      level: vocab.level,
      lowercase: vocab.lowercase,
      punctuation: vocab.punctuation,
      tokens: vocab.tokens,
      reserved: vocab.reserved,
      maxLen,
      pad: params.pad,
      truncate: params.truncate,
      bos,
      eos,
      oneHot: params.oneHot,
    };
    const targetLen =
      params.target && !params.aligned
        ? (params.targetLen ??
          Math.max(
            1,
            ...targetIds(fitTable, params.target, inputs.targetVocab!).map((s) => s.length),
          ))
        : 0;
    const classCounts =
      labelName && classes ? countClasses(fitTable, labelName, classes) : undefined;
    const out: Record<string, SequenceSet> = {};
    for (const [name, t] of inputs.data) {
      const seqs = (name === fitName ? fitIds : undefined) ?? textIds(textOf(t), toIds);
      if (name === fitName) fitIds = undefined;
      out[name] = {
        ...encodeIds(seqs, encoding, vocab),
        target: params.target
          ? params.aligned
            ? sequenceTarget(t, params.target, inputs.targetVocab!, encoding)
            : tokensTarget(t, params.target, inputs.targetVocab!, targetLen)
          : labelName && classes
            ? classTarget(t, labelName, classes, name, fitName)
            : { kind: "none" },
        text: encoding,
        ...(classCounts ? { baselines: { classCounts } } : {}),
      };
    }
    return out;
  },
});

/** Text -> token ids with a vocabulary (and <bos>/<eos> when asked). */
export function idsOf(
  v: Pick<
    TextEncoding,
    "tokens" | "reserved" | "level" | "lowercase" | "punctuation" | "bos" | "eos"
  >,
): (text: string) => number[] {
  const ids = new Map(v.tokens.map((t, i) => [t, i]));
  return (text) => [
    ...(v.bos ? [v.reserved.bos!] : []),
    ...tokenize(text, v).map((t) => ids.get(t) ?? v.reserved.unk),
    ...(v.eos ? [v.reserved.eos!] : []),
  ];
}

/** New text encoded exactly as a model's training data was (for `rnnp predict`). */
export function encodeTexts(texts: string[], e: TextEncoding): SequenceSet {
  return { ...encodeIds(idRows(texts, idsOf(e)), e, e), target: { kind: "none" }, text: e };
}

/** The nearest-rank percentile of the lengths (at least 1). */
export function percentileLength(lengths: number[], percentile: number): number {
  if (lengths.length === 0) return 1;
  const sorted = [...lengths].sort((a, b) => a - b);
  return Math.max(1, sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)]!);
}

/**
 * Rows of token ids, packed: row i is ids[starts[i]..starts[i + 1]). A million texts as JS arrays
 * of numbers take several times the artifact they encode to; packed, 4 bytes an id.
 */
export interface IdRows {
  ids: Int32Array;
  starts: Int32Array;
}

/** Each text's ids (`toIds`), packed. */
export function idRows(texts: readonly string[], toIds: (text: string) => number[]): IdRows {
  const starts = new Int32Array(texts.length + 1);
  let ids = new Int32Array(Math.max(16, texts.length * 4));
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    const row = toIds(texts[i]!);
    if (at + row.length > ids.length) ids = grown(ids, at, at + row.length);
    ids.set(row, at);
    at += row.length;
    starts[i + 1] = at;
  }
  return { ids: ids.slice(0, at), starts };
}

/**
 * Each text's ids (`toIds`) made as each row is encoded: with maxLen given, the packed ids of a
 * million texts would be one more array as large as the encoded sequences.
 */
export interface TextIds {
  rows: number;
  row(i: number): ArrayLike<number>;
}

export function textIds(texts: readonly string[], toIds: (text: string) => number[]): TextIds {
  return { rows: texts.length, row: (i) => toIds(texts[i]!) };
}

function rowLengths(rows: IdRows): number[] {
  const n = rows.starts.length - 1;
  return Array.from({ length: n }, (_, i) => rows.starts[i + 1]! - rows.starts[i]!);
}

/** Pads or truncates id sequences to `maxLen`: ids [N, T], or one-hot features [N, T, V]. */
export function encodeIds(
  seqs: IdRows | TextIds,
  e: TextEncoding,
  vocab: Pick<Vocabulary, "tokens">,
): Pick<SequenceSet, "type" | "input" | "x" | "shape" | "lengths" | "padding"> {
  const { rows: n, row } =
    "ids" in seqs
      ? {
          rows: seqs.starts.length - 1,
          row: (i: number) => seqs.ids.subarray(seqs.starts[i]!, seqs.starts[i + 1]!),
        }
      : seqs;
  const T = e.maxLen;
  const V = vocab.tokens.length;
  ensureArrayFits(
    n * T * (e.oneHot ? V : 1),
    4,
    `${n} sequences of ${T} steps${e.oneHot ? ` of ${V} one-hot features` : ""}`,
    e.oneHot
      ? "encode ids (oneHot: false) for a model that starts with an embedding, or a smaller maxLen"
      : "a smaller maxLen (or percentile), or fewer examples",
  );
  const lengths = new Int32Array(n);
  const x = e.oneHot ? new Float32Array(n * T * V) : new Int32Array(n * T);
  for (let i = 0; i < n; i++) {
    const ids = row(i);
    let from = 0;
    let to = ids.length;
    // Truncated to T: the last T ids ("pre"), or the first T.
    if (to - from > T) {
      if (e.truncate === "pre") from = to - T;
      else to = from + T;
    }
    lengths[i] = to - from;
    const offset = e.pad === "pre" ? T - (to - from) : 0;
    for (let j = 0; from + j < to; j++) {
      const id = ids[from + j]!;
      if (e.oneHot) x[(i * T + offset + j) * V + id] = 1;
      else x[i * T + offset + j] = id;
    }
  }
  return {
    type: "sequences",
    input: e.oneHot ? "features" : "tokens",
    x,
    shape: e.oneHot ? [n, T, V] : [n, T],
    lengths,
    padding: e.pad,
  };
}

/** The target column as token ids, padded and truncated like the input so that step t predicts token t. */
function sequenceTarget(t: Table, name: string, vocab: Vocabulary, e: TextEncoding): Target {
  const c = column(t, name);
  if (c.dtype !== "string") throw new UserError(`target column "${name}" is numeric, not text`);
  const encoded = encodeIds(
    idRows(
      c.values,
      idsOf({ ...vocab, bos: false, eos: e.eos && vocab.reserved.eos !== undefined }),
    ),
    { ...e, oneHot: false },
    vocab,
  );
  return { kind: "sequence", y: encoded.x as Int32Array, tokens: vocab.tokens, level: vocab.level };
}

/** Target text as ids of the target vocabulary, each ending in <eos>. */
function targetIds(t: Table, name: string, vocab: Vocabulary): number[][] {
  const c = column(t, name);
  if (c.dtype !== "string") throw new UserError(`target column "${name}" is not text`);
  if (vocab.reserved.bos === undefined || vocab.reserved.eos === undefined)
    throw new UserError(
      "a seq2seq target vocabulary needs <bos> and <eos>: build it with bos: true, eos: true",
    );
  return c.values.map(idsOf({ ...vocab, bos: false, eos: true }));
}

/** A target sequence of its own length, post-padded (and cut, keeping <eos> last) to `length`. */
function tokensTarget(t: Table, name: string, vocab: Vocabulary, length: number): Target {
  const seqs = targetIds(t, name, vocab);
  ensureArrayFits(
    seqs.length * length,
    4,
    `${seqs.length} target sequences of ${length} steps`,
    "a smaller targetLen",
  );
  const y = new Int32Array(seqs.length * length);
  seqs.forEach((s, i) => {
    const kept = s.length <= length ? s : [...s.slice(0, length - 1), vocab.reserved.eos!];
    y.set(kept, i * length);
  });
  return {
    kind: "tokens",
    y,
    length,
    tokens: vocab.tokens,
    level: vocab.level,
    bos: vocab.reserved.bos!,
    eos: vocab.reserved.eos!,
  };
}

/** How many rows of each class a table has (classes fitted on it, so every label is among them). */
export function countClasses(t: Table, labelName: string, classes: string[]): Int32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  const counts = new Int32Array(classes.length);
  for (const l of asStrings(column(t, labelName))) {
    const k = index.get(l);
    if (k !== undefined) counts[k]!++;
  }
  return counts;
}

function classTarget(
  t: Table,
  labelName: string,
  classes: string[],
  part: string,
  fitName: string,
): Target {
  const index = new Map(classes.map((c, i) => [c, i]));
  const labels = asStrings(column(t, labelName));
  const y = new Int32Array(rowCount(t));
  const unknown = new Set<string>();
  for (let i = 0; i < y.length; i++) {
    const k = index.get(labels[i]!);
    if (k === undefined) unknown.add(labels[i]!);
    else y[i] = k;
  }
  if (unknown.size)
    throw new UserError(
      `labels ${[...unknown]
        .slice(0, 5)
        .map((u) => JSON.stringify(u))
        .join(
          ", ",
        )} of part "${part}" do not occur in "${fitName}", which defines the classes (${classes.join(", ")})`,
    );
  return { kind: "class", y, classes };
}
