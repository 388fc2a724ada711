import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { digestOf } from "../../src/core/digest.js";
import { gc } from "../../src/cache/maintenance.js";
import { BadRecordError, keyOfManifest } from "../../src/cache/record.js";
import { beyond, repairCache, verifyCache } from "../../src/cache/salvage.js";
import { CacheStore, recordOfText } from "../../src/cache/store.js";
import { tempDir } from "../helpers.js";
import { nodeArgsFor } from "../fixtures/node-args.js";
import { fakeRecord } from "./records.js";

/** A record of a fake stage `name` with outputs o0, o1, ... */
const record = (
  name: string,
  blobs: Uint8Array[],
  createdAt = new Date().toISOString(),
  manifest: Record<string, unknown> = { kind: "test", stage: name },
) =>
  fakeRecord(name, Object.fromEntries(blobs.map((b, i) => [`o${i}`, b])), { createdAt, manifest });

const blobsOf = (bs: Uint8Array[]) => new Map(bs.map((b) => [digestOf(b), b]));
const keyOf = (name: string) => record(name, []).key;

/** Writes raw bytes into one of the cache's tables behind the store's back, as a disk fault would. */
async function tamper(dir: string, table: string, key: string, value: Buffer | unknown) {
  const raw = open({ path: dir, maxDbs: 8, compression: false });
  const db = raw.openDB({
    name: table,
    encoding: Buffer.isBuffer(value) ? "binary" : "msgpack",
  });
  await db.put(key, value);
  await raw.close();
}

/** A cache holding two records, `a` and `b`, with one blob: for tests that damage one of them. */
async function twoRecords() {
  const dir = tempDir();
  const store = CacheStore.open(dir);
  const bytes = Buffer.from("out");
  const a = record("a", [bytes]);
  const b = record("b", [bytes]);
  store.commit(a, blobsOf([bytes]), { pipeline: "p", stage: "a" });
  store.commit(b, blobsOf([bytes]), { pipeline: "p", stage: "b" });
  await store.close();
  return { dir, a, b };
}

