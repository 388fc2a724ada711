import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import type { Vocabulary } from "../../src/artifacts/vocabulary.js";
import { encodeTexts, percentileLength } from "../../src/kinds/encode.js";
import { tokenize } from "../../src/data/tokenize.js";
import { runKind, table } from "./helpers.js";

const bundle = <T>(t: Record<string, T>) => new Map(Object.entries(t));
const vocabOf = async (texts: string[], params: Record<string, unknown> = {}) =>
  (await runKind("vocabulary", ".", { data: table({ text: texts }, { text: "text" }) }, params))
    .out as unknown as Vocabulary;

describe("tokenize", () => {
  it("words keep inner apostrophes and hyphens; punctuation is split off or stripped", () => {
    const cfg = { level: "word" as const, lowercase: true, punctuation: "split" as const };
    assert.deepEqual(tokenize("Don't e-mail me, Bob!  Café 42", cfg), [
      "don't",
      "e-mail",
      "me",
      ",",
      "bob",
      "!",
      "café",
      "42",
    ]);
    assert.deepEqual(tokenize("Don't e-mail me, Bob!", { ...cfg, punctuation: "strip" }), [
      "don't",
      "e-mail",
      "me",
      "bob",
    ]);
    assert.deepEqual(tokenize("Hi", { ...cfg, lowercase: false }), ["Hi"]);
  });
  it("characters are code points", () => {
    assert.deepEqual(tokenize("Añ😀!", { level: "char", lowercase: true, punctuation: "split" }), [
      "a",
      "ñ",
      "😀",
      "!",
    ]);
    assert.deepEqual(tokenize("a.b", { level: "char", lowercase: true, punctuation: "strip" }), [
      "a",
      "b",
    ]);
  });
});

describe("vocabulary", () => {
  it("reserves <pad> and <unk>, then orders by frequency, ties in code-point order", async () => {
    const v = await vocabOf(["b a c", "a b", "a d"]);
    assert.deepEqual(v.tokens, ["<pad>", "<unk>", "a", "b", "c", "d"]);
    assert.deepEqual(Array.from(v.counts), [0, 0, 3, 2, 1, 1]);
    assert.deepEqual(v.reserved, { pad: 0, unk: 1 });
  });
  it("minCount, maxSize, <bos>/<eos>, char level", async () => {
    assert.deepEqual((await vocabOf(["b a c", "a b", "a d"], { minCount: 2 })).tokens, [
      "<pad>",
      "<unk>",
      "a",
      "b",
    ]);
    assert.deepEqual((await vocabOf(["b a c", "a b", "a d"], { maxSize: 3 })).tokens, [
      "<pad>",
      "<unk>",
      "a",
    ]);
    const v = await vocabOf(["ab", "b"], { level: "char", bos: true, eos: true });
    assert.deepEqual(v.tokens, ["<pad>", "<unk>", "<bos>", "<eos>", "b", "a"]);
    assert.deepEqual(v.reserved, { pad: 0, unk: 1, bos: 2, eos: 3 });
  });
});

