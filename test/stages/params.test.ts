import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import wavefile from "wavefile";
import { artifactToValue, type Artifact } from "../../src/artifacts/index.js";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import { takeRows, type Table } from "../../src/artifacts/table.js";
import { encode as encodeValue } from "../../src/core/codec.js";
import { kinds } from "../../src/kinds/registry.js";
import { checkSource } from "../../src/lang/load.js";
import type { AnyKind } from "../../src/stages/kind.js";
import { tempDir, writeFiles } from "../helpers.js";
import { ctx, table } from "./helpers.js";

/**
 * The audit of issue 18's rule: every parameter a kind accepts acts, or the checker rejects it. Each
 * parameter of each kind has a case here: two runs that differ only in it and must give different
 * bytes; a pipeline the checker must refuse (at the parameter) where it cannot act; or, for a
 * parameter that changes no byte by design (a batch size of a forward pass), the reason. A kind or
 * parameter added without a case fails the first test.
 */
type Case =
  | { differs: () => Promise<[unknown, unknown]> }
  | { refused: string; message: RegExp }
  | { exempt: string };

const dir = tempDir();
const bundle = (t: Record<string, unknown>) => new Map(Object.entries(t));

async function run(
  name: string,
  inputs: Record<string, unknown>,
  params: Record<string, unknown>,
  where = dir,
): Promise<Record<string, Artifact>> {
  const kind = kinds.get(name) as AnyKind;
  const full: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(kind.params))
    if (p.fallback !== undefined) full[k] = p.fallback;
  Object.assign(full, params);
  if (kind.block) full[kind.block.param] ??= [];
  return (await kind.run(ctx(where, 11), inputs, full)) as Record<string, Artifact>;
}

/** Outputs of two runs of one kind whose params differ by `change`. */
/** synth.task's small cases: the adding task, and the copy task for its own parameters. */
const TASK = { task: "adding", length: 7, train: 16, val: 8, test: 8 };
const COPY = { ...TASK, task: "copy", length: 11, symbols: 4, alphabet: 6 };

const pair =
  (
    name: string,
    inputs: () => Promise<Record<string, unknown>> | Record<string, unknown>,
    base: Record<string, unknown>,
    change: Record<string, unknown>,
  ) =>
  async (): Promise<[unknown, unknown]> => {
    const i = await inputs();
    return [await run(name, i, base), await run(name, i, { ...base, ...change })];
  };

const bytes = (outputs: unknown) =>
  Buffer.concat(
    Object.values(outputs as Record<string, Artifact>).map((a) => encodeValue(artifactToValue(a))),
  );

writeFiles(dir, {
  "a.csv": 'name;label;n;when;grp\n"Ann";f;1;2000-01;x\nBob;m;2;2000-02;y\nCy;m;;2000-03;x\n',
  "b.csv": "name,label,n\nAnn,f,1\nBob,m,2\n",
  "a.jsonl":
    '{"name": "Ann", "label": "f", "n": 1, "when": "2000-01", "grp": "x"}\n{"name": "Bob", "label": "m", "n": 2, "when": "2000-02", "grp": "y"}\n',
  "l1.txt": "Ann\n\nBob\n",
  "l2.txt": "Eve\n",
  "pairs.txt": "ab  A B\ncd  C D\n",
  "tree/ham/1.txt": "hello",
  "tree/ham/2.txt": "",
  "tree/ham/x.md": "notes",
  "tree/spam/1.txt": "buy",
});
// Latin-1 bytes (é is 0xe9), and WAV clips for load.audio: two labels, 8 kHz and 16 kHz.
writeFileSync(join(dir, "latin.txt"), Buffer.from("café\n", "latin1"));
writeFileSync(join(dir, "utf8.jsonl"), Buffer.from('{"name": "café"}\n', "utf8"));
for (const [path, rate, hz] of [
  ["wav/one/a.wav", 8000, 440],
  ["wav/two/b.wav", 16000, 880],
  ["wav2/three/c.wav", 8000, 660],
] as const) {
  const w = new wavefile.WaveFile();
  const samples = Int16Array.from({ length: rate / 10 }, (_, i) =>
    Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)),
  );
  w.fromScratch(1, rate, "16", samples);
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), w.toBuffer());
}

