import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { CacheStore } from "../../src/cache/store.js";
import { tempDir } from "../helpers.js";

// LMDB's first process to open an environment initialises lock.mdb and its last to close destroys
// its mutexes; a process opening meanwhile could write beside another writer (a record was lost).
// Opening and closing therefore hold the cache's open lock (see lockOpening in store.ts).
describe("the cache's open lock", () => {
  it("is held by this process while LMDB opens the environment and while it closes it, then removed", async () => {
    const dir = join(tempDir(), "cache");
    const lock = join(dir, "open.lock");
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

  it("one left by a dead process is taken over", async () => {
    const dir = join(tempDir(), "cache");
    mkdirSync(dir);
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    writeFileSync(join(dir, "open.lock"), dead.stdout.toString());
    const store = CacheStore.open(dir);
    assert.equal(store.recordCount(), 0);
    await store.close();
    assert.equal(existsSync(join(dir, "open.lock")), false);
  });

  it("an open waits while a live process holds it, until that process releases it", async () => {
    const dir = join(tempDir(), "cache");
    mkdirSync(dir);
    const lock = join(dir, "open.lock");
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
