import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { sealRecordText, unsealRecordText } from "../../src/cache/record.js";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";
import { EXPORT, csvClassifier } from "../fixtures/pipelines.js";

/**
 * What a run does with damage it finds in the cache: a damaged record or a corrupt blob is never
 * served, commands say what to do instead of printing a stack trace, and the damage heals.
 */
const SMALL = `pipeline p {
  seed 3
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: true)
  stage few = head(low, n: 3)
}
`;

const TRAINED = csvClassifier({
  name: "e",
  settings: ["seed 1", 'backend "cpu"'],
  mask: true,
  train: "epochs: 1, batchSize: 4",
  after: [EXPORT],
});

interface Row {
  name: string;
  key: string;
  status: string;
}
const rows = (stdout: string) => (JSON.parse(stdout) as { stages: Row[] }).stages;
const statusOf = (stdout: string) =>
  Object.fromEntries(rows(stdout).map((s) => [s.name, s.status]));

/** The digest of a stage's first output, from its record. */
async function outputOf(rig: Rig, key: string): Promise<string> {
  const r = await rig.rnnp(["cache", "show", key, "--json"]);
  return Object.values(
    (JSON.parse(r.stdout) as { outputs: Record<string, { digest: string }> }).outputs,
  )[0]!.digest;
}

/** Writes bytes into a table of the rig's cache behind rnnp's back, as a disk fault would. */
async function poke(rig: Rig, table: "blobs" | "records", key: string, bytes: Buffer) {
  const raw = open({ path: rig.path("cache"), maxDbs: 8, compression: false });
  await raw.openDB({ name: table, encoding: "binary" }).put(key, bytes);
  await raw.close();
}

async function peek(rig: Rig, table: "blobs" | "records", key: string): Promise<Buffer> {
  const raw = open({ path: rig.path("cache"), maxDbs: 8, compression: false });
  const bytes = raw.openDB({ name: table, encoding: "binary" }).getBinary(key)!;
  await raw.close();
  return bytes;
}