describe("cache store", () => {
  it("a cache folder whose name has a dot (mktemp's tmp.X, my.cache) is a folder, not a file", async () => {
    for (const name of ["tmp.Ab12Cd", "my.cache", "plain"]) {
      const dir = join(tempDir(), name);
      const store = CacheStore.open(dir);
      const bytes = new TextEncoder().encode(name);
      store.commit(record("a", [bytes]), blobsOf([bytes]), { pipeline: "p", stage: "s" });
      await store.close();
      assert.ok(existsSync(join(dir, "data.mdb")), `${name}: data.mdb inside the folder`);
    }
  });

  it("stores a blob once however many records name it", async () => {
    const store = CacheStore.open(tempDir());
    const shared = Buffer.from("shared bytes");
    store.commit(record("a", [shared]), blobsOf([shared]), { pipeline: "p", stage: "a" });
    store.commit(record("b", [shared, Buffer.from("own")]), blobsOf([shared, Buffer.from("own")]), {
      pipeline: "p",
      stage: "b",
    });
    assert.equal([...store.allBlobDigests()].length, 2);
    assert.equal(store.getRecord<unknown>(keyOf("a"))?.kind, "test");
    await store.close();
  });

  it("a commit that fails after writing blobs leaves nothing behind", async () => {
    const store = CacheStore.open(tempDir());
    const given = Buffer.from("written first");
    const absent = Buffer.from("never given");
    // The record names a blob it is not given: the throw comes after `given` was put, in the same transaction.
    const r = record("bad", [given, absent]);
    assert.throws(
      () => store.commit(r, blobsOf([given]), { pipeline: "p", stage: "bad" }),
      /neither given nor stored/,
    );
    assert.equal(store.hasBlob(digestOf(given)), false);
    assert.equal(store.hasRecord(r.key), false);
    assert.deepEqual(store.historyOf("p", "bad"), []);
    await store.close();
  });

  it("refuses to store a record whose key is not the digest of its manifest", async () => {
    const store = CacheStore.open(tempDir());
    const out = Buffer.from("out");
    const r = { ...record("x", [out]), key: keyOf("y") };
    assert.throws(
      () => store.commit(r, blobsOf([out]), { pipeline: "p", stage: "x" }),
      (e) => e instanceof BadRecordError && /manifest hashes to/.test(e.message),
    );
    assert.equal([...store.allRecords()].length, 0);
    await store.close();
  });

  it("keeps a history of keys per stage, newest first", async () => {
    const store = CacheStore.open(tempDir());
    const out = Buffer.from("out");
    for (const k of ["k1", "k2", "k1"])
      store.commit(record(k, [out]), blobsOf([out]), { pipeline: "p", stage: "s" });
    assert.deepEqual(store.historyOf("p", "s"), [keyOf("k1"), keyOf("k2")]);
    await store.close();
  });

  it("a record round-trips exactly, a `__proto__` in its manifest included (it stays filed under its key)", async () => {
    const dir = tempDir();
    const store = CacheStore.open(dir);
    const manifest = JSON.parse(
      '{"kind":"test","params":{"files":{"__proto__":"a.txt","b":"b.txt"}},"__proto__":1}',
    ) as Record<string, unknown>;
    const out = Buffer.from("out");
    const r = record("proto", [out], undefined, manifest);
    store.commit(r, blobsOf([out]), { pipeline: "p", stage: "proto" });
    await store.close();
    const again = CacheStore.open(dir);
    const back = again.getRecord(r.key)!;
    assert.deepEqual(Object.keys(back.manifest as object), ["kind", "params", "__proto__"]);
    assert.equal(keyOfManifest(back.manifest), r.key);
    assert.equal(Object.getPrototypeOf(back.manifest), Object.prototype);
    assert.equal(({} as Record<string, unknown>).b, undefined, "nothing polluted");
    await again.close();
  });

  it("reads records of caches written before records were JSON (msgpack)", async () => {
    const dir = tempDir();
    const out = Buffer.from("out");
    const first = CacheStore.open(dir);
    first.importBlob(digestOf(out), out);
    await first.close();
    const r = record("old", [out]);
    await tamper(dir, "records", r.key, r);
    const store = CacheStore.open(dir);
    assert.deepEqual(store.getRecord(r.key), r);
    await store.close();
  });

  it("a damaged record is reported as such (with what to do), never served; a changed manifest too", async () => {
    const { dir, a, b } = await twoRecords();
    // A flipped byte that breaks the JSON, and one that changes a parameter (still valid JSON).
    await tamper(
      dir,
      "records",
      a.key,
      Buffer.from(JSON.stringify(a).replace('"kind"', '"ki\u0000d"')),
    );
    await tamper(
      dir,
      "records",
      b.key,
      Buffer.from(JSON.stringify(b).replace('"stage":"b"}', '"stage":"c"}')),
    );
    const again = CacheStore.open(dir);
    for (const key of [a.key, b.key]) {
      const e = (() => {
        try {
          again.getRecord(key);
        } catch (err) {
          return err;
        }
      })();
      assert.ok(e instanceof BadRecordError, String(e));
      assert.equal(e.code, "cache-corrupt");
      assert.match(e.hint!, /rnnp cache verify/);
    }
    assert.deepEqual(
      [...again.scanRecords()].map((s) => ("problem" in s ? s.problem.problem.slice(0, 20) : "ok")),
      [a.key, b.key]
        .sort()
        .map((k) => (k === a.key ? "it does not decode: " : "its manifest hashes ")),
    );
    await again.close();
  });

  it("a stored record with any one bit flipped, anywhere, is refused as damaged (the seal)", async () => {
    const dir = tempDir();
    const store = CacheStore.open(dir);
    const out = Buffer.from("out");
    const r = record("sealed", [out]);
    store.commit(r, blobsOf([out]), { pipeline: "p", stage: "sealed" });
    await store.close();
    const env = open({ path: dir, maxDbs: 12 });
    const stored = env.openDB({ name: "records", encoding: "binary" }).get(r.key) as Buffer;
    const text = Buffer.from(stored);
    await env.close();
    assert.deepEqual(recordOfText(r.key, text.toString("utf8")), r);
    let refused = 0;
    for (let at = 0; at < text.length; at++)
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(text);
        flipped[at]! ^= 1 << bit;
        assert.throws(
          () => recordOfText(r.key, flipped.toString("utf8")),
          BadRecordError,
          `byte ${at}, bit ${bit}`,
        );
        refused++;
      }
    assert.equal(refused, text.length * 8);
  });

  it("a changed manifest is caught also when the reader passes the manifest it hashed to the key", async () => {
    const { dir, a, b } = await twoRecords();
    await tamper(
      dir,
      "records",
      b.key,
      Buffer.from(JSON.stringify(b).replace('"stage":"b"}', '"stage":"c"}')),
    );
    const again = CacheStore.open(dir);
    // The planner's fingerprint (the manifest as keyed), keys in another order: served.
    const keyed = { stage: "a", kind: "test" };
    assert.deepEqual(again.getRecord(a.key, keyed)?.manifest, a.manifest);
    assert.throws(() => again.getRecord(b.key, { stage: "b", kind: "test" }), BadRecordError);
    // A manifest other than the stored one makes the reader hash the stored one, which checks.
    const other = CacheStore.open(dir);
    assert.deepEqual(other.getRecord(a.key, { kind: "other" })?.manifest, a.manifest);
    await other.close();
    await again.close();
  });

  it("a record whose blob is gone is a miss, so its stage reruns and replaces it", async () => {
    const store = CacheStore.open(tempDir());
    const bytes = Buffer.from("out");
    const r = record("a", [bytes]);
    store.commit(r, blobsOf([bytes]), { pipeline: "p", stage: "a" });
    store.remove([], [digestOf(bytes)]);
    assert.equal(store.getRecord(r.key), undefined);
    assert.equal(store.hasRecord(r.key), true);
    await store.close();
  });

  it("a first open that fails as LMDB does when processes race on a fresh cache is retried", async () => {
    let calls = 0;
    const flaky = ((options: Parameters<typeof open>[0]) => {
      if (++calls === 1) throw new Error("Invalid argument: No transaction to renew");
      return open(options);
    }) as typeof open;
    const store = CacheStore.open(tempDir(), { openEnv: flaky });
    assert.equal(calls, 2);
    assert.equal(store.recordCount(), 0);
    await store.close();
  });

  it("a cache LMDB cannot open is reported as damaged, with what to do", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "data.mdb"), Buffer.alloc(64 * 1024, 7));
    assert.throws(
      () => CacheStore.open(dir),
      (e: unknown) =>
        e instanceof Error &&
        (e as { code?: string }).code === "cache-corrupt" &&
        /data.mdb is not a readable LMDB file \(its first page is not a meta page\)/.test(
          e.message,
        ),
    );
  });

  it("verify (in a child process) drops a corrupt blob, every record naming it, damaged records and unnamed blobs", async () => {
    const dir = tempDir();
    const store = CacheStore.open(dir);
    const good = Buffer.from("good");
    const bad = Buffer.from("will rot");
    store.commit(record("g", [good]), blobsOf([good]), { pipeline: "p", stage: "g" });
    store.commit(record("b", [bad, good]), blobsOf([bad, good]), { pipeline: "p", stage: "b" });
    store.commit(record("d", [good]), blobsOf([good]), { pipeline: "p", stage: "d" });
    const orphan = Buffer.from("no record names me");
    store.importBlob(digestOf(orphan), orphan);
    await store.close();
    await tamper(dir, "blobs", digestOf(bad), Buffer.from("rotten!!"));
    await tamper(dir, "records", keyOf("d"), Buffer.from("{not json"));
    const report = await verifyCache(dir);
    assert.equal(report.unreadable, undefined);
    assert.deepEqual(report.corrupt, [digestOf(bad)]);
    assert.deepEqual(
      report.droppedRecords.map((r) => r.key),
      [keyOf("b")],
    );
    assert.deepEqual(
      report.damagedRecords.map((r) => r.key),
      [keyOf("d")],
    );
    assert.deepEqual(
      report.orphans.map((o) => o.digest),
      [digestOf(orphan)],
    );
    const after = CacheStore.open(dir);
    assert.equal(after.hasBlob(digestOf(bad)), false);
    assert.ok(after.getRecord(keyOf("g")));
    assert.deepEqual(
      [...after.allRecords()].map((r) => r.key),
      [keyOf("g")],
    );
    await after.close();
    const clean = await verifyCache(dir);
    assert.deepEqual(
      [clean.corrupt, clean.damagedRecords, clean.droppedRecords, clean.orphans],
      [[], [], [], []],
    );
  });

  it("verify --deep drops records whose outputs do not decode to what they say", async () => {
    const dir = tempDir();
    const store = CacheStore.open(dir);
    const a = Buffer.from("artifact a");
    const b = Buffer.from("artifact b");
    store.commit(record("a", [a]), blobsOf([a]), { pipeline: "p", stage: "a" });
    store.commit(record("b", [b]), blobsOf([b]), { pipeline: "p", stage: "b" });
    await store.close();
    const report = await verifyCache(dir, {
      deep: true,
      check: (bytes) => (bytes.toString().endsWith("b") ? "does not decode" : undefined),
    });
    assert.deepEqual(report.deep, {
      checked: 2,
      failed: [{ key: keyOf("b"), stage: "p/b", problem: 'output "o0" does not decode' }],
    });
    const after = CacheStore.open(dir);
    assert.deepEqual(
      [...after.allRecords()].map((r) => r.key),
      [keyOf("a")],
    );
    await after.close();
  });

  it("gc keeps what is kept and removes the rest with its unshared blobs", async () => {
    const store = CacheStore.open(tempDir());
    const shared = Buffer.from("shared");
    const lone = Buffer.from("lone blob");
    store.commit(record("keep", [shared]), blobsOf([shared]), { pipeline: "p", stage: "keep" });
    store.commit(record("drop", [shared, lone]), blobsOf([shared, lone]), {
      pipeline: "p",
      stage: "drop",
    });
    const keep = new Set([keyOf("keep")]);
    const dry = gc(store, { keep, dryRun: true });
    assert.equal(dry.removedRecords.length, 1);
    assert.equal([...store.allRecords()].length, 2, "a dry run removes nothing");
    const report = gc(store, { keep });
    assert.deepEqual(
      report.removedRecords.map((r) => r.key),
      [keyOf("drop")],
    );
    assert.deepEqual(
      report.freedBlobs.map((b) => b.digest),
      [digestOf(lone)],
    );
    assert.ok(store.hasBlob(digestOf(shared)));
    await store.close();
  });

  it("gc with caps removes old records first, and only until the cap holds", async () => {
    const store = CacheStore.open(tempDir());
    const day = 86_400_000;
    const now = Date.parse("2026-06-01T00:00:00Z");
    const mk = (k: string, ageDays: number, size: number) => {
      const b = Buffer.alloc(size, k);
      store.commit(record(k, [b], new Date(now - ageDays * day).toISOString()), blobsOf([b]), {
        pipeline: "p",
        stage: k,
      });
    };
    mk("old", 40, 100);
    mk("mid", 10, 100);
    mk("new", 1, 100);
    assert.deepEqual(
      gc(store, { maxAgeMs: 30 * day, now }).removedRecords.map((r) => r.provenance.stage),
      ["old"],
    );
    assert.deepEqual(
      gc(store, { maxSizeBytes: 150, now }).removedRecords.map((r) => r.provenance.stage),
      ["mid"],
    );
    assert.deepEqual(
      [...store.allRecords()].map((r) => r.provenance.stage),
      ["new"],
    );
    await store.close();
  });

  it("several processes writing one cache at once lose nothing and corrupt nothing", async () => {
    const dir = tempDir();
    const { spawn } = await import("node:child_process");
    const writer = join(import.meta.dirname, "writer.ts");
    const procs = [0, 1, 2, 3].map(
      (i) =>
        new Promise<number>((res) => {
          const child = spawn(process.execPath, [...nodeArgsFor(writer), dir, String(i), "60"], {
            stdio: "inherit",
          });
          child.on("close", (code) => res(code ?? -1));
        }),
    );
    assert.deepEqual(await Promise.all(procs), [0, 0, 0, 0]);
    const store = CacheStore.open(dir);
    const records = [...store.allRecords()];
    assert.equal(records.length, 4 * 60);
    for (const r of records)
      for (const o of Object.values(r.outputs))
        assert.ok(store.blobIsIntact(o.digest), `blob of ${r.key}`);
    // Blobs shared between writers are stored once.
    assert.equal([...store.allBlobDigests()].length, 4 * 60 + 10);
    await store.close();
  });
});

