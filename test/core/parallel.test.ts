import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapLimit } from "../../src/core/parallel.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mapLimit", () => {
  it("keeps the items' order when calls finish out of order, and never runs more than the limit", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([30, 5, 20, 1, 10, 2], 3, async (ms, i) => {
      most = Math.max(most, ++running);
      await tick(ms);
      running--;
      return `${i}:${ms}`;
    });
    assert.deepEqual(out, ["0:30", "1:5", "2:20", "3:1", "4:10", "5:2"]);
    assert.equal(most, 3);
  });

  it("starts nothing after a failure and throws it once the running calls have settled", async () => {
    // Gates, not timers: which call ends first is the test's to say, however loaded the machine.
    let failOne!: () => void;
    let finishZero!: () => void;
    const oneFails = new Promise<void>((r) => (failOne = r));
    const zeroEnds = new Promise<void>((r) => (finishZero = r));
    const started: number[] = [];
    let settled = 0;
    const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await (i === 1 ? oneFails : zeroEnds);
      settled++;
      if (i === 1) throw new Error("call 1 failed");
      return i;
    });
    let thrown = false;
    run.catch(() => (thrown = true));
    failOne();
    await new Promise((r) => setImmediate(r)); // call 1 has failed, and mapLimit has seen it
    assert.equal(thrown, false, "thrown before call 0 settled");
    finishZero();
    await assert.rejects(run, /call 1 failed/);
    assert.deepEqual(started, [0, 1]);
    assert.equal(settled, 2);
  });

  it("handles no items", async () => {
    assert.deepEqual(await mapLimit([], 4, async () => 1), []);
  });
});
