import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TrainedModel } from "../../src/artifacts/model.js";
import type { Vocabulary } from "../../src/artifacts/vocabulary.js";
import { kinds } from "../../src/kinds/registry.js";
import { checkSource } from "../../src/lang/load.js";
import type { AnyKind } from "../../src/stages/kind.js";
import { CacheStore } from "../../src/cache/store.js";
import type { Digest } from "../../src/core/digest.js";
import { readArtifact } from "../../src/run/artifacts.js";
import { Rig } from "../rig.js";
import { ctx, table } from "../stages/helpers.js";

/**
 * Issue 13 part 2: train(init:, freeze:, reinit:, resetOptimizer:) and vocabulary(extend:). A big
 * corpus (names ending in a, o) pre-trains; a small one with other letters fine-tunes.
 */
const big = Array.from({ length: 80 }, (_, i) => {
  const stem = ["ann", "eve", "bob", "max", "lea", "tom", "ida", "leo"][i % 8]!;
  return `${stem}${i % 5}${i % 2 ? "a" : "o"},${i % 2 ? "f" : "m"}`;
}).join("\n");
const small = Array.from({ length: 24 }, (_, i) => {
  const stem = ["zed", "kuq", "wyn", "jax"][i % 4]!;
  return `${stem}${i % 3 ? "a" : "o"},${i % 3 ? "f" : "m"}`;
}).join("\n");

const layers = (units: number) => `{
    embedding(dim: 4, mask: true)
    gru(units: ${units})
    dense(units: 2, activation: "softmax")
  }`;
const pipeline = (tune: string, o: { units?: number; extend?: boolean; epochs?: number } = {}) =>
  `pipeline p {
  seed 5
  stage bigRaw = load.csv(path: "big.csv", text: "name", label: "label")
  stage smallRaw = load.csv(path: "small.csv", text: "name", label: "label")
  stage bigVocab = vocabulary(bigRaw, level: "char")
  stage bigSeqs = encode(bigRaw, bigVocab, maxLen: 6)
  stage bigNet = model(bigSeqs) ${layers(4)}
  stage pre = train(bigNet, bigSeqs, epochs: ${o.epochs ?? 2}, batchSize: 16)
  stage smallVocab = vocabulary(smallRaw, level: "char"${o.extend === false ? "" : ", extend: bigVocab"})
  stage smallSeqs = encode(smallRaw, smallVocab, maxLen: 6)
  stage smallNet = model(smallSeqs) ${layers(o.units ?? 4)}
  stage tune = train(smallNet, smallSeqs, epochs: 2, batchSize: 8${tune})
}
`;

const rig = new Rig().write({
  "big.csv": `name,label\n${big}\n`,
  "small.csv": `name,label\n${small}\n`,
});

