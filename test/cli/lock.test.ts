import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";
import { marks } from "../../src/core/timing.js";

const PIPELINE = `pipeline locked {
  seed 5
  params { lower = true, n = 4 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: params.lower)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
  stage preview = head(parts, n: params.n)
}
`;

const project = () => new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
const lockOf = (rig: Rig) =>
  JSON.parse(rig.read("p.lock")) as {
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
  it("rnnp run writes <pipeline>.lock: per stage, in order, key, output digests and manifest", async () => {
    const rig = project();
    const run = JSON.parse((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout) as {
      stages: { name: string; key: string }[];
    };
    const lock = lockOf(rig);
    assert.equal(lock.lockfileVersion, 1);
    assert.equal(lock.pipeline, "locked");
    assert.match(lock.rnnp, /^\d+\.\d+\.\d+/);
    assert.deepEqual(Object.keys(lock.stages), ["raw", "low", "parts", "preview"]);
    for (const s of run.stages) assert.equal(lock.stages[s.name]!.key, s.key);
    assert.deepEqual(Object.keys(lock.stages.parts!.outputs), ["train", "val", "test"]);
    assert.equal(lock.stages.low!.manifest.params.lowercase, true);
  });

  it("is stable: an unchanged build rewrites the same bytes; -P variants and --no-lock leave it alone", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const before = rig.read("p.lock");
    await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(rig.read("p.lock"), before);
    await rig.rnnp(["run", "p.rnnp", "-P", "n=2"]);
    assert.equal(rig.read("p.lock"), before);
    rig.write({ "q.rnnp": PIPELINE });
    await rig.rnnp(["run", "q.rnnp", "--no-lock"]);
    assert.equal(existsSync(rig.path("q.lock")), false);
  });

  it("a forced rerun that makes other bytes than the cache had is what the lock records", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const genuine = lockOf(rig).stages.preview!;
    // The cache claims `preview.train` is another (valid) table, as an older rnnp might have made it
    // (records are stored as JSON text).
    const env = open({ path: rig.path("cache"), maxDbs: 12 });
    const records = env.openDB({ name: "records", encoding: "json" });
    const record = records.get(genuine.key) as {
      outputs: { train: { digest: string } };
      seal?: string;
    };
    record.outputs.train.digest = lockOf(rig).stages.parts!.outputs.val!;
    delete record.seal; // an older rnnp's record: not sealed (a changed sealed one is refused)
    await records.put(genuine.key, record);
    await env.close();
    await rig.rnnp(["run", "p.rnnp"]);
    assert.notEqual(
      lockOf(rig).stages.preview!.outputs.train,
      genuine.outputs.train,
      "the lock follows the cache",
    );
    await rig.rnnp(["run", "p.rnnp", "--force=preview"]);
    assert.deepEqual(lockOf(rig).stages.preview, genuine);
  });

  it("a failed stage loses its entry; an untouched one keeps it", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const before = lockOf(rig);
    rig.write({ "p.rnnp": PIPELINE.replace("n: params.n", "n: params.n, bogus: 1") });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 2, "invalid pipelines write nothing");
    rig.write({ "p.rnnp": PIPELINE });
    await rig.rnnp(["run", "p.rnnp", "--stage", "raw"]);
    assert.deepEqual(Object.keys(lockOf(rig).stages), ["raw", "low", "parts", "preview"]);
    // The data loses its label column: `raw` fails when it runs and the stages it feeds are skipped:
    // their entries go (killed: failed stages keeping their previous entry).
    rig.write({ "d.csv": NAMES_CSV.replace(/^name,label,/, "name,tag,") });
    const r = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(statuses(r.stdout), {
      raw: "failed",
      low: "skipped",
      parts: "skipped",
      preview: "skipped",
    });
    assert.deepEqual(lockOf(rig).stages, {});
    // The data back: every stage cached again, every entry as it was.
    rig.write({ "d.csv": NAMES_CSV });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.deepEqual(lockOf(rig), before);
  });
});