describe("encode", () => {
  const vocab = async () =>
    (await runKind("vocabulary", ".", { data: table({ t: ["a b c", "a"] }, { text: "t" }) }, {}))
      .out as unknown as Vocabulary;
  const parts = {
    train: table({ t: ["a b c d", "a", "b c"], y: ["x", "y", "x"] }, { text: "t", label: "y" }),
    test: table({ t: ["c c c c c c"], y: ["y"] }, { text: "t", label: "y" }),
  };

  it("pads and truncates pre or post, keeps true lengths, maps unknown tokens to <unk>", async () => {
    const v = await vocab();
    const post = (await runKind(
      "encode",
      ".",
      { data: bundle(parts), vocab: v },
      { maxLen: 3, pad: "post", truncate: "post" },
    )) as unknown as Record<string, SequenceSet>;
    // ids: a=2, b=3, c=4, unknown d=1
    assert.deepEqual(Array.from(post.train!.x), [2, 3, 4, 2, 0, 0, 3, 4, 0]);
    assert.deepEqual(Array.from(post.train!.lengths), [3, 1, 2]);
    const pre = (await runKind(
      "encode",
      ".",
      { data: bundle(parts), vocab: v },
      { maxLen: 3, pad: "pre", truncate: "pre" },
    )) as unknown as Record<string, SequenceSet>;
    assert.deepEqual(Array.from(pre.train!.x), [3, 4, 1, 0, 0, 2, 0, 3, 4]);
    assert.equal(pre.train!.padding, "pre");
  });

  it("fits classes and length on the train part; labels become indices", async () => {
    const out = (await runKind(
      "encode",
      ".",
      { data: bundle(parts), vocab: await vocab() },
      { percentile: 100 },
    )) as unknown as Record<string, SequenceSet>;
    assert.deepEqual(out.train!.shape, [3, 4], "the longest train text, not the longer test text");
    const t = out.test!.target;
    assert.equal(t.kind, "class");
    if (t.kind === "class") {
      assert.deepEqual(t.classes, ["x", "y"]);
      assert.deepEqual(Array.from(t.y), [1]);
    }
    assert.equal(percentileLength([1, 2, 3, 4, 100], 80), 4);
  });

  it("a label missing from the fit part is an error naming it", async () => {
    const bad = { ...parts, test: table({ t: ["a"], y: ["z"] }, { text: "t", label: "y" }) };
    await assert.rejects(
      runKind("encode", ".", { data: bundle(bad), vocab: await vocab() }, {}),
      /labels "z" of part "test" do not occur in "train"/,
    );
  });

  it("one-hot features, and <bos>/<eos> when the vocabulary has them", async () => {
    const v = (
      await runKind(
        "vocabulary",
        ".",
        { data: table({ t: ["a"] }, { text: "t" }) },
        { bos: true, eos: true },
      )
    ).out as unknown as Vocabulary;
    const out = (await runKind(
      "encode",
      ".",
      { data: bundle({ train: table({ t: ["a"] }, { text: "t" }) }), vocab: v },
      { maxLen: 4, pad: "post", oneHot: true },
    )) as unknown as Record<string, SequenceSet>;
    const s = out.train!;
    assert.equal(s.input, "features");
    assert.deepEqual(s.shape, [1, 4, 5]);
    const hot = (step: number) => Array.from(s.x.subarray(step * 5, step * 5 + 5)).indexOf(1);
    assert.deepEqual([hot(0), hot(1), hot(2), hot(3)], [2, 4, 3, -1], "<bos> a <eos> then padding");
  });

  it("encodes new text exactly as the training data", async () => {
    const out = (await runKind(
      "encode",
      ".",
      { data: bundle(parts), vocab: await vocab() },
      { maxLen: 3 },
    )) as unknown as Record<string, SequenceSet>;
    const again = encodeTexts(["a b c d", "a"], out.train!.text!);
    assert.deepEqual(Array.from(again.x), Array.from(out.train!.x.subarray(0, 6)));
  });
});

