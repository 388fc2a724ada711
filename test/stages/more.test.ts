import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FeatureExtractor } from "../../src/data/audio/mfcc.js";
import { resample } from "../../src/data/audio/wav.js";
import { verdictLine } from "../../src/artifacts/report.js";
import { valueBaselines, verdictOf } from "../../src/evaluation/baselines.js";
import { decodingReport, valueErrors } from "../../src/evaluation/metrics.js";
import { checkSource } from "../../src/lang/load.js";
import { tempDir, writeFiles } from "../helpers.js";
import { col, runKind, table } from "./helpers.js";

const bundle = <T>(t: Record<string, T>) => new Map(Object.entries(t));

describe("split: groups and time series", () => {
  it("random with groupBy keeps each group whole in one part", async () => {
    const t = table({
      id: Array.from({ length: 40 }, (_, i) => i),
      speaker: Array.from({ length: 40 }, (_, i) => `s${i % 10}`),
    });
    const parts = await runKind(
      "split",
      ".",
      { data: t },
      { groupBy: "speaker", train: 0.6, val: 0.2, test: 0.2 },
      5,
    );
    const speakers = Object.fromEntries(
      Object.entries(parts).map(([k, v]) => [k, new Set(col(v, "speaker") as string[])]),
    );
    assert.deepEqual([speakers.train!.size, speakers.val!.size, speakers.test!.size], [6, 2, 2]);
    for (const s of speakers.test!) assert.ok(!speakers.train!.has(s) && !speakers.val!.has(s));
  });

  it("every row lands in exactly one part, groups whole, whatever the sizes (property)", async () => {
    const fc = (await import("fast-check")).default;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom("random", "sequential"),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        async (n, groups, order, byGroup, seed) => {
          // Few groups of many rows: a group moved at once can be larger than the part so far.
          const t = table({
            id: Array.from({ length: n }, (_, i) => i),
            g: Array.from({ length: n }, (_, i) => `g${(i * 7) % groups}`),
          });
          const parts = await runKind(
            "split",
            ".",
            { data: t },
            { order, ...(byGroup ? { groupBy: "g" } : {}), train: 0.5, val: 0.3, test: 0.2 },
            seed,
          );
          const ids = ["train", "val", "test"].flatMap((k) => col(parts[k]!, "id") as number[]);
          assert.deepEqual(
            ids.sort((a, b) => a - b),
            Array.from({ length: n }, (_, i) => i),
          );
          if (byGroup && order === "random") {
            const home = new Map<string, string>();
            for (const k of ["train", "val", "test"])
              for (const g of col(parts[k]!, "g") as string[]) {
                assert.equal(home.get(g) ?? k, k, `group ${g} in two parts`);
                home.set(g, k);
              }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a group larger than a spread's argument limit moves whole (the number[] version threw RangeError)", async () => {
    // Before RowList, `assigned[part].push(...group)` passed every row of a group as an argument:
    // past ~125k rows (Node 20) that is "Maximum call stack size exceeded".
    const n = 200_000;
    const t = table({
      id: Array.from({ length: n }, (_, i) => i),
      g: Array.from({ length: n }, (_, i) => (i < 190_000 ? "big" : `s${i % 7}`)),
    });
    const parts = await runKind("split", ".", { data: t }, { groupBy: "g" }, 1);
    const sizes = ["train", "val", "test"].map((k) => col(parts[k]!, "id").length);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      n,
    );
    const big = ["train", "val", "test"].map(
      (k) => (col(parts[k]!, "g") as string[]).filter((g) => g === "big").length,
    );
    assert.deepEqual(
      big.filter((c) => c > 0),
      [190_000],
      "the big group in one part, whole",
    );
  });

  it("sequential per series: each part holds its own period, and knows its place in time", async () => {
    const t = table({
      t: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
      sym: [..."aaaaaaaaaabbbbbbbbbb"],
    });
    const parts = await runKind(
      "split",
      ".",
      { data: t },
      { order: "sequential", groupBy: "sym", train: 0.6, val: 0.2, test: 0.2 },
    );
    assert.deepEqual(col(parts.train!, "t"), [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]);
    assert.deepEqual(col(parts.val!, "t"), [7, 8, 17, 18]);
    assert.deepEqual(col(parts.test!, "t"), [9, 10, 19, 20]);
    assert.deepEqual(
      { ...parts.val!.timeline, step: Array.from(parts.val!.timeline!.step) },
      { part: 1, series: "sym", step: [6, 7, 6, 7] },
    );
  });
});

describe("clean: e-mails, HTML, length, patterns", () => {
  it("strips headers and HTML, cuts long texts, keeps rows matching a pattern", async () => {
    const mail = "From: a@b\nSubject: hi\n\n<p>Hello &amp; <b>welcome</b></p><script>x()</script>";
    const t = table({ text: [mail, "no blank line", "abc", "ab1"] }, { text: "text" });
    const out = (
      await runKind(
        "clean",
        ".",
        { data: bundle({ out: t }) },
        { stripEmailHeaders: true, stripHtml: true, collapseSpaces: true },
      )
    ).out!;
    assert.deepEqual(
      col(out, "text"),
      ["Hello & welcome"],
      "a text without a header/body break has no body",
    );
    const cut = (
      await runKind("clean", ".", { data: bundle({ out: t }) }, { maxChars: 2, match: "^[a-z]+$" })
    ).out!;
    assert.deepEqual(
      col(cut, "text"),
      ["no", "ab", "ab"],
      'the e-mail\'s first two letters "Fr" do not match',
    );
  });
});

describe("load.text: file patterns, label maps, separators", () => {
  it("reads matching files with mapped labels, and splits lines into two columns", async () => {
    const dir = tempDir();
    writeFiles(dir, {
      "tree/g1/a.txt": "x",
      "tree/g1/a.json": "{}",
      "tree/g2/b.txt": "y",
      "dict.txt": "word  W ER1 D\nab  AE1 B\n",
    });
    const { out } = await runKind(
      "load.text",
      dir,
      {},
      { path: "tree", include: "*.txt", labels: { g1: "ham", g2: "spam" } },
    );
    assert.deepEqual(col(out!, "label"), ["ham", "spam"]);
    await assert.rejects(
      runKind("load.text", dir, {}, { path: "tree", labels: { g1: "ham" } }),
      /folder "g2" has no entry in `labels`/,
    );
    const pairs = (
      await runKind(
        "load.text",
        dir,
        {},
        { path: "dict.txt", separator: "  ", columns: ["word", "phones"] },
      )
    ).out!;
    assert.deepEqual(col(pairs, "phones"), ["W ER1 D", "AE1 B"]);
    assert.equal(pairs.roles.text, "word");
  });
});

describe("audio features", () => {
  it("a pure tone lights the mel filter of its frequency; the same clip, the same numbers", () => {
    const rate = 16000;
    const tone = (hz: number) =>
      Float32Array.from(
        { length: rate / 2 },
        (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / rate),
      );
    const fx = new FeatureExtractor({
      sampleRate: rate,
      frameMs: 25,
      hopMs: 10,
      mels: 20,
      coefficients: 13,
      type: "logmel",
    });
    const low = fx.frames(tone(300));
    const high = fx.frames(tone(3000));
    assert.equal(low.length, 1 + Math.floor((8000 - 400) / 160));
    const peak = (frames: Float64Array[]) => frames[10]!.indexOf(Math.max(...frames[10]!));
    assert.ok(peak(low) < peak(high), `${peak(low)} < ${peak(high)}`);
    assert.deepEqual(fx.frames(tone(300)), low);
    const mfcc = new FeatureExtractor({
      sampleRate: rate,
      frameMs: 25,
      hopMs: 10,
      mels: 20,
      coefficients: 13,
      type: "mfcc",
    });
    assert.equal(mfcc.width, 13);
    assert.equal(mfcc.frames(tone(300))[0]!.length, 13);
  });

  it("resampling keeps the duration", () => {
    assert.equal(resample(new Float32Array(22050), 22050, 16000).length, 16000);
  });
});

describe("forecast and decoding metrics", () => {
  it("baselines are scored like the model, and the verdict names the strongest", () => {
    const y = Float32Array.from([1.5, 2.5]);
    const model = valueErrors(Float32Array.from([1, 2]), y, ["v"], 1);
    const { scores } = valueBaselines(
      [
        { name: "naive", doc: "", y: Float32Array.from([0, 0]) },
        { name: "mean", doc: "", y: Float32Array.from([2, 2]) },
      ],
      y,
      ["v"],
      1,
    );
    assert.equal(model.metrics.mae, 0.5);
    assert.deepEqual(
      scores.map((b) => [b.name, b.metrics.mae]),
      [
        ["naive", 2],
        ["mean", 0.5],
      ],
    );
    const v = verdictOf(model.metrics, scores, "mae")!;
    assert.deepEqual(
      { baseline: v.baseline, beats: v.beats, margin: v.margin },
      { baseline: "mean", beats: false, margin: 0 },
    );
    assert.equal(
      verdictLine(v),
      "does NOT beat its strongest baseline, mean (mae 0.5): mae 0.5, skill 0",
    );
  });

  it("relative targets are undone with each example's reference before scoring", () => {
    // Predicted +10% and truth +20% of a reference of 50: errors of 5.
    const r = valueErrors(
      Float32Array.from([0.1]),
      Float32Array.from([0.2]),
      ["p"],
      1,
      undefined,
      Float32Array.from([50]),
    );
    assert.ok(Math.abs(r.metrics.mae! - 5) < 1e-5, String(r.metrics.mae));
  });

  it("token and sequence error rates of decoded sequences", () => {
    const r = decodingReport(
      [
        [1, 2, 3],
        [4, 5],
      ],
      [
        [1, 2, 3],
        [4, 6, 7],
      ],
    );
    assert.equal(r.metrics.tokenErrorRate, 2 / 6);
    assert.equal(r.metrics.sequenceErrorRate, 0.5);
  });
});

describe("seq2seq declarations are checked before anything runs", () => {
  const src = (encoder: string, decoder: string) => `pipeline s {
  stage dict = load.text(path: "d.txt", separator: " ", columns: ["w", "p"])
  stage a = vocabulary(dict, level: "char")
  stage b = vocabulary(dict, level: "char", column: "p", bos: true, eos: true)
  stage pairs = encode(dict, a, targetVocab: b, target: "p", aligned: false)
  stage net = seq2seq(pairs) {
    encoder {
${encoder}
    }
    decoder {
${decoder}
    }
  }
}
`;
  const errors = (e: string, d: string) =>
    checkSource(src(e, d), "s.rnnp")
      .diagnostics.filter((x) => x.severity === "error")
      .map((x) => `${x.span?.start.line}:${x.span?.start.column} ${x.message}`);
  it("a well-formed encoder-decoder passes", () => {
    assert.deepEqual(
      errors(
        "      embedding(dim: 8)\n      bidirectional(lstm(units: 8))",
        "      embedding(dim: 8)\n      lstm(units: 16)",
      ),
      [],
    );
  });
  it("state sizes, cell types and layer order are checked, at the layer's line", () => {
    assert.deepEqual(
      errors(
        "      embedding(dim: 8)\n      bidirectional(lstm(units: 8))",
        "      embedding(dim: 8)\n      lstm(units: 8)",
      ),
      [
        "13:7 the decoder starts from the encoder's final state, which has 16 units; this layer has 8",
      ],
    );
    assert.deepEqual(
      errors(
        "      embedding(dim: 8)\n      gru(units: 8)",
        "      embedding(dim: 8)\n      lstm(units: 8)",
      ),
      ["13:7 the decoder's lstm cannot start from the state of the encoder's gru"],
    );
    assert.deepEqual(
      errors("      gru(units: 8)", "      embedding(dim: 8)\n      gru(units: 8)"),
      [
        "8:7 the encoder must start with an embedding of the input tokens",
        "7:5 the encoder needs at least one recurrent layer after its embedding",
      ].sort(),
    );
  });
});