describe("rnnp run --frozen", () => {
  it("passes when everything matches, also on an empty cache (CI), and writes no lock", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const lock = rig.read("p.lock");
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--frozen"])).code, 0);
    const fresh = await rig.rnnp(["run", "p.rnnp", "--frozen", "--json", "--cache", "fresh-cache"]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.deepEqual(Object.values(statuses(fresh.stdout)), ["ran", "ran", "ran", "ran"]);
    assert.equal(rig.read("p.lock"), lock);
  });

  it("a stage whose key differs from the lock fails with exit 3, naming the stage and why", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    rig.write({ "p.rnnp": PIPELINE.replace("lower = true", "lower = false") });
    const r = await rig.rnnp(["run", "p.rnnp", "--frozen", "--json"]);
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

  it("a stage that produces other bytes than the lock records fails with exit 3, naming the artifact", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const lock = lockOf(rig);
    lock.stages.parts!.outputs.val = "0".repeat(64);
    writeFileSync(rig.path("p.lock"), JSON.stringify(lock, null, 2));
    const cached = await rig.rnnp(["run", "p.rnnp", "--frozen"]);
    assert.equal(cached.code, 3);
    assert.match(
      cached.stderr,
      /the cached artifact `parts\.val` is [0-9a-f]{12}, the lockfile has 000000000000: same inputs, other bytes/,
    );
    const rebuilt = await rig.rnnp(["run", "p.rnnp", "--frozen", "--cache", "other"]);
    assert.equal(rebuilt.code, 3);
    assert.match(rebuilt.stderr, /the freshly built artifact `parts\.val`/);
  });

  it("needs a lockfile, and a stage missing from it is a violation", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--frozen"])).code, 2);
    assert.match((await rig.rnnp(["run", "p.rnnp", "--frozen"])).stderr, /--frozen needs p\.lock/);
    await rig.rnnp(["run", "p.rnnp"]);
    rig.write({
      "p.rnnp":
        PIPELINE.slice(0, PIPELINE.lastIndexOf("}")) + "  stage extra = head(raw, n: 1)\n}\n",
    });
    const r = await rig.rnnp(["run", "p.rnnp", "--frozen"]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /`extra` is not in the lockfile/);
  });
});

describe("rnnp cache gc with lockfiles", () => {
  it("keeps what the given lockfiles reference and removes the rest", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    await rig.rnnp(["run", "p.rnnp", "-P", "n=1", "-P", "lower=false"]);
    const report = JSON.parse((await rig.rnnp(["cache", "gc", "p.lock", "--json"])).stdout) as {
      removedRecords: { stage: string }[];
      keptRecords: number;
    };
    assert.deepEqual(report.removedRecords.map((r) => r.stage).sort(), [
      "locked/low",
      "locked/parts",
      "locked/preview",
    ]);
    assert.equal(report.keptRecords, 4);
    assert.deepEqual(statuses((await rig.rnnp(["run", "p.rnnp", "--json", "--frozen"])).stdout), {
      raw: "cached",
      low: "cached",
      parts: "cached",
      preview: "cached",
    });
    assert.equal((await rig.rnnp(["cache", "gc", "missing.lock"])).code, 2);
  });
});