describe("verify and repair survive the death of their readers", () => {
  /** A cache of 12 records, each with a blob of its own; their keys and blob digests in LMDB's order. */
  async function built(): Promise<{ dir: string; blobs: string[] }> {
    const dir = tempDir();
    const store = CacheStore.open(dir);
    for (let i = 0; i < 12; i++) {
      const b = Buffer.from(`blob ${i} `.repeat(100));
      store.commit(record(`r${i}`, [b]), blobsOf([b]), { pipeline: "p", stage: `r${i}` });
    }
    const blobs = store.blobDigests();
    await store.close();
    return { dir, blobs };
  }
  const hex = (key: string) => Buffer.from(key).toString("hex");

  it("a scan that dies (as on a damaged page) is reported as unreadable, and nothing is dropped", async () => {
    const { dir } = await built();
    const report = await verifyCache(dir, { faults: { scan: true } });
    assert.match(
      report.unreadable!,
      /LMDB could not read it: the scan died with SIGSEGV while opening/,
    );
    const store = CacheStore.open(dir);
    assert.equal(store.recordCount(), 12);
    await store.close();
  });

  it("repair copies what it can read: a value that kills the reader is lost, a key the cursor dies past is stepped over", async () => {
    const { dir, blobs } = await built();
    // Blob 3 kills the reader; the page holding blobs 7 and 8 kills the cursor that reaches it.
    const report = await repairCache(dir, {
      faults: { table: "blobs", read: hex(blobs[3]!), range: [hex(blobs[6]!), hex(blobs[8]!)] },
    });
    const table = report.tables.find((t) => t.name === "blobs")!;
    assert.equal(table.lost, 1, JSON.stringify(table));
    assert.ok(table.skippedRanges >= 2, JSON.stringify(table));
    const copied = new Set(report.verify.orphans.map((o) => o.digest));
    assert.equal(copied.size, 0, "no copied blob is left unnamed");
    // Blobs 0-2, 4-6 are before the damage; past it, stepping loses at most what shares a prefix.
    assert.ok(table.copied >= 6 && table.copied <= 9, JSON.stringify(table));
    assert.equal(report.verify.droppedRecords.length, 12 - table.copied);
    assert.ok(report.damagedFile.endsWith("data.mdb"));
    const store = CacheStore.open(dir);
    assert.equal(store.recordCount(), table.copied);
    for (const r of store.allRecords()) assert.ok(store.getRecord(r.key), "every record servable");
    assert.deepEqual(
      store.blobDigests().filter((d) => !store.blobIsIntact(d)),
      [],
    );
    await store.close();
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith(".repair")),
      [],
    );
  });
});

