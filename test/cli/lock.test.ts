import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { cli, NAMES_CSV, tempDir, writeFiles } from "../helpers.js";

const PIPELINE = `pipeline locked {
  seed 5
  params { lower = true, n = 4 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: params.lower)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
  stage preview = head(parts, n: params.n)
}
`;

function project(): string {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
  return dir;
}
const lockOf = (dir: string) =>
  JSON.parse(readFileSync(join(dir, "p.lock"), "utf8")) as {
    lockfileVersion: number;
    pipeline: string;
    rnnp: string;
    stages: Record<
      string,
      {
        key: string;
        outputs: Record<string, string>;
        manifest: { params: Record<string, unknown> };
      }
    >;
  };
const statuses = (stdout: string) =>
  Object.fromEntries(
    (JSON.parse(stdout) as { stages: { name: string; status: string }[] }).stages.map((s) => [
      s.name,
      s.status,
    ]),
  );

describe("lockfile", () => {
  it("rnnp run writes <pipeline>.lock: per stage, in order, key, output digests and manifest", () => {
    const dir = project();
    const run = JSON.parse(cli(["run", "p.rnnp", "--json"], dir).stdout) as {
      stages: { name: string; key: string }[];
    };
    const lock = lockOf(dir);
    assert.equal(lock.lockfileVersion, 1);
    assert.equal(lock.pipeline, "locked");
    assert.match(lock.rnnp, /^\d+\.\d+\.\d+/);
    assert.deepEqual(Object.keys(lock.stages), ["raw", "low", "parts", "preview"]);
    for (const s of run.stages) assert.equal(lock.stages[s.name]!.key, s.key);
    assert.deepEqual(Object.keys(lock.stages.parts!.outputs), ["train", "val", "test"]);
    assert.equal(lock.stages.low!.manifest.params.lowercase, true);
  });

  it("is stable: an unchanged build rewrites the same bytes; -P variants and --no-lock leave it alone", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const before = readFileSync(join(dir, "p.lock"), "utf8");
    cli(["run", "p.rnnp"], dir);
    assert.equal(readFileSync(join(dir, "p.lock"), "utf8"), before);
    cli(["run", "p.rnnp", "-P", "n=2"], dir);
    assert.equal(readFileSync(join(dir, "p.lock"), "utf8"), before);
    writeFiles(dir, { "q.rnnp": PIPELINE });
    cli(["run", "q.rnnp", "--no-lock"], dir);
    assert.equal(existsSync(join(dir, "q.lock")), false);
  });

  it("a forced rerun that makes other bytes than the cache had is what the lock records", async () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const genuine = lockOf(dir).stages.preview!;
    // The cache claims `preview.train` is another (valid) table, as an older rnnp might have made it
    // (records are stored as JSON text).
    const env = open({ path: join(dir, "cache"), maxDbs: 12 });
    const records = env.openDB({ name: "records", encoding: "json" });
    const record = records.get(genuine.key) as { outputs: { train: { digest: string } } };
    record.outputs.train.digest = lockOf(dir).stages.parts!.outputs.val!;
    await records.put(genuine.key, record);
    await env.close();
    cli(["run", "p.rnnp"], dir);
    assert.notEqual(
      lockOf(dir).stages.preview!.outputs.train,
      genuine.outputs.train,
      "the lock follows the cache",
    );
    cli(["run", "p.rnnp", "--force=preview"], dir);
    assert.deepEqual(lockOf(dir).stages.preview, genuine);
  });

  it("a failed stage loses its entry; an untouched one keeps it", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    writeFiles(dir, { "p.rnnp": PIPELINE.replace("n: params.n", "n: params.n, bogus: 1") });
    assert.equal(cli(["run", "p.rnnp"], dir).code, 2, "invalid pipelines write nothing");
    writeFiles(dir, { "p.rnnp": PIPELINE });
    cli(["run", "p.rnnp", "--stage", "raw"], dir);
    assert.deepEqual(Object.keys(lockOf(dir).stages), ["raw", "low", "parts", "preview"]);
  });
});

