import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { loadTf } from "../../src/numerics/tf.js";
import { encodeTexts } from "../../src/kinds/encode.js";
import type { TextEncoding } from "../../src/artifacts/sequences.js";
import { ROOT } from "../helpers.js";
import { Rig } from "../rig.js";
import { loadNames } from "../fixtures/pipelines.js";

/** The first-names pipeline, shrunk for tests: 600 names, a small LSTM, two epochs, cpu backend. */
const PIPELINE = `pipeline names {
  seed 7
  backend "cpu"
  params { epochs = 2, lr = 0.01 }

  stage raw = ${loadNames()}
  stage few = sample(raw, n: 600)
  stage names = clean(few, lowercase: true, dedupe: true, conflicts: "first")
  stage parts = split(names, train: 0.7, val: 0.15, test: 0.15, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 10)
  stage net = model(seqs.train) {
    embedding(dim: 8, mask: true)
    lstm(units: 8)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, validation: seqs.val, optimizer: adam(lr: params.lr), epochs: params.epochs, batchSize: 32)
  stage report = evaluate(fit, seqs.test)
  stage exported = export(fit, dir: "out/model")
}
`;

interface StageRow {
  name: string;
  key: string | null;
  status: string;
  reason?: string;
}
const stages = (stdout: string) => (JSON.parse(stdout) as { stages: StageRow[] }).stages;
const statusOf = (stdout: string) =>
  Object.fromEntries(stages(stdout).map((s) => [s.name, s.status]));

const STAGES = [
  "raw",
  "few",
  "names",
  "parts",
  "vocab",
  "seqs",
  "net",
  "fit",
  "report",
  "exported",
];
const everyStage = (status: string) => Object.fromEntries(STAGES.map((n) => [n, status]));

const project = () => new Rig().write({ "names.rnnp": PIPELINE });

