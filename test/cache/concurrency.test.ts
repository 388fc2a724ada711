import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CacheStore } from "../../src/cache/store.js";
import { tempDir } from "../helpers.js";
import { failures, together } from "./processes.js";

describe("processes at once", () => {
  it("8 processes rewriting one lockfile 40 times each: no failed rename, a whole lock, no temporary file left", async () => {
    // 40 (it was 150) still fails 3 times in 3 when the writers share one temporary name.
    const dir = tempDir();
    const lock = join(dir, "p.lock");
    const ends = await together("lock-writer.ts", 8, (i) => [lock, String(i), "40"]);
    assert.deepEqual(failures(ends), []);
    const last = JSON.parse(readFileSync(lock, "utf8")) as { pipeline: string; rnnp: string };
    assert.match(last.pipeline, /^writer [0-7]$/);
    assert.deepEqual(readdirSync(dir), ["p.lock"]);
  });

  it("8 processes opening one fresh cache at the same moment, then committing: all succeed, nothing lost", async () => {
    for (let round = 0; round < 3; round++) {
      const dir = join(tempDir(), "cache");
      const ends = await together("opener.ts", 8, (i) => [dir, String(i)]);
      assert.deepEqual(failures(ends), [], `round ${round}`);
      const store = CacheStore.open(dir);
      assert.equal([...store.allRecords()].length, 8);
      await store.close();
    }
  });
});
