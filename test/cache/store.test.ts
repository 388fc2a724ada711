import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { digestOf, type StageKey } from "../../src/core/digest.js";
import { gc, verify } from "../../src/cache/maintenance.js";
import type { StageRecord } from "../../src/cache/record.js";
import { CacheStore } from "../../src/cache/store.js";
import { tempDir } from "../helpers.js";

function record(
  key: string,
  blobs: Uint8Array[],
  createdAt = new Date().toISOString(),
): StageRecord<unknown> {
  return {
    key: key.padEnd(64, "0") as StageKey,
    kind: "test",
    outputs: Object.fromEntries(
      blobs.map((b, i) => [
        `o${i}`,
        { digest: digestOf(b), size: b.length, type: "table", summary: "" },
      ]),
    ),
    manifest: { k: key },
    inputsFrom: {},
    provenance: {
      pipeline: "p",
      file: "p.rnnp",
      stage: key,
      createdAt,
      durationMs: 1,
      rnnpVersion: "test",
    },
  };
}

const blobsOf = (bs: Uint8Array[]) => new Map(bs.map((b) => [digestOf(b), b]));

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
    assert.equal(store.getRecord<unknown>(record("a", []).key)?.kind, "test");
    await store.close();
  });

  it("a commit that throws after writing blobs leaves nothing behind", async () => {
    const store = CacheStore.open(tempDir());
    const bytes = Buffer.from("written first");
    const r = record("bad", [bytes]);
    // The record cannot be encoded: the throw comes after the blob was put in the same transaction.
    Object.defineProperty(r.provenance, "stage", {
      enumerable: true,
      get: () => {
        throw new Error("encoding failed");
      },
    });
    assert.throws(
      () => store.commit(r, blobsOf([bytes]), { pipeline: "p", stage: "bad" }),
      /encoding failed/,
    );
    assert.equal(store.hasBlob(digestOf(bytes)), false);
    assert.equal(store.getRecord(r.key), undefined);
    assert.deepEqual(store.historyOf("p", "bad"), []);
    await store.close();
  });

  it("refuses a record naming a blob it neither has nor is given", async () => {
    const store = CacheStore.open(tempDir());
    assert.throws(
      () =>
        store.commit(record("x", [Buffer.from("absent")]), new Map(), {
          pipeline: "p",
          stage: "x",
        }),
      /neither given nor stored/,
    );
    assert.equal([...store.allRecords()].length, 0);
    await store.close();
  });

  it("keeps a history of keys per stage, newest first", async () => {
    const store = CacheStore.open(tempDir());
    for (const k of ["k1", "k2", "k1"])
      store.commit(record(k, []), new Map(), { pipeline: "p", stage: "s" });
    assert.deepEqual(
      store.historyOf("p", "s").map((k) => k.slice(0, 2)),
      ["k1", "k2"],
    );
    await store.close();
  });

  it("verify finds a corrupt blob, drops it and every record naming it", async () => {
    const dir = tempDir();
    const store = CacheStore.open(dir);
    const good = Buffer.from("good");
    const bad = Buffer.from("will rot");
    store.commit(record("g", [good]), blobsOf([good]), { pipeline: "p", stage: "g" });
    store.commit(record("b", [bad, good]), blobsOf([bad, good]), { pipeline: "p", stage: "b" });
    // Corrupt the bytes behind the store's back, as a disk fault would.
    const raw = open({ path: dir, maxDbs: 8 });
    const blobs = raw.openDB({ name: "blobs", encoding: "binary" });
    await blobs.put(digestOf(bad), Buffer.from("rotten!!"));
    await raw.close();
    const report = verify(store);
    assert.deepEqual(report.corrupt, [digestOf(bad)]);
    assert.deepEqual(
      report.droppedRecords.map((r) => r.key.slice(0, 1)),
      ["b"],
    );
    assert.equal(store.hasBlob(digestOf(bad)), false);
    assert.ok(store.getRecord(record("g", []).key));
    assert.deepEqual(verify(store).corrupt, []);
    await store.close();
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
    const keep = new Set([record("keep", []).key]);
    const dry = gc(store, { keep, dryRun: true });
    assert.equal(dry.removedRecords.length, 1);
    assert.equal([...store.allRecords()].length, 2, "a dry run removes nothing");
    const report = gc(store, { keep });
    assert.deepEqual(
      report.removedRecords.map((r) => r.key.slice(0, 4)),
      ["drop"],
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
      gc(store, { maxAgeMs: 30 * day, now }).removedRecords.map((r) => r.key.slice(0, 3)),
      ["old"],
    );
    assert.deepEqual(
      gc(store, { maxSizeBytes: 150, now }).removedRecords.map((r) => r.key.slice(0, 3)),
      ["mid"],
    );
    assert.deepEqual(
      [...store.allRecords()].map((r) => r.key.slice(0, 3)),
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
          const child = spawn(process.execPath, ["--import", "tsx", writer, dir, String(i), "60"], {
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
