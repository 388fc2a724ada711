import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { CacheStore } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";
import { tempDir } from "../helpers.js";
import { nodeArgsFor } from "../fixtures/node-args.js";
import { fakeRecord } from "./records.js";

const record = (name: string, blob: Uint8Array) => fakeRecord(name, { o: blob });

// LMDB sets lock.mdb's transaction counter from the meta page it read when it started opening, so
// an open during another process's commit moved the counter back and a later commit overwrote a
// newer one (a record lost). Opening, closing and every write therefore hold the cache lock
// (lockCache in store.ts); test/stress/cache-faults.test.ts races opens and commits for real.
describe("the cache lock", () => {
  it("is held by this process while LMDB opens the environment and while it closes it, then removed", async () => {
    const dir = join(tempDir(), "cache");
    const lock = join(dir, "cache.lock");
    const seen: string[] = [];
    const spy = ((options: Parameters<typeof open>[0]) => {
      seen.push(existsSync(lock) ? readFileSync(lock, "utf8") : "no lock");
      const root = open(options);
      const close = root.close.bind(root);
      root.close = () => {
        seen.push(existsSync(lock) ? readFileSync(lock, "utf8") : "no lock");
        return close();
      };
      return root;
    }) as typeof open;
    const store = CacheStore.open(dir, { openEnv: spy });
    assert.equal(existsSync(lock), false);
    await store.close();
    assert.deepEqual(seen, [String(process.pid), String(process.pid)]);
    assert.equal(existsSync(lock), false);
  });

  it("every write transaction holds it (commit, import, remove, sweep, leases, checks, stats)", async () => {
    const dir = join(tempDir(), "cache");
    const lock = join(dir, "cache.lock");
    const held: string[] = [];
    const spy = ((options: Parameters<typeof open>[0]) => {
      const root = open(options);
      const write = root.transactionSync.bind(root);
      root.transactionSync = ((fn: () => unknown) => {
        held.push(existsSync(lock) ? readFileSync(lock, "utf8") : "no lock");
        return write(fn);
      }) as typeof root.transactionSync;
      return root;
    }) as typeof open;
    const store = CacheStore.open(dir, { openEnv: spy });
    const blob = Buffer.from("bytes");
    const r = record("s", blob);
    store.commit(r, new Map([[digestOf(blob), blob]]), { pipeline: "p", stage: "s" });
    store.importBlob(digestOf(Buffer.from("other")), Buffer.from("other"));
    store.importRecords([r]);
    const lease = { pid: process.pid, host: "h", token: "t", expiresAt: Date.now() + 1000 };
    store.tryLease(r.key, lease);
    store.renewLease(r.key, lease);
    store.releaseLease(r.key, "t");
    store.recordCheck(r.key, { checkedAt: "now", runs: 1, identical: true, differing: [] });
    store.putStats([
      [
        "/x",
        {
          size: 1,
          mtimeNs: "1",
          ctimeNs: "1",
          ino: "1",
          dev: "1",
          digest: r.outputs.o!.digest,
          hashedAtNs: "1",
        },
      ],
    ]);
    store.removeAndSweep([]);
    store.remove([r.key], []);
    assert.equal(existsSync(lock), false, "released after each write");
    await store.close();
    // Writes inside open (LMDB creating the tables) are not counted: they hold it by opening.
    assert.deepEqual(held.slice(-10), Array(10).fill(String(process.pid)));
  });

  it("a commit waits while a live process holds it", async () => {
    const dir = join(tempDir(), "cache");
    const store = CacheStore.open(dir);
    const lock = join(dir, "cache.lock");
    const holder = spawn("sh", ["-c", `sleep 1.5; rm -f "$1"`, "sh", lock], { stdio: "ignore" });
    const released = new Promise((r) => holder.on("close", r));
    writeFileSync(lock, String(holder.pid));
    const started = Date.now();
    const blob = Buffer.from("bytes");
    store.commit(record("s", blob), new Map([[digestOf(blob), blob]]));
    const waited = Date.now() - started;
    await released;
    assert.ok(waited >= 1000, `the commit went on after ${waited} ms while the lock was held`);
    assert.equal(store.recordCount(), 1);
    await store.close();
  });

  for (const signal of ["SIGKILL", "SIGINT"] as const)
    it(`a holder killed by ${signal} (${signal === "SIGINT" ? "Ctrl-C" : "kill -9"}) does not block the next open`, async () => {
      const dir = join(tempDir(), "cache");
      mkdirSync(dir);
      const child = spawn(
        process.execPath,
        [...nodeArgsFor(join(import.meta.dirname, "lock-holder.ts")), dir],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
      assert.equal(readFileSync(join(dir, "cache.lock"), "utf8"), String(child.pid));
      const gone = new Promise((r) => child.on("close", r));
      child.kill(signal);
      await gone;
      const started = Date.now();
      const store = CacheStore.open(dir);
      assert.ok(Date.now() - started < 5000, "taken over at once");
      assert.equal(store.recordCount(), 0);
      await store.close();
      assert.equal(existsSync(join(dir, "cache.lock")), false);
    });

  it("one left by a dead process is taken over", async () => {
    const dir = join(tempDir(), "cache");
    mkdirSync(dir);
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    writeFileSync(join(dir, "cache.lock"), dead.stdout.toString());
    const store = CacheStore.open(dir);
    assert.equal(store.recordCount(), 0);
    await store.close();
    assert.equal(existsSync(join(dir, "cache.lock")), false);
  });

  it("an open waits while a live process holds it, until that process releases it", async () => {
    const dir = join(tempDir(), "cache");
    mkdirSync(dir);
    const lock = join(dir, "cache.lock");
    // A live holder that releases the lock after 1.5 s (the shell's pid is the holder's).
    const holder = spawn("sh", ["-c", `sleep 1.5; rm -f "$1"`, "sh", lock], { stdio: "ignore" });
    const released = new Promise((r) => holder.on("close", r));
    writeFileSync(lock, String(holder.pid));
    const started = Date.now();
    const store = CacheStore.open(dir);
    const waited = Date.now() - started;
    await released;
    assert.ok(waited >= 1000, `the open went on after ${waited} ms while the lock was held`);
    assert.equal(store.recordCount(), 0);
    await store.close();
    assert.equal(existsSync(lock), false);
  });
});