describe("window", () => {
  const series = (n: number, k: number) => Array.from({ length: n }, (_, i) => i * k);
  const data = {
    train: table({ a: series(6, 1), b: series(6, 10) }),
    test: table({ a: series(4, 1), b: series(4, 10) }),
  };

  it("slides windows and targets the next horizon steps, step-major", async () => {
    const out = (await runKind(
      "window",
      ".",
      { data: bundle(data) },
      { length: 2, horizon: 2, normalize: "none", targets: ["a"] },
    )) as unknown as Record<string, SequenceSet>;
    const s = out.train!;
    assert.deepEqual(s.shape, [3, 2, 2]);
    assert.deepEqual(Array.from(s.x.subarray(0, 4)), [0, 0, 1, 10]);
    assert.equal(s.target.kind, "value");
    if (s.target.kind === "value") assert.deepEqual(Array.from(s.target.y), [2, 3, 3, 4, 4, 5]);
    const strided = (await runKind(
      "window",
      ".",
      { data: bundle(data) },
      { length: 2, stride: 2, normalize: "none" },
    )) as unknown as Record<string, SequenceSet>;
    assert.equal(strided.train!.shape[0], 2);
  });

  it("normalises with the train part's window statistics, and keeps them to undo it", async () => {
    // Train windows of length 1 read rows 0..4 (row 5 is only a target): b's inputs span 0..40.
    const out = (await runKind(
      "window",
      ".",
      { data: bundle(data) },
      { length: 1, normalize: "minmax" },
    )) as unknown as Record<string, SequenceSet>;
    assert.deepEqual(Array.from(out.test!.x.subarray(0, 2)), [0, 0]);
    assert.deepEqual(out.test!.window!.scaling!.b, { method: "minmax", center: 0, scale: 40 });
  });

  it("relative windows: ratios to each window's last value, with the reference kept", async () => {
    const t = table({ p: [10, 20, 40, 20] });
    const out = (await runKind(
      "window",
      ".",
      { data: bundle({ out: t }) },
      { length: 2, relative: true, normalize: "none" },
    )) as unknown as Record<string, SequenceSet>;
    const s = out.out!;
    assert.deepEqual(Array.from(s.x), [-0.5, 0, -0.5, 0]);
    if (s.target.kind !== "value") assert.fail("value target");
    assert.deepEqual(Array.from(s.target.y), [1, -0.5]);
    assert.deepEqual(Array.from(s.target.relativeTo!), [20, 40]);
  });

  it("never crosses series boundaries", async () => {
    const t = table({ v: [1, 2, 3, 10, 20, 30], s: ["x", "x", "x", "y", "y", "y"] });
    const out = (await runKind(
      "window",
      ".",
      { data: bundle({ out: t }) },
      { length: 2, groupBy: "s", normalize: "none", features: ["v"] },
    )) as unknown as Record<string, SequenceSet>;
    const y = out.out!.target;
    if (y.kind === "value") assert.deepEqual(Array.from(y.y), [3, 30]);
  });

  it("classify: the label at each window's last step", async () => {
    const t = table({ v: [1, 2, 3, 4], y: ["lo", "lo", "hi", "hi"] }, { label: "y" });
    const out = (await runKind(
      "window",
      ".",
      { data: bundle({ train: t }) },
      { length: 2, task: "classify", normalize: "none" },
    )) as unknown as Record<string, SequenceSet>;
    const y = out.train!.target;
    assert.equal(y.kind, "class");
    if (y.kind === "class")
      assert.deepEqual(
        [y.classes, Array.from(y.y)],
        [
          ["hi", "lo"],
          [1, 0, 0],
        ],
      );
  });
});

describe("bucket", () => {
  it("batches sequences of similar length, differently per seed, the same per run", async () => {
    const n = 40;
    const lengths = Int32Array.from({ length: n }, (_, i) => 1 + (i % 10));
    const s: SequenceSet = {
      type: "sequences",
      input: "tokens",
      x: new Int32Array(n * 10),
      shape: [n, 10],
      lengths,
      padding: "pre",
      target: { kind: "none" },
    };
    const run = async (seed: number) =>
      (
        (await runKind(
          "bucket",
          ".",
          { data: bundle({ train: s }) },
          { batchSize: 8 },
          seed,
        )) as unknown as Record<string, SequenceSet>
      ).train!.batches!;
    const a = await run(1);
    assert.equal(a.length, 5);
    for (const b of a) {
      const ls = Array.from(b, (i) => lengths[i]!);
      assert.ok(Math.max(...ls) - Math.min(...ls) <= 2, `batch lengths ${ls}`);
    }
    assert.deepEqual(await run(1), a);
    assert.notDeepEqual(await run(2), a);
    assert.deepEqual(
      [...a.flatMap((b) => Array.from(b))].sort((x, y) => x - y),
      Array.from({ length: n }, (_, i) => i),
    );
  });
});