describe("repair's key stepping", () => {
  it("steps just past a key, then past ever shorter prefixes of it, then gives up", () => {
    assert.equal(beyond("6162", 0), "616200");
    assert.equal(beyond("616263", 1), "616264");
    assert.equal(beyond("61626364", 2), "6163");
    assert.equal(beyond("61626364", 3), "62");
    assert.equal(beyond("61626364", 4), undefined);
    assert.equal(beyond("61ff", 1), "62", "carries");
    assert.equal(beyond("ffff", 1), undefined, "nothing follows");
  });
});

describe("records read in place", () => {
  it("a record read again is the one stored now: a new record under its key, or damage, is not served from what was read before", async () => {
    const { dir, a } = await twoRecords();
    const store = CacheStore.open(dir);
    const bytes = Buffer.from("out");
    assert.equal(store.getRecord(a.key)?.provenance.createdAt, a.provenance.createdAt);
    // A rerun (this process or another) files a new record under the same key.
    const rerun = { ...a, provenance: { ...a.provenance, createdAt: "2001-02-03T04:05:06.000Z" } };
    store.commit(rerun, blobsOf([bytes]), { pipeline: "p", stage: "a" });
    assert.equal(store.getRecord(a.key)?.provenance.createdAt, "2001-02-03T04:05:06.000Z");
    // Damage written behind the store's back after it read the record: reported, not served.
    await tamper(
      dir,
      "records",
      a.key,
      Buffer.from(JSON.stringify(rerun).replace('"stage":"a"}', '"stage":"z"}')),
    );
    assert.throws(() => store.getRecord(a.key), BadRecordError);
    await store.close();
  });

  it("a record read with the manifest the reader hashed holds that manifest (one copy kept, not two)", async () => {
    const { dir, a } = await twoRecords();
    const store = CacheStore.open(dir);
    const hashed = structuredClone(a.manifest);
    const read = store.getRecord(a.key, hashed)!;
    assert.equal(read.manifest, hashed);
    assert.deepEqual(read, a);
    await store.close();
  });

  it("a record read with the planner's manifest is still measured: params nested too deep are refused", async () => {
    const { dir, a } = await twoRecords();
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    const nested = { ...a, provenance: { ...a.provenance, params: { p: deep } } };
    await tamper(dir, "records", a.key, Buffer.from(JSON.stringify(nested)));
    const store = CacheStore.open(dir);
    assert.throws(
      () => store.getRecord(a.key, structuredClone(a.manifest)),
      (e) => e instanceof BadRecordError && /nested deeper than 64 levels/.test(e.message),
    );
    await store.close();
  });

  it("a blob lent in place is exactly its bytes, small (LMDB's shared buffer) or large (its map), read in any order", async () => {
    const store = CacheStore.open(tempDir());
    const small = Buffer.from("a small blob");
    const tiny = Buffer.from("x");
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    for (const b of [small, big, tiny])
      store.commit(record(`s${b.length}`, [b]), blobsOf([b]), { pipeline: "p", stage: "s" });
    // The small ones after the large one: the shared buffer has grown, its `length` is not its size.
    for (const b of [tiny, big, small, tiny]) {
      const seen = store.withBlob(digestOf(b), (bytes) => ({
        equal: Buffer.compare(bytes, b) === 0,
        byteLength: bytes.byteLength,
        digest: digestOf(bytes),
      }));
      assert.deepEqual(seen, { equal: true, byteLength: b.length, digest: digestOf(b) });
    }
    assert.equal(
      store.withBlob(digestOf(Buffer.from("never stored")), () => "called"),
      undefined,
    );
    await store.close();
  });

  it("a large blob (past LMDB's read buffer) is found by its key, and missed once removed", async () => {
    const store = CacheStore.open(tempDir());
    const big = Buffer.alloc(1 << 20, 7);
    const r = record("big", [big]);
    store.commit(r, blobsOf([big]), { pipeline: "p", stage: "big" });
    // And a blob filed after it, which a lookup that merely lands near the key would find.
    let i = 0;
    while (digestOf(Buffer.from(`after ${i}`)) < digestOf(big)) i++;
    const after = Buffer.from(`after ${i}`);
    store.commit(record("after", [after]), blobsOf([after]), { pipeline: "p", stage: "after" });
    assert.equal(r.outputs.o0!.size, big.length);
    assert.deepEqual(store.getRecord(r.key), r);
    assert.equal(store.hasBlob(digestOf(big), big.length), true);
    store.remove([], [digestOf(big)]);
    assert.equal(store.hasBlob(digestOf(big), big.length), false);
    assert.equal(store.getRecord(r.key), undefined);
    await store.close();
  });
});