describe("rnnp run --frozen", () => {
  it("passes when everything matches, also on an empty cache (CI), and writes no lock", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const lock = readFileSync(join(dir, "p.lock"), "utf8");
    assert.equal(cli(["run", "p.rnnp", "--frozen"], dir).code, 0);
    const fresh = cli(["run", "p.rnnp", "--frozen", "--json", "--cache", "fresh-cache"], dir);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.deepEqual(Object.values(statuses(fresh.stdout)), ["ran", "ran", "ran", "ran"]);
    assert.equal(readFileSync(join(dir, "p.lock"), "utf8"), lock);
  });

  it("a stage whose key differs from the lock fails with exit 3, naming the stage and why", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    writeFiles(dir, { "p.rnnp": PIPELINE.replace("lower = true", "lower = false") });
    const r = cli(["run", "p.rnnp", "--frozen", "--json"], dir);
    assert.equal(r.code, 3);
    assert.deepEqual(statuses(r.stdout), {
      raw: "cached",
      low: "failed",
      parts: "skipped",
      preview: "skipped",
    });
    assert.match(
      r.stderr,
      /error\[frozen\]: `low` has key [0-9a-f]{12}, the lockfile has [0-9a-f]{12}\n +param `lowercase` true -> false \(from params\.lower\)/,
    );
  });

  it("a stage that produces other bytes than the lock records fails with exit 3, naming the artifact", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const lock = lockOf(dir);
    lock.stages.parts!.outputs.val = "0".repeat(64);
    writeFileSync(join(dir, "p.lock"), JSON.stringify(lock, null, 2));
    const cached = cli(["run", "p.rnnp", "--frozen"], dir);
    assert.equal(cached.code, 3);
    assert.match(
      cached.stderr,
      /the cached artifact `parts\.val` is [0-9a-f]{12}, the lockfile has 000000000000: same inputs, other bytes/,
    );
    const rebuilt = cli(["run", "p.rnnp", "--frozen", "--cache", "other"], dir);
    assert.equal(rebuilt.code, 3);
    assert.match(rebuilt.stderr, /the freshly built artifact `parts\.val`/);
  });

  it("needs a lockfile, and a stage missing from it is a violation", () => {
    const dir = project();
    assert.equal(cli(["run", "p.rnnp", "--frozen"], dir).code, 2);
    assert.match(cli(["run", "p.rnnp", "--frozen"], dir).stderr, /--frozen needs p\.lock/);
    cli(["run", "p.rnnp"], dir);
    writeFiles(dir, {
      "p.rnnp":
        PIPELINE.slice(0, PIPELINE.lastIndexOf("}")) + "  stage extra = head(raw, n: 1)\n}\n",
    });
    const r = cli(["run", "p.rnnp", "--frozen"], dir);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /`extra` is not in the lockfile/);
  });
});

describe("rnnp cache gc with lockfiles", () => {
  it("keeps what the given lockfiles reference and removes the rest", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    cli(["run", "p.rnnp", "-P", "n=1", "-P", "lower=false"], dir);
    const report = JSON.parse(cli(["cache", "gc", "p.lock", "--json"], dir).stdout) as {
      removedRecords: { stage: string }[];
      keptRecords: number;
    };
    assert.deepEqual(report.removedRecords.map((r) => r.stage).sort(), [
      "locked/low",
      "locked/parts",
      "locked/preview",
    ]);
    assert.equal(report.keptRecords, 4);
    assert.ok(
      (
        JSON.parse(cli(["run", "p.rnnp", "--json", "--frozen"], dir).stdout) as {
          stages: { status: string }[];
        }
      ).stages.every((s) => s.status === "cached"),
    );
    assert.equal(cli(["cache", "gc", "missing.lock"], dir).code, 2);
  });
});