const NO_STACK = /internal error|\n\s+at [\w.<]+ \(/;

describe("damage in the cache", () => {
  it("a record that does not decode: every command says to run `rnnp cache verify`, which drops it; then it recomputes", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": SMALL });
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const low = rows(first.stdout).find((s) => s.name === "low")!;
    const stored = await peek(rig, "records", low.key);
    // A byte no decoder accepts at the start of the record.
    await poke(rig, "records", low.key, Buffer.concat([Buffer.from([0xc1]), stored.subarray(1)]));
    for (const args of [
      ["run", "p.rnnp"],
      ["status", "p.rnnp"],
      ["show", "low", "p.rnnp"],
      ["cache", "ls"],
      ["cache", "gc", "--max-size", "1GB"],
      ["cache", "export", "-o", "b.tar"],
      ["cache", "show", low.key],
    ]) {
      const r = await rig.rnnp(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /error\[cache-corrupt\]: .*damaged/, args.join(" "));
      assert.match(r.stderr, /hint: run `rnnp cache verify`/, args.join(" "));
      assert.doesNotMatch(r.stderr, NO_STACK, args.join(" "));
    }
    const verify = await rig.rnnp(["cache", "verify"]);
    assert.equal(verify.code, 1);
    assert.match(
      verify.stdout,
      new RegExp(`damaged record ${low.key.slice(0, 12)}: it does not decode: .*; removed`),
    );
    assert.match((await rig.rnnp(["cache", "verify"])).stdout, /checked: all intact/);
    const healed = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.deepEqual(statusOf(healed.stdout), { raw: "cached", low: "ran", few: "cached" });
  });

  it("a record whose manifest changed (a flipped parameter) is not served under its old key", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": SMALL });
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const few = rows(first.stdout).find((s) => s.name === "few")!;
    const record = JSON.parse((await rig.rnnp(["cache", "show", few.key, "--json"])).stdout) as {
      manifest: { params: { n: number } };
    };
    assert.equal(record.manifest.params.n, 3);
    record.manifest.params.n = 4;
    // Stored as a cache of an earlier rnnp stored records (msgpack), which this one still reads.
    const raw = open({ path: rig.path("cache"), maxDbs: 8, compression: false });
    await raw.openDB({ name: "records", encoding: "msgpack" }).put(few.key, record);
    await raw.close();
    const r = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /its manifest hashes to [0-9a-f]{12}: changed after it was keyed/);
    assert.doesNotMatch(r.stderr, NO_STACK);
  });

  it("verify --deep decodes every artifact: a record that describes its output wrongly is dropped", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": SMALL });
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const few = rows(first.stdout).find((s) => s.name === "few")!;
    const text = unsealRecordText(few.key, (await peek(rig, "records", few.key)).toString());
    // The summary is not part of the key: only decoding the artifact shows the record is wrong. A
    // record written so (sealed: not damaged after it was written, which plain verify finds).
    await poke(
      rig,
      "records",
      few.key,
      Buffer.from(sealRecordText(text.replace(/table, 3 rows/, "table, 4 rows"))),
    );
    assert.equal((await rig.rnnp(["cache", "verify"])).code, 0);
    const deep = await rig.rnnp(["cache", "verify", "--deep"]);
    assert.equal(deep.code, 1, deep.stdout);
    assert.match(
      deep.stdout,
      /dropped record [0-9a-f]{12} \(p\/few\): output "out" is described as "table, 3 rows.*"; its record says "table, 4 rows/,
    );
    assert.match(deep.stdout, /3 records, 3 artifacts decoded, and 3 blobs .* checked: 1 damaged/);
    const again = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.deepEqual(statusOf(again.stdout), { raw: "cached", low: "cached", few: "ran" });
  });

  it("a byte changed anywhere in a stored record is found by verify (its seal), and the stage recomputes", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": SMALL });
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const few = rows(first.stdout).find((s) => s.name === "few")!;
    const stored = (await peek(rig, "records", few.key)).toString();
    // Outside the manifest (which the key covers): the output's name and its summary, as a flipped
    // bit would leave them (found by the stress suite: `val` became `Ial`).
    for (const [from, to] of [
      ['"out":', '"Out":'],
      ["table, 3 rows", "table, 3 rowr"],
    ]) {
      assert.ok(stored.includes(from), from);
      await poke(rig, "records", few.key, Buffer.from(stored.replace(from, to)));
      const verify = await rig.rnnp(["cache", "verify"]);
      assert.equal(verify.code, 1, verify.stdout);
      assert.match(
        verify.stdout,
        /damaged record [0-9a-f]{12}: its seal does not match: it changed after it was written; removed, the stage will recompute/,
      );
      const again = await rig.rnnp(["run", "p.rnnp", "--json"]);
      assert.deepEqual(statusOf(again.stdout), { raw: "cached", low: "cached", few: "ran" });
    }
    // Without verify, a run refuses the damaged record with the same words.
    await poke(rig, "records", few.key, Buffer.from(stored.replace('"out":', '"Out":')));
    const run = await rig.rnnp(["run", "p.rnnp"]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /record [0-9a-f]{12} is damaged \(its seal does not match/);
    assert.doesNotMatch(run.stderr, NO_STACK);
  });

  it("a corrupt blob: show says what it is and what to do, not an internal error (predict: below)", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": SMALL });
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const few = rows(first.stdout).find((s) => s.name === "few")!;
    await poke(rig, "blobs", await outputOf(rig, few.key), Buffer.from("bit rot"));
    for (const args of [["show", "few", "p.rnnp"]]) {
      const r = await rig.rnnp(args);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /error\[cache-corrupt\]: artifact [0-9a-f]{12} is corrupt in the cache/,
      );
      assert.match(r.stderr, /rnnp cache verify/);
      assert.doesNotMatch(r.stderr, NO_STACK);
    }
  });

  it("run --frozen verifies the bytes it vouches for: a corrupt cached output is recomputed, not passed", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": SMALL });
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const few = rows(first.stdout).find((s) => s.name === "few")!;
    const digest = await outputOf(rig, few.key);
    const good = await peek(rig, "blobs", digest);
    // `few` is read by no other stage: only a frozen run's own check can see the damage.
    await poke(rig, "blobs", digest, Buffer.from(good).fill(0x20, 0, 16));
    const frozen = await rig.rnnp(["run", "p.rnnp", "--frozen", "--json"]);
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.deepEqual(statusOf(frozen.stdout), { raw: "cached", low: "cached", few: "ran" });
    assert.match(
      frozen.stderr,
      /artifact [0-9a-f]{12} of `few` is corrupt in the cache; recomputing it/,
    );
    assert.deepEqual(await peek(rig, "blobs", digest), good, "the bytes the lock records, again");
    const verify = await rig.rnnp(["cache", "verify"]);
    assert.equal(verify.code, 0, verify.stdout);
  });

  it("a corrupt output of an export stage heals: the stage runs again and the directory is restored", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "e.rnnp": TRAINED });
    const first = await rig.rnnp(["run", "e.rnnp", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const exported = rows(first.stdout).find((s) => s.name === "exported")!;
    const files = readdirSync(rig.path("out/model")).sort();
    const weights = readFileSync(rig.path("out/model/weights.bin"));
    await poke(rig, "blobs", await outputOf(rig, exported.key), Buffer.from("bit rot"));
    rmSync(rig.path("out"), { recursive: true });
    const second = await rig.rnnp(["run", "e.rnnp", "--json"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(statusOf(second.stdout).exported, "ran");
    assert.equal(statusOf(second.stdout).fit, "cached");
    assert.deepEqual(readdirSync(rig.path("out/model")).sort(), files);
    assert.deepEqual(readFileSync(rig.path("out/model/weights.bin")), weights);
    const third = await rig.rnnp(["run", "e.rnnp", "--json"]);
    assert.equal(statusOf(third.stdout).exported, "cached");
    assert.ok(existsSync(rig.path("out/model/model.json")));
    // A corrupt trained model: predict and show say so, without a stack trace.
    const fit = rows(third.stdout).find((s) => s.name === "fit")!;
    await poke(rig, "blobs", await outputOf(rig, fit.key), Buffer.from("bit rot"));
    for (const args of [
      ["predict", "e.rnnp", "--stage", "fit", "-i", "ann"],
      ["show", "fit", "e.rnnp"],
    ]) {
      const r = await rig.rnnp(args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(
        r.stderr,
        /error\[cache-corrupt\]: artifact [0-9a-f]{12} is corrupt in the cache/,
      );
      assert.doesNotMatch(r.stderr, NO_STACK);
    }
  });
});
