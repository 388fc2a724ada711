import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { concurrentRuns, flipCaches, killRuns, training } from "./faults.js";

// A few cases of each fault; `npm run stress` runs the long versions (test/stress/cache-faults.test.ts).
describe("faults, briefly", () => {
  it("SIGKILL at 3 moments of a training run: reruns, frozen runs and verify all pass", async () => {
    // 600 names, not the stress suite's 1,500: the same stages, epochs and checkpoints, and each of
    // the 7 runs (a reference, 3 killed, 3 reruns) shorter.
    const stats = await killRuns(3, seedrandom("kills"), training(600));
    assert.deepEqual(stats.failures, []);
    assert.equal(stats.kills, 3);
  });

  it("byte flips in 6 copies of an LMDB file: verify and repair never crash, no wrong byte is served", async () => {
    const stats = await flipCaches(6, seedrandom("flips"));
    assert.deepEqual(stats.failures, []);
    assert.equal(stats.trials, 6);
  });

  it("8 runs at once on one empty cache, writing the lock and not: each stage computed once", async () => {
    for (const withLock of [true, false]) {
      const stats = await concurrentRuns(8, 1, withLock);
      assert.deepEqual(stats.failures, [], `with${withLock ? "" : "out"} the lock`);
      assert.equal(stats.processes, 8);
    }
  });
});