describe("an RNN pipeline end to end", () => {
  const rig = project();
  const track = rig.path("imports.log");
  // Real processes where the process is the point: which modules a run imports. Run by the suite's
  // first test to start, not as the file loads (a file whose tests a name pattern leaves out pays
  // nothing); every test of the suite starts from the project it leaves. The exported weights are
  // kept as this run wrote them (a later test retrains).
  let firstRun: { code: number; stdout: string; stderr: string; weights: Buffer } | undefined;
  const ran = () => {
    if (firstRun) return firstRun;
    const r = rig.spawnSync(["run", "names.rnnp", "--json"], {
      env: { RNNP_TRACK_IMPORTS: track },
      nodeArgs: ["--import", join(ROOT, "test/fixtures/track-imports.mjs")],
    });
    const weights = rig.path("out/model/weights.bin");
    firstRun = { ...r, weights: existsSync(weights) ? readFileSync(weights) : Buffer.alloc(0) };
    return firstRun;
  };

  it("trains, evaluates and exports; the report has an accuracy", async () => {
    const first = ran();
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(statusOf(first.stdout), everyStage("ran"));
    assert.match(
      readFileSync(track, "utf8"),
      /@tensorflow\/tfjs/,
      "the import tracker sees TF.js when a stage computes",
    );
    const show = await rig.rnnp(["show", "report", "names.rnnp"]);
    assert.match(show.stdout, /accuracy +0\.\d+/);
    assert.match(show.stdout, /confusion \(rows: true class, columns: predicted\)/);
    assert.match(
      (await rig.rnnp(["show", "fit", "names.rnnp"])).stdout,
      /epoch +loss +accuracy +val_loss +val_accuracy +lr +\|grad\|( +lstm_\d+ horizon)?\n +1 /,
    );
    assert.ok(
      existsSync(rig.path("out/model/model.json")) && existsSync(rig.path("out/model/weights.bin")),
    );
  });

  it("a rerun is fully cached and never loads TensorFlow.js", async () => {
    ran();
    const quiet = rig.path("imports-cached.log");
    const again = rig.spawnSync(["run", "names.rnnp", "--json"], {
      env: { RNNP_TRACK_IMPORTS: quiet },
      nodeArgs: ["--import", join(ROOT, "test/fixtures/track-imports.mjs")],
    });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(statusOf(again.stdout), everyStage("cached"));
    assert.equal(existsSync(quiet), false, "no @tensorflow module was resolved");
  });

  it("changing epochs reruns train and what depends on it, nothing else", async () => {
    ran();
    const r = await rig.rnnp(["run", "names.rnnp", "--json", "-P", "epochs=3"]);
    assert.deepEqual(statusOf(r.stdout), {
      raw: "cached",
      few: "cached",
      names: "cached",
      parts: "cached",
      vocab: "cached",
      seqs: "cached",
      net: "cached",
      fit: "ran",
      report: "ran",
      exported: "ran",
    });
  });

  it("two fresh processes with empty caches produce identical artifacts", async () => {
    const first = ran();
    // Fresh processes: nothing a process keeps between runs may change the bytes. The suite's
    // first run is one, in a project of its own with an empty cache; this is the other.
    const a = project();
    const ra = await a.spawn(["run", "names.rnnp", "--json"]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.deepEqual(statusOf(ra.stdout), everyStage("ran"));
    assert.deepEqual(
      stages(ra.stdout).map((s) => s.key),
      stages(first.stdout).map((s) => s.key),
      "same keys as the first run",
    );
    assert.deepEqual(await rig.digests(stages(first.stdout)), await a.digests(stages(ra.stdout)));
    assert.deepEqual(readFileSync(a.path("out/model/weights.bin")), first.weights);
  });

  it("the exported model loads with tf.loadLayersModel over HTTP (as in a browser) and predicts what rnnp predict does", async () => {
    ran();
    assert.equal(
      statusOf((await rig.rnnp(["run", "names.rnnp", "--json"])).stdout).exported,
      "cached",
      "back to epochs = 2: the export is rewritten from the cache",
    );
    const out = rig.path("out/model");
    const server = createServer((req, res) => {
      const file = join(out, (req.url ?? "/").slice(1));
      if (!existsSync(file)) return void res.writeHead(404).end();
      res
        .writeHead(200, {
          "content-type": file.endsWith(".json") ? "application/json" : "application/octet-stream",
        })
        .end(readFileSync(file));
    });
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    try {
      const { port } = server.address() as { port: number };
      const tf = await loadTf(describeRuntime("cpu"));
      const model = await tf.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
      const meta = JSON.parse(readFileSync(join(out, "rnnp.json"), "utf8")) as {
        data: { text: TextEncoding; target: { classes: string[] } };
      };
      const inputs = ["mary", "john", "alexis"];
      const set = encodeTexts(inputs, meta.data.text);
      const probs = (
        model.predict(
          tf.tensor2d(set.x as Int32Array, set.shape as [number, number], "int32"),
        ) as import("../../src/runtime/tfjs.js").Tensor
      ).arraySync() as number[][];
      const predicted = JSON.parse(
        (
          await rig.rnnp([
            "predict",
            "names.rnnp",
            "--stage",
            "fit",
            ...inputs.flatMap((i) => ["-i", i]),
            "--json",
            "--top",
            "2",
          ])
        ).stdout,
      ) as { results: { input: string; predictions: { label: string; p: number }[] }[] };
      inputs.forEach((text, i) => {
        const mine = predicted.results[i]!;
        assert.equal(mine.input, text);
        // rnnp predict runs the LSTM on rnnp's fused kernels, plain TF.js on its own cells: the same
        // float32 arithmetic in another order, so they agree to rounding (within 1e-6), not bit for bit.
        for (const { label, p } of mine.predictions) {
          const theirs = probs[i]![meta.data.target.classes.indexOf(label)]!;
          assert.ok(Math.abs(p - theirs) <= 1e-6, `${text}: ${label}: ${p} against ${theirs}`);
        }
      });
    } finally {
      server.close();
    }
  });

  it("an export directory that was deleted or edited is restored from the cache", async () => {
    ran();
    const weights = rig.path("out/model/weights.bin");
    const original = readFileSync(weights);
    rig.write({ "out/model/weights.bin": "tampered" });
    const r = await rig.rnnp(["run", "names.rnnp", "--json"]);
    assert.equal(statusOf(r.stdout).exported, "cached");
    assert.deepEqual(readFileSync(weights), original);
  });

  it("the backend is in the keys of the stages whose bytes depend on it, and only theirs", async () => {
    ran();
    const cpu = stages((await rig.rnnp(["status", "names.rnnp", "--json"])).stdout);
    const wasm = stages(
      (await rig.rnnp(["status", "names.rnnp", "--json", "--backend", "wasm"])).stdout,
    );
    const changed = cpu.filter((s, i) => s.key !== wasm[i]!.key).map((s) => s.name);
    assert.deepEqual(changed, ["fit", "report", "exported"]);
    assert.equal(
      wasm.find((s) => s.name === "report")!.key,
      null,
      "waits on fit, which has not run on wasm",
    );
    assert.match(
      wasm.find((s) => s.name === "fit")!.reason!,
      /numeric runtime cpu tfjs [\d.]+, rnnp-fused [0-9a-f]{16}, ops \d+ -> wasm(-simd)? tfjs/,
    );
  });

  it("recurrent layers run on the fused kernels (said in the run output); TF.js's cells are a choice with keys of their own", async () => {
    const first = ran();
    assert.match(
      first.stderr,
      /\[fit\] fused kernels \((native \w+|wasm simd), \d+ threads?.*\): lstm_2\n/,
    );
    const fused = stages((await rig.rnnp(["status", "names.rnnp", "--json"])).stdout);
    const cells = stages(
      (await rig.rnnp(["status", "names.rnnp", "--json", "--kernels", "tfjs"])).stdout,
    );
    assert.deepEqual(
      fused.filter((s, i) => s.key !== cells[i]!.key).map((s) => s.name),
      ["fit", "report", "exported"],
    );
    assert.match(
      cells.find((s) => s.name === "fit")!.reason!,
      /numeric runtime cpu tfjs [\d.]+, rnnp-fused [0-9a-f]{16}, ops \d+ -> cpu tfjs [\d.]+$/,
    );
    rig.write({
      "cells.rnnp": PIPELINE.replace('backend "cpu"', 'backend "cpu"\n  kernels "tfjs"'),
    });
    assert.deepEqual(
      stages((await rig.rnnp(["status", "cells.rnnp", "--json"])).stdout).map((s) => s.key),
      cells.map((s) => s.key),
    );
  });

  it("the tensorflow backend without @tensorflow/tfjs-node fails with a clear message", async () => {
    ran();
    const r = await rig.rnnp(["run", "names.rnnp", "--backend", "tensorflow"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /needs a numeric backend: the `tensorflow` backend needs the optional package @tensorflow\/tfjs-node/,
    );
    assert.match(r.stderr, /npm install @tensorflow\/tfjs-node/);
  });

  it("a loss that becomes NaN fails the stage, names epoch and batch, and caches nothing of it", async () => {
    ran();
    const r = await rig.rnnp(["run", "names.rnnp", "--json", "-P", "lr=1e38", "-P", "epochs=4"]);
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.stdout).fit, "failed");
    assert.match(r.stderr, /the loss became (NaN|Infinity) at epoch \d, batch \d+ of \d+/);
    assert.match(r.stderr, /hint: lower the learning rate, set clipNorm/);
    const fitKey = stages(r.stdout).find((s) => s.name === "fit")!.key!;
    assert.equal(
      (await rig.rnnp(["cache", "show", fitKey])).code,
      1,
      "no record for the failed stage",
    );
  });
});