const texts = table(
  {
    text: [
      "  Hello  World ",
      "hello world",
      "",
      "Ｆｕｌｌ <b>x</b>",
      "ok!",
      "a much longer line of text",
      "ok!",
    ],
    label: ["a", "a", "b", "b", "c", "a", "c"],
    n: [1, 2, 3, 4, 5, 6, Number.NaN],
  },
  { text: "text", label: "label" },
);
const rows = table(
  {
    id: Array.from({ length: 40 }, (_, i) => i),
    g: Array.from({ length: 40 }, (_, i) => `g${i % 8}`),
    label: Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? "x" : "y")),
    other: Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? "p" : "q")),
    text: Array.from({ length: 40 }, (_, i) => `some words number ${i % 20} and more words ${i}`),
  },
  { label: "label", text: "text" },
);
const series = table(
  {
    t: Array.from({ length: 30 }, (_, i) => Date.UTC(2000, i, 1)),
    v: Array.from({ length: 30 }, (_, i) => 10 + Math.sin(i) + i / 10),
    w: Array.from({ length: 30 }, (_, i) => 5 + Math.cos(i)),
    s: Array.from({ length: 30 }, (_, i) => (i < 15 ? "a" : "b")),
    label: Array.from({ length: 30 }, (_, i) => (i % 3 ? "up" : "down")),
  },
  { label: "label" },
);
const timed: Table = { ...series, roles: { label: "label", time: "t" } };
const splitOf = async (t: Table) =>
  bundle(await run("split", { data: t }, { order: "sequential", train: 0.6, val: 0.2, test: 0.2 }));
const vocabOf = async (params: Record<string, unknown> = {}) =>
  (await run("vocabulary", { data: texts }, { level: "char", bos: true, eos: true, ...params }))
    .out;
const audio: Table = {
  type: "table",
  columns: [
    {
      name: "audio",
      dtype: "audio",
      sampleRate: 8000,
      values: [300, 600, 900, 1200].map((hz, k) =>
        Float32Array.from(
          { length: 800 + 80 * k },
          (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 8000),
        ),
      ),
    },
    { name: "label", dtype: "string", values: ["lo", "lo", "hi", "hi"] },
    { name: "voice", dtype: "string", values: ["v1", "v2", "v1", "v2"] },
  ],
  roles: { label: "label" },
};
const tokens = (): SequenceSet => ({
  type: "sequences",
  input: "tokens",
  x: Int32Array.from({ length: 24 * 5 }, (_, i) => 1 + ((i * 7 + Math.floor(i / 5)) % 4)),
  shape: [24, 5],
  lengths: new Int32Array(24).fill(5),
  padding: "pre",
  target: {
    kind: "class",
    y: Int32Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    classes: ["a", "b"],
  },
  baselines: { classCounts: Int32Array.from([16, 8]) },
});
/** 20 sequences of 4 steps of 2 features, spread evenly, moved by `shift`. */
const features = (shift: number): SequenceSet => ({
  type: "sequences",
  input: "features",
  x: Float32Array.from({ length: 20 * 4 * 2 }, (_, i) => ((i * 37) % 101) / 10 + shift * (i % 2)),
  shape: [20, 4, 2],
  lengths: new Int32Array(20).fill(4),
  padding: "post",
  target: { kind: "class", y: new Int32Array(20), classes: ["a"] },
});
/** Other token sequences: shorter, other ids, another label mix (a shifted set). */
const otherTokens = (): SequenceSet => ({
  ...tokens(),
  x: Int32Array.from({ length: 24 * 5 }, (_, i) => (i % 5 < 2 ? 0 : 1 + ((i * 3) % 4))),
  lengths: Int32Array.from({ length: 24 }, (_, i) => 3 + (i % 3 === 0 ? 0 : -1)),
  target: {
    kind: "class",
    y: Int32Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 1 : 0)),
    classes: ["a", "b"],
  },
});
const layers = [
  { call: "embedding", args: { dim: 3, mask: false } },
  {
    call: "gru",
    args: {
      units: 3,
      activation: "tanh",
      recurrentActivation: "sigmoid",
      dropout: 0,
      recurrentDropout: 0,
      returnSequences: false,
      goBackwards: false,
    },
  },
  { call: "dense", args: { units: 2, activation: "softmax" } },
];
const modelOf = async () => (await run("model", { data: tokens() }, { layers })).out;
const trainPair = (base: Record<string, unknown>, change: Record<string, unknown>) =>
  pair(
    "train",
    async () => ({ model: await modelOf(), data: tokens(), validation: tokens() }),
    { epochs: 2, batchSize: 8, ...base },
    change,
  );
