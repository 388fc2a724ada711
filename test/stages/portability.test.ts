import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Report } from "../../src/artifacts/report.js";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import type { ShiftReport } from "../../src/artifacts/shift.js";
import type { TrainedModel } from "../../src/artifacts/model.js";
import { CacheStore } from "../../src/cache/store.js";
import { kinds } from "../../src/kinds/registry.js";
import { checkSource } from "../../src/lang/load.js";
import {
  featureValues,
  ks,
  labelShift,
  psi,
  psiOfShares,
  tokenShift,
} from "../../src/evaluation/shift.js";
import { Planner } from "../../src/plan/planner.js";
import { explain, type Reason } from "../../src/plan/why.js";
import { LocalExecutor } from "../../src/run/executor.js";
import { Runner } from "../../src/run/runner.js";
import { readArtifact } from "../../src/run/artifacts.js";
import type { AnyKind } from "../../src/stages/kind.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { ROOT, ir, tempDir, writeFiles } from "../helpers.js";
import { col, ctx, runKind, table } from "./helpers.js";

/**
 * Part 1 of issue 13: how a model travels. Several named test sets in one evaluate (the language's
 * object of references), the portability table, the shift stage's statistics, `clean(where: ...)`.
 */

const f64 = (...v: number[]) => Float64Array.from(v);

describe("shift statistics", () => {
  it("the two-sample KS statistic: the largest gap between the empirical distributions", () => {
    assert.equal(ks(f64(1, 2, 3), f64(4, 5, 6)), 1);
    assert.equal(ks(f64(1, 2, 3, 4), f64(3, 4, 5, 6)), 0.5);
    assert.equal(ks(f64(1, 2, 3), f64(1, 2, 3)), 0);
    assert.equal(ks(f64(1, 1, 2, 2), f64(1, 2)), 0);
  });

  it("PSI of shares: sum of (q - p) ln(q / p), empty bins floored at 1e-4", () => {
    assert.equal(
      psiOfShares([0.5, 0.5], [0.25, 0.75]),
      (0.25 - 0.5) * Math.log(0.25 / 0.5) + (0.75 - 0.5) * Math.log(0.75 / 0.5),
    );
    assert.equal(
      psiOfShares([1, 0], [0, 1]),
      (1e-4 - 1) * Math.log(1e-4 / 1) + (1 - 1e-4) * Math.log(1 / 1e-4),
    );
  });

  it("PSI bins at the reference's quantiles; repeated cut points are merged", () => {
    // Reference [0, 1, 2, 3], 2 bins: cut at 2 -> (-inf, 2] holds 3/4, (2, inf) 1/4.
    assert.equal(psi(f64(0, 1, 2, 3), f64(3, 3, 3, 3), 2), psiOfShares([0.75, 0.25], [0, 1]));
    // Ten bins over a reference of two values: two bins, not ten.
    assert.equal(psi(f64(0, 0, 1, 1), f64(0, 1, 1, 1), 10), psiOfShares([0.5, 0.5], [0.25, 0.75]));
    assert.equal(psi(f64(0, 1, 2, 3), f64(0, 1, 2, 3), 4), 0);
  });

  it("PSI and KS over random samples: non-negative, KS at most 1 and symmetric, 0 for equal samples", () => {
    const sample = fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 2, max: 20 }), (a, b, bins) => {
        const x = Float64Array.from(a).sort();
        const y = Float64Array.from(b).sort();
        const d = ks(x, y);
        assert.ok(d >= 0 && d <= 1);
        assert.equal(d, ks(y, x));
        assert.ok(psi(x, y, bins) >= 0);
        assert.equal(psi(x, x, bins), 0);
        assert.equal(ks(x, x), 0);
      }),
    );
  });

  it("feature values come from real steps only, whichever side the padding is on", () => {
    for (const padding of ["pre", "post"] as const) {
      // Two sequences of 3 steps x 2 features; the first is 2 steps long. Padding holds 99.
      const x =
        padding === "post"
          ? [1, 10, 2, 20, 99, 99, 3, 30, 4, 40, 5, 50]
          : [99, 99, 1, 10, 2, 20, 3, 30, 4, 40, 5, 50];
      const s: SequenceSet = {
        type: "sequences",
        input: "features",
        x: Float32Array.from(x),
        shape: [2, 3, 2],
        lengths: Int32Array.from([2, 3]),
        padding,
        target: { kind: "none" },
      };
      const [a, b] = featureValues(s);
      assert.deepEqual([...a!], [1, 2, 3, 4, 5]);
      assert.deepEqual([...b!], [10, 20, 30, 40, 50]);
    }
  });

  it("token sequences: out-of-vocabulary rate, sequences cut at the maximum length, lengths", () => {
    const text = {
      level: "char" as const,
      lowercase: true,
      punctuation: "split" as const,
      tokens: ["<pad>", "<unk>", "a", "b"],
      reserved: { pad: 0, unk: 1 },
      maxLen: 4,
      pad: "pre" as const,
      truncate: "post" as const,
      bos: false,
      eos: false,
      oneHot: false,
    };
    const seqs = (x: number[], lengths: number[]): SequenceSet => ({
      type: "sequences",
      input: "tokens",
      x: Int32Array.from(x),
      shape: [lengths.length, 4],
      lengths: Int32Array.from(lengths),
      padding: "pre",
      target: { kind: "none" },
      text,
    });
    const reference = seqs([0, 0, 2, 3, 0, 2, 2, 3], [2, 3]);
    // 7 tokens, 2 of them <unk>; one of two sequences fills all 4 steps.
    const set = seqs(
      [1, 2, 1, 3, 0, 0, 2, 3],
      [4, 3].map((n, i) => (i === 1 ? 3 : n)),
    );
    set.x[4] = 0;
    const t = tokenShift(reference, set, 10);
    assert.equal(t.referenceOovRate, 0);
    assert.equal(t.oovRate, 2 / 6);
    assert.equal(t.truncated, 1 / 2);
    assert.equal(t.referenceTruncated, 0);
    assert.equal(t.length.referenceMean, 2.5);
    assert.equal(t.length.mean, 3.5);
    assert.ok(t.tokenPsi > 0);
  });

  it("labels: shares by class name (another encoding may order them otherwise), total variation", () => {
    const seqs = (y: number[], classes: string[]): SequenceSet => ({
      type: "sequences",
      input: "features",
      x: new Float32Array(y.length),
      shape: [y.length, 1, 1],
      lengths: new Int32Array(y.length).fill(1),
      padding: "post",
      target: { kind: "class", y: Int32Array.from(y), classes },
    });
    const l = labelShift(seqs([0, 0, 0, 1], ["a", "b"]), seqs([0, 1, 1, 1], ["b", "a"]))!;
    assert.deepEqual(l.shares, [
      { label: "a", reference: 0.75, set: 0.75 },
      { label: "b", reference: 0.25, set: 0.25 },
    ]);
    assert.equal(l.tv, 0);
    const m = labelShift(seqs([0, 0, 0, 1], ["a", "b"]), seqs([0, 0], ["a", "b"]))!;
    assert.equal(m.tv, 0.25);
    assert.equal(m.psi, psiOfShares([0.75, 0.25], [1, 0]));
  });
});