describe("token-per-step targets", () => {
  it("trains a tagger (lower -> upper case) and reports token accuracy and edit-distance error rate", async () => {
    const rig = new Rig();
    const words = [
      "cab",
      "bad",
      "dab",
      "abc",
      "cad",
      "bead",
      "dace",
      "face",
      "fade",
      "deaf",
      "bee",
      "add",
      "feed",
      "dead",
      "cafe",
      "ace",
    ];
    const rows = Array.from({ length: 120 }, (_, i) => words[i % words.length]!).map(
      (w) => `${w},${w.toUpperCase()}`,
    );
    rig.write({
      "w.csv": `word,upper\n${rows.join("\n")}\n`,
      "tag.rnnp": `pipeline tag {
  seed 3
  backend "cpu"
  stage raw = load.csv(path: "w.csv", text: "word")
  stage parts = split(raw, train: 0.8, val: 0.1, test: 0.1)
  stage inVocab = vocabulary(parts.train, level: "char")
  stage outVocab = vocabulary(parts.train, level: "char", column: "upper", lowercase: false)
  stage seqs = encode(parts, inVocab, targetVocab: outVocab, target: "upper", maxLen: 5, pad: "post")
  stage net = model(seqs.train) {
    embedding(dim: 8, mask: true)
    lstm(units: 16, returnSequences: true)
    timeDistributed(dense(units: 8, activation: "softmax"))
  }
  stage fit = train(net, seqs.train, epochs: 10, batchSize: 16, optimizer: adam(lr: 0.05))
  stage report = evaluate(fit, seqs.test)
}
`,
    });
    const r = await rig.rnnp(["run", "tag.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const show = (await rig.rnnp(["show", "report", "tag.rnnp"])).stdout;
    const metric = (name: string) => Number(new RegExp(`${name} +([\\d.e-]+)`).exec(show)![1]);
    assert.ok(metric("tokenAccuracy") > 0.9, show);
    assert.ok(metric("editErrorRate") < 0.15, show);
    assert.match(show, /sequenceAccuracy/);
    const predicted = JSON.parse(
      (await rig.rnnp(["predict", "tag.rnnp", "--stage", "fit", "-i", "bead", "--json"])).stdout,
    ) as { results: { predictions: { output: string }[] }[] };
    assert.equal(predicted.results[0]!.predictions[0]!.output, "BEAD");
  });

  it("a tagger must end with token probabilities at every step (checked before running)", async () => {
    const rig = new Rig();
    rig.write({
      "w.csv": "word,upper\nab,AB\n",
      "bad.rnnp": `pipeline bad {
  stage raw = load.csv(path: "w.csv", text: "word")
  stage v = vocabulary(raw, level: "char")
  stage u = vocabulary(raw, level: "char", column: "upper")
  stage seqs = encode(raw, v, targetVocab: u, target: "upper", maxLen: 4)
  stage net = model(seqs) {
    embedding(dim: 4)
    lstm(units: 4)
    dense(units: 4, activation: "softmax")
  }
}
`,
    });
    const r = await rig.rnnp(["validate", "bad.rnnp"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /a token-per-step model must give a vector at every step, but this model ends with a vector \[batch, 4\]\n +--> bad\.rnnp:9:5/,
    );
  });
});