const trainedOf = async (params: Record<string, unknown> = {}) =>
  (
    await run(
      "train",
      { model: await modelOf(), data: tokens() },
      { epochs: 1, batchSize: 8, ...params },
    )
  ).out;
const espeak = spawnSync("espeak-ng", ["--version"]).status === 0;
const speech = (change: Record<string, unknown>) =>
  pair("synth.speech", () => ({}), { voices: ["en-us"], words: ["one"] }, change);

const pipeline = (stages: string) => `pipeline p {\n${stages}\n}`;
const LOAD = '  stage raw = load.csv(path: "d.csv", text: "name", label: "label")\n';

const AUDIT: Record<string, Record<string, Case>> = {
  "load.csv": {
    path: {
      differs: pair("load.csv", () => ({}), { path: "b.csv" }, { path: "a.csv", delimiter: ";" }),
    },
    encoding: {
      differs: pair(
        "load.text",
        () => ({}),
        { path: "latin.txt", encoding: "latin1" },
        { encoding: "utf8", path: "l2.txt" },
      ),
    },
    columns: { differs: pair("load.csv", () => ({}), { path: "b.csv" }, { columns: ["name"] }) },
    text: { differs: pair("load.csv", () => ({}), { path: "b.csv" }, { text: "name" }) },
    label: { differs: pair("load.csv", () => ({}), { path: "b.csv" }, { label: "label" }) },
    types: { differs: pair("load.csv", () => ({}), { path: "b.csv" }, { types: { n: "string" } }) },
    time: {
      differs: pair("load.csv", () => ({}), { path: "a.csv", delimiter: ";" }, { time: "when" }),
    },
    series: {
      differs: pair(
        "load.csv",
        () => ({}),
        { path: "a.csv", delimiter: ";", time: "when" },
        { series: "grp" },
      ),
    },
    delimiter: { differs: pair("load.csv", () => ({}), { path: "b.csv" }, { delimiter: ";" }) },
  },
  "load.jsonl": {
    path: {
      differs: pair(
        "load.jsonl",
        () => ({}),
        { path: "a.jsonl", columns: ["n"] },
        { path: "a.jsonl", columns: ["name"] },
      ),
    },
    encoding: {
      differs: pair("load.jsonl", () => ({}), { path: "utf8.jsonl" }, { encoding: "latin1" }),
    },
    columns: {
      differs: pair("load.jsonl", () => ({}), { path: "a.jsonl" }, { columns: ["name"] }),
    },
    text: { differs: pair("load.jsonl", () => ({}), { path: "a.jsonl" }, { text: "name" }) },
    label: { differs: pair("load.jsonl", () => ({}), { path: "a.jsonl" }, { label: "label" }) },
    types: {
      differs: pair("load.jsonl", () => ({}), { path: "a.jsonl" }, { types: { n: "string" } }),
    },
    time: { differs: pair("load.jsonl", () => ({}), { path: "a.jsonl" }, { time: "when" }) },
    series: {
      differs: pair("load.jsonl", () => ({}), { path: "a.jsonl", time: "when" }, { series: "grp" }),
    },
  },
  "load.text": {
    path: { differs: pair("load.text", () => ({}), { path: "l1.txt" }, { path: "l2.txt" }) },
    encoding: {
      differs: pair(
        "load.text",
        () => ({}),
        { path: "latin.txt", encoding: "latin1" },
        { path: "l1.txt" },
      ),
    },
    files: {
      differs: pair(
        "load.text",
        () => ({}),
        { files: { a: "l1.txt" } },
        { files: { a: "l2.txt" } },
      ),
    },
    skipEmpty: {
      differs: pair(
        "load.text",
        () => ({}),
        { path: "tree", include: "*.txt" },
        { skipEmpty: false },
      ),
    },
    separator: {
      differs: pair("load.text", () => ({}), { path: "pairs.txt" }, { separator: "  " }),
    },
    columns: {
      differs: pair(
        "load.text",
        () => ({}),
        { path: "pairs.txt", separator: "  " },
        { columns: ["w", "p"] },
      ),
    },
    include: { differs: pair("load.text", () => ({}), { path: "tree" }, { include: "*.txt" }) },
    labels: {
      differs: pair(
        "load.text",
        () => ({}),
        { path: "tree", include: "*.txt" },
        { labels: { ham: "h", spam: "s" } },
      ),
    },
  },
  "load.audio": {
    path: { differs: pair("load.audio", () => ({}), { path: "wav" }, { path: "wav2" }) },
    sampleRate: { differs: pair("load.audio", () => ({}), { path: "wav" }, { sampleRate: 4000 }) },
  },
  "synth.speech": espeak
    ? {
        words: { differs: speech({ words: ["two"] }) },
        voices: { differs: speech({ voices: ["en-us+f2"] }) },
        speeds: { differs: speech({ speeds: [200] }) },
        pitches: { differs: speech({ pitches: [70] }) },
      }
    : {
        words: { exempt: "espeak-ng is not installed here" },
        voices: { exempt: "espeak-ng is not installed here" },
        speeds: { exempt: "espeak-ng is not installed here" },
        pitches: { exempt: "espeak-ng is not installed here" },
      },
  clean: Object.fromEntries([
    ...(
      [
        ["columns", { columns: ["label"] }],
        ["trim", { trim: false }],
        ["stripEmailHeaders", { stripEmailHeaders: true }],
        ["stripHtml", { stripHtml: true }],
        ["maxChars", { maxChars: 3 }],
        ["lowercase", { lowercase: true }],
        ["normalize", { normalize: "NFKC" }],
        ["collapseSpaces", { collapseSpaces: true }],
        ["dropEmpty", { dropEmpty: false }],
        ["minLength", { minLength: 5 }],
        ["maxLength", { maxLength: 5 }],
        ["keepLabels", { keepLabels: ["a"] }],
        ["match", { match: "^o" }],
        ["dropLabels", { dropLabels: ["a"] }],
        ["where", { where: { label: ["b", "c"], n: [3, 4, 5] } }],
        ["dropMissing", { dropMissing: true }],
        ["dedupe", { dedupe: true }],
        ["nearDuplicates", { nearDuplicates: 0.5, dedupe: false }],
        ["scale", { scale: "zscore" }],
      ] as const
    ).map(([param, change]) => [
      param,
      { differs: pair("clean", () => ({ data: bundle({ out: texts }) }), {}, change) } as Case,
    ]),
    [
      "conflicts",
      {
        differs: pair(
          "clean",
          () => ({
            data: bundle({
              out: table(
                { text: ["x", "x", "y"], label: ["a", "b", "a"] },
                { text: "text", label: "label" },
              ),
            }),
          }),
          { dedupe: true, conflicts: "first" },
          { conflicts: "drop" },
        ),
      },
    ],
    [
      "shingles",
      {
        differs: pair(
          "clean",
          () => ({ data: bundle({ out: rows }) }),
          { nearDuplicates: 0.6, conflicts: "first" },
          { shingles: "char:60" },
        ),
      },
    ],
    [
      "scaleColumns",
      {
        differs: pair(
          "clean",
          () => ({ data: bundle({ out: series }) }),
          { scale: "zscore" },
          { scaleColumns: ["v"] },
        ),
      },
    ],
    [
      "fit",
      {
        differs: pair(
          "clean",
          async () => ({ data: await splitOf(series) }),
          { scale: "zscore" },
          { fit: "val" },
        ),
      },
    ],
  ]),
  split: {
    train: {
      differs: pair(
        "split",
        () => ({ data: rows }),
        { train: 0.5, val: 0.3, test: 0.2 },
        { train: 0.6, val: 0.2 },
      ),
    },
    val: {
      differs: pair(
        "split",
        () => ({ data: rows }),
        { train: 0.5, val: 0.3, test: 0.2 },
        { val: 0.2, test: 0.3 },
      ),
    },
    test: {
      differs: pair(
        "split",
        () => ({ data: rows }),
        { train: 0.5, val: 0.2, test: 0.3 },
        { val: 0.3, test: 0.2 },
      ),
    },
    stratify: { differs: pair("split", () => ({ data: rows }), {}, { stratify: true }) },
    by: { differs: pair("split", () => ({ data: rows }), { stratify: true }, { by: "other" }) },
    order: { differs: pair("split", () => ({ data: rows }), {}, { order: "sequential" }) },
    groupBy: { differs: pair("split", () => ({ data: rows }), {}, { groupBy: "g" }) },
    nearDuplicates: { differs: pair("split", () => ({ data: rows }), {}, { nearDuplicates: 0.6 }) },
    shingles: {
      differs: pair(
        "split",
        () => ({ data: rows }),
        { nearDuplicates: 0.6 },
        { shingles: "char:60" },
      ),
    },
    context: {
      refused: pipeline(`${LOAD}  stage parts = split(raw, order: "sequential", context: 2)`),
      message: /context is no longer needed/,
    },
  },
  head: {
    n: { differs: pair("head", () => ({ data: bundle({ out: rows }) }), { n: 2 }, { n: 3 }) },
  },
  sample: {
    n: { differs: pair("sample", () => ({ data: bundle({ out: rows }) }), { n: 2 }, { n: 3 }) },
    fraction: {
      differs: pair(
        "sample",
        () => ({ data: bundle({ out: rows }) }),
        { fraction: 0.2 },
        { fraction: 0.5 },
      ),
    },
  },
  vocabulary: {
    level: { differs: pair("vocabulary", () => ({ data: texts }), {}, { level: "char" }) },
    lowercase: { differs: pair("vocabulary", () => ({ data: texts }), {}, { lowercase: false }) },
    punctuation: {
      differs: pair("vocabulary", () => ({ data: texts }), {}, { punctuation: "strip" }),
    },
    column: { differs: pair("vocabulary", () => ({ data: texts }), {}, { column: "label" }) },
    minCount: { differs: pair("vocabulary", () => ({ data: texts }), {}, { minCount: 2 }) },
    maxSize: { differs: pair("vocabulary", () => ({ data: texts }), {}, { maxSize: 4 }) },
    bos: { differs: pair("vocabulary", () => ({ data: texts }), {}, { bos: true }) },
    eos: { differs: pair("vocabulary", () => ({ data: texts }), {}, { eos: true }) },
  },
  encode: (() => {
    const inputs = async () => ({ data: bundle({ train: texts }), vocab: await vocabOf() });
    const withTarget = async () => ({ ...(await inputs()), targetVocab: await vocabOf() });
    return {
      column: { differs: pair("encode", inputs, {}, { column: "label" }) },
      label: { differs: pair("encode", inputs, {}, { label: "n" }) },
      maxLen: { differs: pair("encode", inputs, {}, { maxLen: 3 }) },
      percentile: { differs: pair("encode", inputs, {}, { percentile: 50 }) },
      pad: { differs: pair("encode", inputs, {}, { pad: "post" }) },
      truncate: { differs: pair("encode", inputs, { maxLen: 3 }, { truncate: "pre" }) },
      bos: { differs: pair("encode", inputs, {}, { bos: false }) },
      eos: { differs: pair("encode", inputs, {}, { eos: false }) },
      oneHot: { differs: pair("encode", inputs, {}, { oneHot: true }) },
      target: { differs: pair("encode", withTarget, {}, { target: "label" }) },
      aligned: { differs: pair("encode", withTarget, { target: "label" }, { aligned: false }) },
      targetLen: {
        differs: pair("encode", withTarget, { target: "label", aligned: false }, { targetLen: 1 }),
      },
      fit: {
        differs: pair(
          "encode",
          async () => ({
            ...(await inputs()),
            data: bundle({ train: texts, other: takeRows(texts, [0, 3, 4]) }),
          }),
          {},
          { fit: "other" },
        ),
      },
    };
  })(),
  window: (() => {
    const parts = () => splitOf(series).then((data) => ({ data }));
    const base = { length: 3, features: ["v"] };
    return {
      length: { differs: pair("window", parts, base, { length: 4 }) },
      stride: { differs: pair("window", parts, base, { stride: 2 }) },
      horizon: { differs: pair("window", parts, base, { horizon: 2 }) },
      features: { differs: pair("window", parts, base, { features: ["w"] }) },
      categorical: { differs: pair("window", parts, base, { categorical: ["s"] }) },
      targets: {
        differs: pair("window", parts, { length: 3, features: ["v", "w"] }, { targets: ["w"] }),
      },
      task: { differs: pair("window", parts, base, { task: "classify" }) },
      groupBy: {
        differs: pair("window", () => ({ data: bundle({ out: series }) }), base, { groupBy: "s" }),
      },
      relative: { differs: pair("window", parts, base, { relative: true }) },
      normalize: { differs: pair("window", parts, base, { normalize: "minmax" }) },
      fit: { differs: pair("window", parts, base, { fit: "val" }) },
      gaps: {
        differs: pair(
          "window",
          async () => ({
            data: bundle({
              out: {
                ...timed,
                columns: timed.columns.map((c) => ({
                  ...c,
                  values: (c.values as Float64Array | string[]).filter((_, i: number) => i !== 10),
                })),
              } as Table,
            }),
          }),
          { ...base, gaps: "split" },
          { gaps: "ignore" },
        ),
      },
      fill: {
        differs: pair(
          "window",
          async () => ({
            data: bundle({
              out: {
                ...timed,
                columns: timed.columns.map((c) => ({
                  ...c,
                  values: (c.values as Float64Array | string[]).filter((_, i: number) => i !== 10),
                })),
              } as Table,
            }),
          }),
          { ...base, gaps: "fill", fill: "previous" },
          { fill: "linear" },
        ),
      },
      every: {
        refused: pipeline(
          '  stage raw = load.csv(path: "d.csv")\n  stage w = window(raw, length: 2, every: "day")',
        ),
        message: /no time column/,
      },
      seasonality: {
        differs: pair("window", parts, { length: 4, features: ["v"] }, { seasonality: 2 }),
      },
    };
  })(),
  features: (() => {
    const inputs = () => ({ data: bundle({ train: audio }) });
    return {
      type: { differs: pair("features", inputs, {}, { type: "logmel" }) },
      frameMs: { differs: pair("features", inputs, {}, { frameMs: 20 }) },
      hopMs: { differs: pair("features", inputs, {}, { hopMs: 15 }) },
      mels: { differs: pair("features", inputs, {}, { mels: 30 }) },
      coefficients: { differs: pair("features", inputs, {}, { coefficients: 10 }) },
      maxFrames: { differs: pair("features", inputs, {}, { maxFrames: 4 }) },
      normalize: { differs: pair("features", inputs, {}, { normalize: false }) },
      groups: { differs: pair("features", inputs, {}, { groups: "voice" }) },
      fit: {
        differs: pair(
          "features",
          () => ({ data: bundle({ train: audio, other: takeRows(audio, [1, 2]) }) }),
          {},
          { fit: "other" },
        ),
      },
    };
  })(),
  bucket: {
    batchSize: {
      differs: pair(
        "bucket",
        () => ({ data: bundle({ out: tokens() }) }),
        { batchSize: 4 },
        { batchSize: 8 },
      ),
    },
  },
  model: {},
  seq2seq: {},
  train: {
    epochs: { differs: trainPair({}, { epochs: 3 }) },
    batchSize: { differs: trainPair({}, { batchSize: 4 }) },
    loss: { differs: trainPair({}, { loss: "categoricalCrossentropy" }) },
    optimizer: {
      differs: trainPair(
        {},
        { optimizer: { call: "sgd", args: { lr: 0.1, momentum: 0, nesterov: false } } },
      ),
    },
    schedule: {
      differs: trainPair({}, { schedule: { call: "exponential", args: { rate: 0.5 } } }),
    },
    warmup: { differs: trainPair({}, { warmup: 1 }) },
    // Observes only: the weights are the same bytes, the artifact's history gains the flow.
    gradientFlow: { differs: trainPair({}, { gradientFlow: false }) },
    clipNorm: { differs: trainPair({}, { clipNorm: 0.001 }) },
    clipValue: { differs: trainPair({}, { clipValue: 0.0001 }) },
    shuffle: { differs: trainPair({}, { shuffle: false }) },
    classWeights: { differs: trainPair({}, { classWeights: "balanced" }) },
    patience: { differs: trainPair({ epochs: 6 }, { patience: 1, minDelta: 1 }) },
    monitor: { differs: trainPair({ epochs: 6, patience: 1 }, { monitor: "loss" }) },
    minDelta: { differs: trainPair({ epochs: 6, patience: 1 }, { minDelta: 1 }) },
    restoreBest: {
      differs: trainPair({ epochs: 6, patience: 2, minDelta: 0.5 }, { restoreBest: false }),
    },
    freeze: { differs: trainPair({}, { freeze: ["embedding_1"] }) },
    reinit: {
      differs: async () => {
        const inputs = { model: await modelOf(), data: tokens(), init: await trainedOf() };
        const base = { epochs: 1, batchSize: 8 };
        return [
          await run("train", inputs, base),
          await run("train", inputs, { ...base, reinit: ["dense_3"] }),
        ];
      },
    },
    resetOptimizer: {
      differs: async () => {
        const inputs = { model: await modelOf(), data: tokens(), init: await trainedOf() };
        const base = { epochs: 1, batchSize: 8 };
        return [
          await run("train", inputs, base),
          await run("train", inputs, { ...base, resetOptimizer: false }),
        ];
      },
    },
  },
  evaluate: {
    metric: {
      differs: pair(
        "evaluate",
        async () => ({ model: await trainedOf(), data: tokens() }),
        {},
        { metric: "macroF1" },
      ),
    },
    require: {
      differs: async () => {
        const inputs = {
          model: await trainedOf({
            optimizer: { call: "sgd", args: { lr: 0, momentum: 0, nesterov: false } },
          }),
          data: tokens(),
        };
        const strict = await run("evaluate", inputs, { require: "beatBaseline" }).catch(
          (e: Error) => e.message,
        );
        return [await run("evaluate", inputs, {}), strict];
      },
    },
    topK: {
      differs: pair(
        "evaluate",
        async () => ({ model: await trainedOf(), data: tokens() }),
        {},
        { topK: 1 },
      ),
    },
    beam: {
      refused: pipeline(
        `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage n = model(s) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, s, epochs: 1)\n  stage e = evaluate(f, s, beam: 4)`,
      ),
      message: /beam is the width of encoder-decoders' decoding/,
    },
    batchSize: {
      exempt: "the size of a forward pass: results are the same for any (performance only)",
    },
    reference: {
      differs: async () => {
        const model = await trainedOf();
        const sets = bundle({ inDomain: tokens(), other: otherTokens() });
        return [
          await run("evaluate", { model, data: sets }, {}),
          await run("evaluate", { model, data: sets }, { reference: "other" }),
        ];
      },
    },
  },
  shift: {
    bins: {
      differs: pair(
        "shift",
        () => ({ reference: features(0), data: features(0.5) }),
        { bins: 10 },
        { bins: 2 },
      ),
    },
  },
  "synth.task": {
    task: { differs: pair("synth.task", () => ({}), TASK, { task: "copy" }) },
    length: { differs: pair("synth.task", () => ({}), TASK, { length: 9 }) },
    train: { differs: pair("synth.task", () => ({}), TASK, { train: 20 }) },
    val: { differs: pair("synth.task", () => ({}), TASK, { val: 12 }) },
    test: { differs: pair("synth.task", () => ({}), TASK, { test: 12 }) },
    symbols: { differs: pair("synth.task", () => ({}), COPY, { symbols: 3 }) },
    alphabet: { differs: pair("synth.task", () => ({}), COPY, { alphabet: 5 }) },
  },
  export: {
    dir: {
      differs: pair(
        "export",
        async () => ({ model: await trainedOf() }),
        { dir: "a" },
        { dir: "b" },
      ),
    },
    format: {
      differs: pair(
        "export",
        async () => ({ model: await trainedOf() }),
        { dir: "a" },
        { dir: "a", format: "onnx" },
      ),
    },
  },
};