/** 40 sequences of 6 steps x 2 features; `move` shifts feature 1 and shortens them. */
function featureSet(move: number, n = 40): SequenceSet {
  const T = 6;
  return {
    type: "sequences",
    input: "features",
    x: Float32Array.from({ length: n * T * 2 }, (_, i) =>
      i % 2 === 0 ? ((i * 7) % 13) / 13 : ((i * 5) % 11) / 11 + move,
    ),
    shape: [n, T, 2],
    lengths: Int32Array.from({ length: n }, (_, i) => T - (i % 2) - (move > 0 ? 2 : 0)),
    padding: "post",
    featureNames: ["f0", "f1"],
    target: {
      kind: "class",
      y: Int32Array.from({ length: n }, (_, i) => i % 2),
      classes: ["x", "y"],
    },
  };
}

describe("the shift stage", () => {
  const dir = tempDir();
  const shift = kinds.get("shift") as AnyKind;

  it("ranks sets by their largest PSI, and each set's features by PSI; names what moved", async () => {
    const out = (await shift.run(
      ctx(dir),
      {
        reference: featureSet(0),
        data: new Map([
          ["same", featureSet(0)],
          ["moved", featureSet(0.8)],
        ]),
      },
      { bins: 10 },
    )) as { out: ShiftReport };
    const r = out.out;
    assert.equal(r.n, 40);
    assert.deepEqual(
      r.sets.map((s) => s.name),
      ["moved", "same"],
    );
    const [moved, same] = r.sets;
    assert.equal(same!.score, 0);
    assert.deepEqual(
      same!.features.map((f) => f.psi),
      [0, 0],
    );
    // Feature 1 moved, feature 0 did not: f1 ranks first. The lengths moved too.
    assert.equal(moved!.features[0]!.name, "f1");
    assert.ok(moved!.features[0]!.psi > 1, `f1 PSI ${moved!.features[0]!.psi}`);
    assert.ok(moved!.features[0]!.psi > moved!.features[1]!.psi);
    assert.equal(moved!.lengths?.referenceMean, 5.5);
    assert.equal(moved!.lengths?.mean, 3.5);
    assert.equal(moved!.lengths?.ks, 1);
    assert.equal(moved!.score, Math.max(moved!.lengths!.psi, ...moved!.features.map((f) => f.psi)));
    assert.equal(moved!.worst, moved!.lengths!.psi > moved!.features[0]!.psi ? "length" : "f1");
  });

  it("refuses a set of other features than the reference's, naming it", async () => {
    const narrow = { ...featureSet(0), shape: [40, 6, 1] };
    await assert.rejects(
      Promise.resolve().then(() =>
        shift.run(ctx(dir), { reference: featureSet(0), data: narrow }, { bins: 10 }),
      ),
      /set "data" holds features of 1 features, the reference features of 2 features/,
    );
  });
});

