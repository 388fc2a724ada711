import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Rig } from "../rig.js";
import { loadNames } from "../fixtures/pipelines.js";

/** A tiny training pipeline whose last stage exports into the working tree. */
const PIPELINE = `pipeline names {
  seed 7
  backend "cpu"
  params { epochs = 1 }

  stage raw = ${loadNames()}
  stage few = sample(raw, n: 200)
  stage parts = split(few, train: 0.8, val: 0.2, test: 0, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage net = model(seqs.train) {
    embedding(dim: 4)
    lstm(units: 4)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: params.epochs, batchSize: 64)
  stage exported = export(fit, dir: "out/model")
}
`;

interface Row {
  name: string;
  key: string | null;
  status: string;
  reason?: string;
  workspace?: { dir: string; missing: string[]; modified: string[] };
}
const rows = (stdout: string) => (JSON.parse(stdout) as { stages: Row[] }).stages;
const stale = (stdout: string) => rows(stdout).filter((r) => r.status === "stale");

describe("workspace outputs (exports) are checked and restored, and variants leave them alone", () => {
  const rig = new Rig().write({ "package.json": "{}", "p.rnnp": PIPELINE });
  const model = () => readFileSync(rig.path("out", "model", "weights.bin"));

  it("status reports a missing or modified export, and run restores it", async () => {
    const ran = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(ran.code, 0, ran.stderr);
    const built = model();
    rmSync(rig.path("out", "model", "model.json"));
    const missing = await rig.rnnp(["status", "p.rnnp", "--json"]);
    assert.deepEqual(stale(missing.stdout), [
      {
        name: "exported",
        kind: "export",
        key: rows(missing.stdout).at(-1)!.key,
        status: "stale",
        durationMs: null,
        reason: "out/model: model.json missing (run restores them from the cache)",
        workspace: { dir: "out/model", missing: ["model.json"], modified: [] },
      },
    ]);
    const text = await rig.rnnp(["status", "p.rnnp"]);
    assert.match(text.stdout, /stale +exported +export +out\/model: model\.json missing/);
    assert.match(text.stdout, /1 of 8 stages stale/);
    writeFileSync(rig.path("out", "model", "weights.bin"), "tampered");
    const modified = await rig.rnnp(["status", "p.rnnp", "--json"]);
    assert.deepEqual(stale(modified.stdout)[0]!.workspace, {
      dir: "out/model",
      missing: ["model.json"],
      modified: ["weights.bin"],
    });
    const restored = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(
      rows(restored.stdout).map((r) => [r.name, r.status]),
      ["raw", "few", "parts", "vocab", "seqs", "net", "fit", "exported"].map((n) => [n, "cached"]),
    );
    assert.deepEqual(model(), built);
    const after = await rig.rnnp(["status", "p.rnnp", "--json"]);
    assert.deepEqual(stale(after.stdout), []);
  });

  it("a -P run trains its variant but leaves the export and the lock as the pipeline writes them", async () => {
    const before = model();
    const lock = rig.read("p.lock");
    const r = await rig.rnnp(["run", "p.rnnp", "-P", "epochs=2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /● fit +train +ran/);
    assert.match(r.stderr, /\[exported\] not written to the working tree: runs with -P/);
    assert.deepEqual(model(), before);
    assert.equal(rig.read("p.lock"), lock);
    const status = await rig.rnnp(["status", "p.rnnp", "--json"]);
    assert.deepEqual(stale(status.stdout), []);
  });

  it("show fit --json includes the per-epoch history", async () => {
    const r = await rig.rnnp(["show", "fit", "p.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      outputs: { out: { type: string; training: { history: { epoch: number; loss: number }[] } } };
    };
    assert.equal(out.outputs.out.type, "trained");
    assert.deepEqual(
      out.outputs.out.training.history.map((e) => e.epoch),
      [1],
    );
    assert.ok(Number.isFinite(out.outputs.out.training.history[0]!.loss));
  });

  it("predict --file - reads standard input; a missing --file is a clean usage error", async () => {
    const r = await rig.rnnp(["predict", "p.rnnp", "--stage", "fit", "--file", "-", "--json"], {
      stdin: "anna\nbob\n\n",
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { results: { input: string }[] };
    assert.deepEqual(
      out.results.map((p) => p.input),
      ["anna", "bob"],
    );
    const missing = await rig.rnnp(["predict", "p.rnnp", "--stage", "fit", "--file", "nope.txt"]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, "error: --file nope.txt: no such file\n");
  });

  it("--kernels/--backend overrides leave the lockfile alone, so --frozen still passes", async () => {
    const lock = rig.read("p.lock");
    // A real process: one process runs one TF.js build of kernels.
    const r = rig.spawnSync(["run", "p.rnnp", "--kernels", "tfjs"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /● fit +train +ran/);
    assert.equal(rig.read("p.lock"), lock);
    const frozen = await rig.rnnp(["run", "p.rnnp", "--frozen"]);
    assert.equal(frozen.code, 0, frozen.stderr);
  });
});