describe("a lock the cache remembers (src/plan/lock-memo.ts)", () => {
  /** How the last run ended with its lock: kept as it was without rebuilding it, or written. */
  const lastLock = () =>
    marks()
      .filter((m) => m.name === "lock kept" || m.name === "lock written")
      .at(-1)?.name;
  const memos = (rig: Rig) => readdirSync(rig.path("cache/locks"));

  it("is kept without rebuilding when unchanged, and rebuilt when its bytes or the run differ", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(lastLock(), "lock written");
    const written = rig.read("p.lock");
    const { mtimeMs, ino } = statSync(rig.path("p.lock"));
    assert.equal(memos(rig).length, 1);
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(lastLock(), "lock kept", "a fully cached run of an unchanged lock");
    assert.equal(rig.read("p.lock"), written);
    assert.deepEqual(
      [statSync(rig.path("p.lock")).mtimeMs, statSync(rig.path("p.lock")).ino],
      [mtimeMs, ino],
    );
    // A digest edited by hand: the lock is rebuilt and written as it should be.
    const digest = lockOf(rig).stages.low!.outputs.out!;
    rig.write({
      "p.lock": written.replace(
        digest,
        digest.replace(/^./, (c) => (c === "0" ? "1" : "0")),
      ),
    });
    assert.notEqual(rig.read("p.lock"), written);
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(lastLock(), "lock written");
    assert.equal(rig.read("p.lock"), written);
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(lastLock(), "lock kept");
    // Another run (a changed parameter): another lock, byte for byte what a run without memo writes.
    rig.write({ "p.rnnp": PIPELINE.replace("n = 4", "n = 3") });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(lastLock(), "lock written");
    const changed = rig.read("p.lock");
    assert.notEqual(changed, written);
    assert.deepEqual(lockOf(rig).stages.preview!.manifest.params, { n: 3 });
    rmSync(rig.path("cache/locks"), { recursive: true });
    rmSync(rig.path("p.lock"));
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(rig.read("p.lock"), changed);
  });

  it("a renamed stage (every key the same, every stage cached) rewrites the lock under the new names", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    const before = lockOf(rig);
    // `low` becomes `lower`: its key and its reader's key stay; the lock names it anew.
    rig.write({
      "p.rnnp": PIPELINE.replace("stage low =", "stage lower =").replace(
        "split(low,",
        "split(lower,",
      ),
    });
    const r = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(new Set(Object.values(statuses(r.stdout))), new Set(["cached"]));
    assert.equal(lastLock(), "lock written");
    const after = lockOf(rig);
    assert.deepEqual(Object.keys(after.stages), ["raw", "lower", "parts", "preview"]);
    assert.equal(after.stages.lower!.key, before.stages.low!.key);
    assert.equal(
      (after.stages.parts as unknown as { inputsFrom: { data: { stage: string } } }).inputsFrom.data
        .stage,
      "lower",
    );
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(lastLock(), "lock kept");
  });

  it("a renamed stage nobody reads (every key, output and input the same) is renamed in the lock", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    const before = lockOf(rig);
    rig.write({ "p.rnnp": PIPELINE.replace("stage preview =", "stage peek =") });
    const r = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(new Set(Object.values(statuses(r.stdout))), new Set(["cached"]));
    // Killed: the lock's identity without the stages' names (the old lock was kept).
    assert.equal(lastLock(), "lock written");
    const after = lockOf(rig);
    assert.deepEqual(Object.keys(after.stages), ["raw", "low", "parts", "peek"]);
    assert.deepEqual(after.stages.peek, before.stages.preview);
  });

  it("a parameter edit that leaves a stage's bytes alone still gives the lock its new key and manifest", async () => {
    // head(n: 1000) and head(n: 2000) of parts (a few rows each) are the same tables.
    const rig = new Rig().write({
      "d.csv": NAMES_CSV,
      "p.rnnp": PIPELINE.replace("n = 4", "n = 1000"),
    });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    const before = lockOf(rig).stages.preview!;
    rig.write({ "p.rnnp": PIPELINE.replace("n = 4", "n = 2000") });
    const r = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statuses(r.stdout).preview, "ran");
    // Killed: the lock's identity without the stages' keys (the old key and manifest were kept).
    assert.equal(lastLock(), "lock written");
    const after = lockOf(rig).stages.preview!;
    assert.deepEqual(after.outputs, before.outputs);
    assert.notEqual(after.key, before.key);
    assert.deepEqual(after.manifest.params, { n: 2000 });
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--frozen"])).code, 0);
  });

  it("a rerun that records where its inputs came from anew gives the lock its new inputsFrom", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    // `low` gets a parameter that changes its key and not its bytes: `parts` stays cached, and its
    // record still names the `low` it was made from.
    rig.write({
      "p.rnnp": PIPELINE.replace(
        "lowercase: params.lower)",
        "lowercase: params.lower, minLength: 0)",
      ),
    });
    const edited = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(edited.code, 0, edited.stderr);
    assert.deepEqual(statuses(edited.stdout), {
      raw: "cached",
      low: "ran",
      parts: "cached",
      preview: "cached",
    });
    const from = () =>
      (lockOf(rig).stages.parts as unknown as { inputsFrom: { data: { key: string } } }).inputsFrom
        .data.key;
    const lowKey = lockOf(rig).stages.low!.key;
    assert.notEqual(from(), lowKey);
    // Rerun, `parts` makes the same bytes under the same key, from the new `low`: the lock says so
    // (killed: the lock's identity without inputsFrom, when the memo kept the old lock).
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--force=parts"])).code, 0);
    assert.equal(lastLock(), "lock written");
    assert.equal(from(), lowKey);
  });

  it("a damaged memo or an invalid lock takes the full path: the lock is right, or the error said", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const written = rig.read("p.lock");
    const [memo] = memos(rig);
    for (const damage of ["", "{", '{"format":"rnnp-lock-memo-1"}', "null"]) {
      writeFileSync(rig.path(`cache/locks/${memo}`), damage);
      assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
      assert.equal(lastLock(), "lock written", JSON.stringify(damage));
      assert.equal(rig.read("p.lock"), written);
    }
    rig.write({ "p.lock": `${written.slice(0, -10)}` });
    const r = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /p\.lock is not valid JSON/);
  });
});