async function runJson(text: string) {
  rig.write({ "p.rnnp": text });
  const r = await rig.rnnp(["run", "p.rnnp", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { stages: { name: string; status: string }[] }).stages;
}

/** A stage's trained model, as the lock names it, read from the rig's cache. */
async function trained(stage: string): Promise<TrainedModel> {
  const lock = JSON.parse(rig.read("p.lock")) as {
    stages: Record<string, { outputs: { out: Digest } }>;
  };
  const store = CacheStore.open(rig.path("cache"));
  try {
    return readArtifact(store, lock.stages[stage]!.outputs.out) as TrainedModel;
  } finally {
    await store.close();
  }
}

describe("transfer and fine-tuning (issue 13 part 2)", () => {
  it("a shape mismatch is a check-time diagnostic at init naming both layers", () => {
    const text = pipeline(", init: pre", { units: 6 });
    const r = checkSource(text, "p.rnnp");
    const d = r.diagnostics.find((x) => /init's weights do not fit/.test(x.message));
    assert.ok(d, r.diagnostics.map((x) => x.message).join("\n"));
    assert.match(
      d.message,
      /gru_2's kernel is \[4, 18\] in this model and \[4, 12\] in init's gru_2/,
    );
    // The head reads the GRU's 6 units now: its kernel differs too, and is named as well.
    assert.match(
      d.message,
      /dense_3's kernel is \[6, 2\] in this model and \[4, 2\] in init's dense_3/,
    );
    assert.match(d.hint ?? "", /reinit: \["gru_2", "dense_3"\]/);
    const line = text.split("\n")[d.span!.start.line - 1]!;
    assert.match(line.slice(d.span!.start.column - 1), /^pre/, "points at init's reference");
    // reinit keeps the layer's own weights: no diagnostic.
    const ok = checkSource(
      pipeline(', init: pre, reinit: ["gru_2", "dense_3"]', { units: 6 }),
      "p.rnnp",
    );
    assert.deepEqual(
      ok.diagnostics.filter((x) => x.severity === "error").map((x) => x.message),
      [],
    );
  });

  it("init takes init's weights, freeze keeps them exactly; a retrained source reruns its fine-tunes", async () => {
    await runJson(pipeline(', init: pre, freeze: ["embedding_1"]'));
    const pre = await trained("pre");
    const tune = await trained("tune");
    assert.deepEqual(tune.transfer, {
      taken: ["embedding_1", "gru_2", "dense_3"],
      grown: [
        { layer: "embedding_1", rows: pre.weights[0]!.length / 4, of: tune.weights[0]!.length / 4 },
      ],
      initialised: [],
      frozen: ["embedding_1"],
      optimizer: "reset",
    });
    // The frozen embedding: init's rows, unchanged; the rows of the added letters its own.
    const rows = pre.weights[0]!.length;
    assert.ok(tune.weights[0]!.length > rows, "the extended vocabulary has more rows");
    assert.deepEqual([...tune.weights[0]!.slice(0, rows)], [...pre.weights[0]!]);
    // The GRU trained on: its weights moved away from init's.
    assert.notDeepEqual([...tune.weights[1]!], [...pre.weights[1]!]);
    // Retraining the source changes its output digest, which is in the fine-tune's key.
    const again = await runJson(pipeline(', init: pre, freeze: ["embedding_1"]', { epochs: 3 }));
    assert.equal(again.find((s) => s.name === "pre")!.status, "ran");
    assert.equal(again.find((s) => s.name === "tune")!.status, "ran");
  });

  it("an embedding's rows must mean the same tokens: without extend the run says so", async () => {
    rig.write({ "p.rnnp": pipeline(", init: pre", { extend: false }) });
    const r = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /embedding_1's rows do not line up with this data's ids: id \d+ is/);
    assert.match(r.stderr, /vocabulary\(\.\.\., extend: <init's vocabulary>\)/);
  });

  it("resetOptimizer: false continues init's optimizer state: its step count goes on, grown rows start at zero", async () => {
    await runJson(pipeline(", init: pre, resetOptimizer: false"));
    const pre = await trained("pre");
    const tune = await trained("tune");
    assert.equal(tune.transfer?.optimizer, "continued");
    // Adam's step count goes on from init's (2 epochs of 16-example batches over 80, then 2 of 8 over 24).
    assert.equal(pre.optimizer?.iterations, 10);
    assert.equal(tune.optimizer?.iterations, 16);
  });
});

describe("vocabulary(extend:) keeps every id of the source", () => {
  const vocabulary = kinds.get("vocabulary") as AnyKind;
  const defaults = {
    level: "char",
    lowercase: true,
    punctuation: "split",
    minCount: 1,
    bos: false,
    eos: false,
  };
  const fit = async (texts: string[], params: Record<string, unknown> = {}, extend?: Vocabulary) =>
    (
      (await vocabulary.run(
        ctx(rig.dir, 1),
        {
          data: table(
            { text: texts, label: texts.map(() => "x") },
            { text: "text", label: "label" },
          ),
          ...(extend ? { extend } : {}),
        },
        { ...defaults, ...params },
      )) as { out: Vocabulary }
    ).out;

  it("appends new tokens after the source's, by frequency, and keeps its reserved ids", async () => {
    const source = await fit(["abc", "abd"]);
    const grown = await fit(["zzb", "yq"], { eos: true }, source);
    assert.deepEqual(grown.tokens.slice(0, source.tokens.length), source.tokens);
    assert.deepEqual(grown.tokens.slice(source.tokens.length), ["<eos>", "z", "q", "y"]);
    assert.equal(grown.reserved.eos, source.tokens.length);
    assert.deepEqual(grown.reserved.pad, source.reserved.pad);
    assert.deepEqual(grown.reserved.unk, source.reserved.unk);
  });

  it("refuses a source tokenized otherwise, and a maxSize below the source's size", async () => {
    const source = await fit(["abc"]);
    await assert.rejects(
      fit(["abc"], { level: "word" }, source),
      /has level "char", this stage "word"/,
    );
    await assert.rejects(fit(["abc"], { maxSize: 2 }, source), /more than maxSize 2/);
  });
});