describe("clean(where: ...)", () => {
  const dir = tempDir();
  const t = table(
    {
      voice: ["a", "b", "c", "a", "b"],
      speed: [100, 150, 100, 200, 100],
      label: ["x", "y", "x", "y", "x"],
    },
    { label: "label" },
  );
  const clean = (where: Record<string, (string | number)[]>) =>
    runKind("clean", dir, { data: new Map([["out", t]]) }, { where });

  it("keeps the rows whose listed columns each hold one of their values", async () => {
    const out = (await clean({ voice: ["a", "b"], speed: [100] })).out!;
    assert.deepEqual(col(out, "voice"), ["a", "b"]);
    assert.deepEqual(col(out, "speed"), [100, 100]);
    assert.deepEqual(col((await clean({ voice: ["c"] })).out!, "voice"), ["c"]);
  });

  it("a value of the wrong type, or an unknown column, is an error that says so", async () => {
    await assert.rejects(
      clean({ speed: ["100"] }),
      /column "speed" is numeric, but "100" is a string/,
    );
    await assert.rejects(clean({ voice: [1] }), /column "voice" is text, but 1 is a number/);
    await assert.rejects(clean({ pitch: [1] }), /pitch/);
  });
});

const CSV = `${[
  "name,label",
  ...Array.from({ length: 120 }, (_, i) => {
    const short = ["ann", "eve", "amy", "ida", "una", "bob", "tom", "max", "ned", "rex"];
    const long = [
      "annabelle",
      "evangeline",
      "amelia",
      "isadora",
      "ursula",
      "bartholomew",
      "thomas",
      "maximilian",
      "nathaniel",
      "reginald",
    ];
    const names = i % 2 ? long : short;
    return `${names[i % 10]}${i},${i % 10 < 5 ? "f" : "m"}`;
  }),
].join("\n")}\n`;

const RUNTIME = describeRuntime("cpu");

const SRC = (evaluate: string, shortLen = 5) => `pipeline p {
  seed 3
  params { shortLen = ${shortLen} }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage short = clean(raw, maxLength: params.shortLen)
  stage long = clean(raw, minLength: 9)
  stage parts = split(short, train: 0.6, val: 0.2, test: 0.2, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage other = encode(long, vocab, maxLen: 8)
  stage net = model(seqs.train) {
    embedding(dim: 4, mask: true)
    gru(units: 4)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: 2, batchSize: 16)
  ${evaluate}
}`;

