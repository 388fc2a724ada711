// synth.task: the adding problem and the copy task, as Hochreiter & Schmidhuber (1997) define them,
// seeded; every part from its own stream; bad sizes rejected with the parameter named.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import { kinds } from "../../src/kinds/registry.js";
import type { AnyKind } from "../../src/stages/kind.js";
import { runKind } from "./helpers.js";

const run = async (params: Record<string, unknown>, seed = 3) =>
  (await runKind("synth.task", ".", {}, params, seed)) as unknown as Record<string, SequenceSet>;

describe("synth.task", () => {
  it("adding: two features per step, one marker in each half, the target their values' sum", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 9 }),
        async (T, n) => {
          const { train } = await run({ task: "adding", length: T, train: n, val: 1, test: 1 });
          assert.deepEqual(train!.shape, [n, T, 2]);
          assert.equal(train!.input, "features");
          const y = (train!.target as { y: Float32Array }).y;
          const x = train!.x as Float32Array;
          for (let i = 0; i < n; i++) {
            const marked = [];
            for (let t = 0; t < T; t++) {
              const [v, m] = [x[(i * T + t) * 2]!, x[(i * T + t) * 2 + 1]!];
              assert.ok(v >= 0 && v < 1);
              assert.ok(m === 0 || m === 1);
              if (m === 1) marked.push([t, v] as const);
            }
            assert.equal(marked.length, 2, `sequence ${i}: two markers`);
            assert.ok(marked[0]![0] < Math.floor(T / 2) && marked[1]![0] >= Math.floor(T / 2));
            assert.equal(y[i], Math.fround(marked[0]![1] + marked[1]![1]));
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("copy: letters, blanks, the go mark, and the letters again as the only scored targets", async () => {
    const { train } = await run({
      task: "copy",
      length: 11,
      symbols: 3,
      alphabet: 4,
      train: 50,
      val: 1,
      test: 1,
    });
    assert.deepEqual(train!.shape, [50, 11]);
    const x = train!.x as Int32Array;
    const target = train!.target as { y: Int32Array; tokens: string[] };
    assert.deepEqual(target.tokens, ["<pad>", "<unk>", "-", ":", "a", "b", "c", "d"]);
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const row = [...x.slice(i * 11, i * 11 + 11)];
      const want = [...target.y.slice(i * 11, i * 11 + 11)];
      const letters = row.slice(0, 3);
      for (const l of letters) {
        assert.ok(l >= 4 && l < 8);
        seen.add(l);
      }
      assert.deepEqual(row.slice(3), [2, 2, 2, 2, 3, 2, 2, 2], "blanks, go at T - k - 1, blanks");
      assert.deepEqual(want, [0, 0, 0, 0, 0, 0, 0, 0, ...letters], "only the last k steps scored");
    }
    assert.equal(seen.size, 4, "every letter of the alphabet drawn");
  });

  it("is seeded, and each part has its own stream", async () => {
    const p = { task: "adding", length: 6, train: 4, val: 2, test: 2 };
    const [a, b, c] = [await run(p, 1), await run(p, 1), await run(p, 2)];
    assert.deepEqual(a.train!.x, b.train!.x);
    assert.notDeepEqual(a.train!.x, c.train!.x);
    const more = await run({ ...p, train: 40 }, 1);
    assert.deepEqual(more.val!.x, a.val!.x, "more training sequences leave val as it was");
  });

  it("rejects a copy task too short for its letters, and parts too large for one array", () => {
    const kind = kinds.get("synth.task") as AnyKind;
    const defaults = (extra: Record<string, unknown>) => ({
      train: 2000,
      val: 200,
      test: 1000,
      symbols: 5,
      alphabet: 8,
      ...extra,
    });
    const short = kind.check!(defaults({ task: "copy", length: 10 }), undefined as never);
    assert.deepEqual(
      short.map((p) => [p.param, p.message, p.hint]),
      [
        [
          "length",
          "the copy task needs at least 2 x symbols + 1 = 11 steps (the letters, the go mark, the letters again), not 10",
          "length: 11, or fewer symbols",
        ],
      ],
    );
    const big = kind.check!(
      defaults({ task: "adding", length: 1000, train: 1e6 }),
      undefined as never,
    );
    assert.deepEqual(
      big.map((p) => [p.param, p.code]),
      [["train", "too-large"]],
    );
  });
});
