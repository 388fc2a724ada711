// With every output released as it is encoded (HeapPolicy.release.from = 0: what a header of 32 MiB
// or more gets by default), each stage's record (digests, sizes, summaries, manifest) must equal the
// one made without release, and the pipeline's IR (the stages' params) must be left as it was.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { encodeArtifact } from "../../src/run/artifacts.js";
import { describeArtifact, type Artifact } from "../../src/artifacts/index.js";
import { listsHeldOnce } from "../../src/core/codec.js";
import { CacheStore } from "../../src/cache/store.js";
import { Planner } from "../../src/plan/planner.js";
import { LocalExecutor } from "../../src/run/executor.js";
import type { HeapPolicy } from "../../src/run/heap.js";
import { Runner } from "../../src/run/runner.js";
import { ir, tempDir } from "../helpers.js";
import { allKindsProject } from "../fixtures/all-kinds.js";

async function records(dir: string, file: string, cache: string, from: number) {
  const store = CacheStore.open(join(dir, cache));
  const pir = ir(readFileSync(join(dir, file), "utf8"), join(dir, file));
  const before = JSON.stringify(pir);
  const policy: HeapPolicy = {
    collectAfterInputs: Number.POSITIVE_INFINITY,
    used: () => 0,
    collect: () => true,
    release: { from, every: 1 },
  };
  const results = await new Runner(new Planner(pir, store), new LocalExecutor(), policy).run({});
  const out: Record<string, unknown> = {};
  for (const r of results) {
    const rec = r.key ? store.getRecord(r.key) : undefined;
    out[r.name] = rec
      ? { status: r.status, outputs: rec.outputs, manifest: rec.manifest }
      : { status: r.status, problems: r.diagnostics?.map((d) => d.message) };
  }
  await store.close();
  return { records: out, irUnchanged: JSON.stringify(pir) === before };
}

async function compare(dir: string, file: string) {
  const whole = await records(dir, file, "cache-whole", Number.POSITIVE_INFINITY);
  const released = await records(dir, file, "cache-released", 0);
  assert.ok(whole.irUnchanged);
  assert.deepEqual(released.records, whole.records);
  assert.ok(released.irUnchanged, "releasing the outputs changed the pipeline's params");
}

describe("outputs released as they are encoded", () => {
  it("an output's summary is the artifact's, not its emptied lists'", () => {
    const vocab = {
      type: "vocabulary",
      level: "word",
      lowercase: true,
      punctuation: "split",
      tokens: ["<pad>", "<unk>", "w0", "w1"],
      counts: Int32Array.of(0, 0, 1, 1),
      reserved: { pad: 0, unk: 1 },
    } as unknown as Artifact;
    const summary = describeArtifact(vocab);
    const enc = encodeArtifact(vocab, {
      lists: listsHeldOnce([vocab as never]),
      from: 0,
      every: 1,
      collect: () => {},
    });
    assert.equal(enc.ref.summary, summary);
  });

  it("leaves every record of the all-kinds pipeline as it was", async () => {
    const rig = allKindsProject();
    await compare(rig.dir, "all.rnnp");
  });

  it("leaves a window's params whole (features and targets given)", async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "s.jsonl"),
      Array.from({ length: 40 }, (_, i) => JSON.stringify({ t: i, v: Math.cos(i), u: i % 5 })).join(
        "\n",
      ) + "\n",
    );
    writeFileSync(
      join(dir, "w.rnnp"),
      `pipeline w {
  seed 3
  stage js = load.jsonl(path: "s.jsonl")
  stage w = window(js, length: 3, features: ["v", "u"], targets: ["v"])
}
`,
    );
    await compare(dir, "w.rnnp");
  });
});