describe("evaluate on several named sets: the portability table", () => {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": CSV });
  const file = join(dir, "p.rnnp");
  const cache = join(dir, "cache");
  const MULTI =
    "stage report = evaluate(fit, {inDomain: seqs.test, long: other.out, val: seqs.val})";

  it("each set is scored and judged; the reference's report is on top; drops are from it", async () => {
    const store = CacheStore.open(cache);
    const planner = new Planner(ir(SRC(MULTI), file), store, RUNTIME);
    const results = await new Runner(planner, new LocalExecutor()).run();
    try {
      assert.deepEqual(
        results.filter((r) => r.status !== "ran").map((r) => r.name),
        [],
      );
      const res = planner.resolve("report");
      assert.equal(res.state, "keyed");
      if (res.state !== "keyed") return;
      // The key holds each set's digest by name, as a bundle's parts.
      const data = res.fingerprint.inputs.data as Record<string, string>;
      assert.deepEqual(Object.keys(data).sort(), ["inDomain", "long", "val"]);
      assert.equal(data.inDomain, planner.outputsOf("seqs")!.test);
      assert.equal(data.long, planner.outputsOf("other")!.out);
      const r = readArtifact(store, store.getRecord(res.key)!.outputs.out!.digest) as Report;
      assert.deepEqual(
        r.sets!.map((s) => s.name),
        ["inDomain", "long", "val"],
      );
      const byName = new Map(r.sets!.map((s) => [s.name, s.report]));
      assert.deepEqual(r.metrics, byName.get("inDomain")!.metrics);
      assert.deepEqual(r.verdict, byName.get("inDomain")!.verdict);
      assert.equal(byName.get("long")!.n, 59);
      const pt = r.portability!;
      assert.equal(pt.reference, "inDomain");
      assert.deepEqual(pt.metrics, ["accuracy", "macroF1"]);
      assert.deepEqual(
        pt.rows.map((row) => row.set),
        ["inDomain", "long", "val"],
      );
      const ref = byName.get("inDomain")!.metrics;
      for (const row of pt.rows) {
        const set = byName.get(row.set)!;
        assert.equal(row.n, set.n);
        for (const c of row.cells) {
          assert.equal(c.model, set.metrics[c.metric]);
          assert.equal(c.drop, ref[c.metric]! - set.metrics[c.metric]!);
          const best = Math.max(...set.baselines!.map((b) => b.metrics[c.metric]!));
          assert.equal(c.baselineValue, best);
          assert.equal(c.beats, c.model > best);
        }
      }
      assert.deepEqual(
        pt.rows[0]!.cells.map((c) => c.drop),
        [0, 0],
      );
    } finally {
      await store.close();
    }
  });

  it("`rnnp why` traces a change to the one named set it came from", async () => {
    const store = CacheStore.open(cache);
    try {
      const src = SRC(MULTI).replace("minLength: 9", "minLength: 10");
      const planner = new Planner(ir(src, file), store, RUNTIME);
      await new Runner(planner, new LocalExecutor()).run({ targets: ["other"] });
      for (const st of planner.order) planner.resolve(st.name);
      const e = explain(planner, "report");
      assert.equal(e.state, "changed");
      const flat = (rs: Reason[], depth = 0): string[] =>
        rs.flatMap((x) => [`${"  ".repeat(depth)}${x.text}`, ...flat(x.because ?? [], depth + 1)]);
      assert.deepEqual(flat(e.reasons), [
        "input `data.long` (from `other`) changed",
        "  `other`: input `data` (from `long`) changed",
        "    `long`: param `minLength` 9 -> 10",
      ]);
    } finally {
      await store.close();
    }
  });

  it("one set of sequences keeps its key's form (a digest) and has no portability table", () => {
    const single = ir(SRC("stage report = evaluate(fit, seqs.test)"), file);
    const report = single.stages.find((s) => s.name === "report")!;
    assert.deepEqual(Object.keys(report.inputs), ["model", "data"]);
    assert.equal(report.inputs.data!.member, undefined);
  });

  const refused: [string, string, RegExp][] = [
    [
      "a set named for the reference that is not there",
      'stage report = evaluate(fit, {a: seqs.test, b: other.out}, reference: "c")',
      /there is no set named "c"/,
    ],
    [
      "no inDomain set and no reference",
      "stage report = evaluate(fit, {a: seqs.test, b: other.out})",
      /there is no set named "inDomain"/,
    ],
    [
      "a reference with one set",
      'stage report = evaluate(fit, seqs.test, reference: "inDomain")',
      /reference names the in-domain set of several/,
    ],
    [
      "an object for an input that takes one",
      "stage report = evaluate({a: fit}, seqs.test)",
      /input `model` of evaluate takes one stage reference, not an object of them/,
    ],
    [
      "a whole split as one named set",
      "stage report = evaluate(fit, {inDomain: seqs})",
      /stage `seqs` has several outputs \(train, val, test\); `inDomain` of input `data`/,
    ],
    [
      "a name that is not an identifier",
      'stage report = evaluate(fit, {inDomain: seqs.test, "other voices": other.out})',
      /`other voices` cannot name a set/,
    ],
    ["an empty object", "stage report = evaluate(fit, {})", /needs at least one named reference/],
  ];
  for (const [what, stage, message] of refused)
    it(`refused before anything runs: ${what}`, () => {
      const src = SRC(stage);
      const r = checkSource(src, "p.rnnp");
      const d = r.diagnostics.find((x) => message.test(x.message));
      assert.ok(d, r.diagnostics.map((x) => x.message).join("\n") || "no diagnostic");
      assert.ok(d.span, "points into the pipeline");
      assert.match(src.split("\n")[d.span!.start.line - 1]!, /stage report/);
    });

  it("an object of references assembles a bundle: a mirroring kind's outputs are its names", () => {
    const src = SRC(
      "stage both = encode({a: short, b: long}, vocab, maxLen: 8)\n  stage report = evaluate(fit, {inDomain: seqs.test, b: both.b})",
    );
    const p = ir(src, file);
    assert.deepEqual(p.stages.find((s) => s.name === "both")!.outputs, ["a", "b"]);
    const bad = checkSource(src.replace("both.b})", "both.c})"), "p.rnnp");
    assert.match(
      bad.diagnostics.map((d) => d.message).join("\n"),
      /stage `both` has no output `c`/,
    );
  });
});

