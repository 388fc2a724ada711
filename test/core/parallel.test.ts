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
    const started: number[] = [];
    let settled = 0;
    await assert.rejects(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
        started.push(i);
        await tick(i === 1 ? 1 : 10);
        settled++;
        if (i === 1) throw new Error("call 1 failed");
        return i;
      }),
      /call 1 failed/,
    );
    assert.deepEqual(started, [0, 1]);
    assert.equal(settled, 2);
  });

  it("handles no items", async () => {
    assert.deepEqual(await mapLimit([], 4, async () => 1), []);
  });
});