describe("every parameter acts, or the checker refuses it (issue 18, the audit)", () => {
  it("every kind's every parameter has an audited case", () => {
    const missing: string[] = [];
    for (const [name, kind] of kinds) {
      const audited = AUDIT[name];
      if (!audited) missing.push(`${name} (the kind)`);
      for (const param of Object.keys(kind.params))
        if (!audited?.[param]) missing.push(`${name}.${param}`);
    }
    assert.deepEqual(missing, []);
  });

  for (const [name, params] of Object.entries(AUDIT))
    for (const [param, c] of Object.entries(params))
      it(`${name}.${param}`, async () => {
        if ("exempt" in c) return;
        if ("refused" in c) {
          const r = checkSource(c.refused, "p.rnnp");
          const d = r.diagnostics.find((x) => c.message.test(x.message));
          assert.ok(d, r.diagnostics.map((x) => x.message).join("\n"));
          assert.ok(d.span, "the refusal points into the pipeline");
          return;
        }
        const [a, b] = await c.differs();
        const same =
          typeof a === "string" || typeof b === "string" ? a === b : bytes(a).equals(bytes(b));
        assert.ok(!same, `${name}.${param} changed nothing`);
      });
});

describe("parameters that cannot act here are refused, at their position", () => {
  const refused: [string, string, RegExp][] = [
    [
      "clean.scaleColumns",
      `${LOAD}  stage c = clean(raw, scaleColumns: ["n"])`,
      /`scaleColumns` names the columns to scale, but `scale` is "none"/,
    ],
    [
      "clean.fit",
      `${LOAD}  stage c = clean(raw, fit: "train")`,
      /`fit` names the part to fit scaling on/,
    ],
    [
      "clean.conflicts",
      `${LOAD}  stage c = clean(raw, conflicts: "drop")`,
      /conflicts settles the labels of duplicates/,
    ],
    [
      "clean.shingles",
      `${LOAD}  stage c = clean(raw, shingles: "word:2")`,
      /shingles are for nearDuplicates/,
    ],
    [
      "split.by",
      `${LOAD}  stage s = split(raw, by: "label")`,
      /`by` names the column to stratify by, but stratify is false/,
    ],
    [
      "split.nearDuplicates",
      `${LOAD}  stage s = split(raw, order: "sequential", nearDuplicates: 0.9)`,
      /near-duplicate clusters are kept whole by random splits/,
    ],
    [
      "encode.percentile",
      `${LOAD}  stage v = vocabulary(raw)\n  stage e = encode(raw, v, maxLen: 5, percentile: 90)`,
      /percentile chooses the length when maxLen is not given/,
    ],
    [
      "encode.aligned",
      `${LOAD}  stage v = vocabulary(raw)\n  stage e = encode(raw, v, aligned: false)`,
      /aligned is about a `target` column/,
    ],
    [
      "encode.targetLen",
      `${LOAD}  stage v = vocabulary(raw)\n  stage e = encode(raw, v, targetLen: 4)`,
      /targetLen is the length of target sequences/,
    ],
    [
      "train.minDelta",
      `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage n = model(s) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, s, epochs: 1, minDelta: 0.1)`,
      /minDelta is for early stopping/,
    ],
    [
      "train.restoreBest",
      `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage n = model(s) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, s, epochs: 1, restoreBest: false)`,
      /restoreBest is for early stopping/,
    ],
    [
      "train.batchSize",
      `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage b = bucket(s)\n  stage n = model(b) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, b, epochs: 1, batchSize: 64)`,
      /the data comes in bucket batches/,
    ],
    [
      "train.reinit",
      `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage n = model(s) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, s, epochs: 1, reinit: ["dense_3"])`,
      /reinit names layers that do not take init's weights; there is no init/,
    ],
    [
      "train.resetOptimizer",
      `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage n = model(s) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, s, epochs: 1, resetOptimizer: false)`,
      /resetOptimizer: false continues init's optimizer; there is no init/,
    ],
    [
      "train.freeze",
      `${LOAD}  stage v = vocabulary(raw)\n  stage s = encode(raw, v)\n  stage n = model(s) { embedding(dim: 2) gru(units: 2) dense(units: 2, activation: "softmax") }\n  stage f = train(n, s, epochs: 1, freeze: ["lstm_2"])`,
      /the model has no layer `lstm_2` \(its layers: embedding_1, gru_2, dense_3\)/,
    ],
    [
      "features.coefficients",
      '  stage a = load.audio(path: "w")\n  stage f = features(a, type: "logmel", coefficients: 20)',
      /coefficients are MFCCs/,
    ],
    [
      "load.text.columns",
      '  stage t = load.text(path: "a.txt", columns: ["a", "b"])',
      /columns names the two parts of a line/,
    ],
    [
      "load.text.include",
      '  stage t = load.text(files: {a: "a.txt"}, include: "*.txt")',
      /include and labels are for folder trees/,
    ],
    [
      "window.fill",
      '  stage raw = load.csv(path: "d.csv")\n  stage w = window(raw, length: 2, fill: "linear")',
      /fill is the method of gaps: "fill"/,
    ],
    [
      "window.seasonality",
      '  stage raw = load.csv(path: "d.csv")\n  stage w = window(raw, length: 2, seasonality: 12)',
      /seasonality \(12\) must be at most length \(2\)/,
    ],
    [
      "synth.task.symbols",
      '  stage t = synth.task(task: "adding", length: 20, symbols: 3)',
      /`symbols` sizes the copy task; the adding task has no letters/,
    ],
    [
      "synth.task.alphabet",
      '  stage t = synth.task(task: "adding", length: 20, alphabet: 4)',
      /`alphabet` sizes the copy task; the adding task has no letters/,
    ],
    [
      "window.horizon",
      '  stage raw = load.csv(path: "d.csv")\n  stage w = window(raw, length: 2, horizon: 0)',
      /a forecast predicts at least one step ahead/,
    ],
  ];
  for (const [what, stages, message] of refused)
    it(what, () => {
      const r = checkSource(pipeline(stages), "p.rnnp");
      const d = r.diagnostics.find((x) => message.test(x.message));
      assert.ok(d, r.diagnostics.map((x) => x.message).join("\n") || "no diagnostic");
      assert.equal(d.code, "param-rule");
      const param = what.split(".").at(-1)!;
      const line = pipeline(stages).split("\n")[d.span!.start.line - 1]!;
      assert.match(line, new RegExp(`\\b${param}:`), `points at the line of ${param}`);
    });
});