describe("portability rows per group: only groups the in-domain set does not have", () => {
  const dir = tempDir();
  const tokens = (groups: string[]): SequenceSet => ({
    type: "sequences",
    input: "tokens",
    x: Int32Array.from({ length: groups.length * 4 }, (_, i) => 1 + ((i * 7) % 4)),
    shape: [groups.length, 4],
    lengths: new Int32Array(groups.length).fill(4),
    padding: "pre",
    target: {
      kind: "class",
      y: Int32Array.from(groups, (_, i) => i % 2),
      classes: ["a", "b"],
    },
    groups: { name: "voice", values: groups },
    baselines: { classCounts: Int32Array.from([4, 4]) },
  });

  it("a set of new voices gets a row per voice, a set of known voices does not", async () => {
    const model = (
      await runKind(
        "model",
        dir,
        { data: tokens(["v1", "v2"]) },
        {
          layers: [
            { call: "embedding", args: { dim: 2, mask: false } },
            {
              call: "simpleRNN",
              args: {
                units: 2,
                activation: "tanh",
                dropout: 0,
                recurrentDropout: 0,
                returnSequences: false,
                goBackwards: false,
              },
            },
            { call: "dense", args: { units: 2, activation: "softmax" } },
          ],
        },
      )
    ).out as unknown;
    const fit = (await runKind("train", dir, { model, data: tokens(["v1", "v2"]) }, { epochs: 1 }))
      .out as unknown as TrainedModel;
    const r = (
      await runKind(
        "evaluate",
        dir,
        {
          model: fit,
          data: new Map([
            ["inDomain", tokens(["v1", "v2", "v1", "v2"])],
            ["known", tokens(["v2", "v1", "v2", "v1", "v1", "v2"])],
            ["fresh", tokens(["v3", "v4", "v3", "v4", "v3", "v4"])],
          ]),
        },
        {},
      )
    ).out as unknown as Report;
    assert.deepEqual(
      r.portability!.rows.map((row) => `${row.set}${row.group ? `/${row.group}` : ""}:${row.n}`),
      ["inDomain:4", "fresh:6", "fresh/v3:3", "fresh/v4:3", "known:6"],
    );
  });
});

describe("the runtime a key names", () => {
  const installed = (name: string): string | undefined => {
    try {
      const path = join(ROOT, "node_modules", name, "package.json");
      return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
    } catch {
      return undefined;
    }
  };

  it("names the versions of the TF.js packages Node loads, read from their package.json", () => {
    const core = installed("@tensorflow/tfjs-core");
    const wasm = installed("@tensorflow/tfjs-backend-wasm");
    assert.ok(core && wasm);
    assert.equal(describeRuntime("cpu", "tfjs").version, `tfjs ${core}`);
    assert.equal(describeRuntime("wasm", "tfjs").version, `tfjs ${core}, backend-wasm ${wasm}`);
    const node = installed("@tensorflow/tfjs-node");
    if (node)
      assert.equal(
        describeRuntime("tensorflow", "tfjs").version,
        `tfjs ${core}, tfjs-node ${node}`,
      );
    else
      assert.throws(() => describeRuntime("tensorflow", "tfjs"), {
        name: "RuntimeUnavailable",
        message: /needs the optional package @tensorflow\/tfjs-node/,
      });
  });
});
