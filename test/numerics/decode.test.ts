import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LayersModel, Tensor } from "../../src/runtime/tfjs.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { decode, type inferenceModels } from "../../src/numerics/seq2seq.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";

// Target vocabulary: 0 <pad>, 1 <unk>, 2 <bos>, 3 <eos>, then a, b, c.
const [BOS, EOS, A, B, C] = [2, 3, 4, 5, 6];
type Next = Partial<Record<number, number>>;

/**
 * Scripted decoders: each example's first input token picks a script, which gives the next-token
 * distribution from the previous token and the step. States carry (script, step).
 */
const SCRIPTS: Record<number, (prev: number, t: number) => Next> = {
  // Greedy takes `a` (0.6) even though <eos> (0.3) is the runner-up, then ends.
  1: (prev) => (prev === BOS ? { [A]: 0.6, [EOS]: 0.3, [B]: 0.1 } : { [EOS]: 0.9, [C]: 0.1 }),
  // Greedy finds a,a (p 0.175); a beam of 2 also keeps b and finds b (p 0.36).
  2: (prev, t) =>
    prev === BOS
      ? { [A]: 0.5, [B]: 0.4, [EOS]: 0.1 }
      : prev === B
        ? { [EOS]: 0.9, [C]: 0.1 }
        : t === 1
          ? { [A]: 0.35, [B]: 0.35, [C]: 0.3 }
          : { [EOS]: 1 },
  // Padding and <bos> are never emitted, however likely.
  3: (prev) => (prev === BOS ? { 0: 0.4, [BOS]: 0.3, [C]: 0.3 } : { [EOS]: 1 }),
};

function scripted(tf: TF): ReturnType<typeof inferenceModels> {
  const encoder = {
    apply: (x: Tensor) =>
      tf.tidy(() =>
        tf.concat(
          [tf.cast(tf.slice(x, [0, 0], [-1, 1]), "float32"), tf.zeros([x.shape[0]!, 1])],
          1,
        ),
      ),
  };
  const step = {
    apply: ([tok, state]: Tensor[]) => {
      const prev = tok!.dataSync();
      const s = state!.arraySync() as number[][];
      const probs = s.map(([script, t], r) => {
        const next = SCRIPTS[script!]!(prev[r]!, t!);
        return Array.from({ length: 7 }, (_, id) => next[id] ?? 0);
      });
      return [tf.tensor2d(probs), tf.tensor2d(s.map(([script, t]) => [script!, t! + 1]))];
    },
  };
  return {
    encoder: encoder as unknown as LayersModel,
    step: step as unknown as LayersModel,
    cell: "gru",
    size: 2,
  };
}

describe("decode (greedy and beam search)", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const run = (scripts: number[], beam: number) =>
    decode(tf, scripted(tf), Int32Array.from(scripts.flatMap((s) => [s, 0])), [scripts.length, 2], {
      bos: BOS,
      eos: EOS,
      maxLen: 6,
      beam,
    });

  it("greedy follows the likeliest token and stops only when <eos> is the likeliest", () => {
    assert.deepEqual(run([1], 1), [[A]]);
    assert.deepEqual(run([2], 1), [[A, A]]);
  });

  it("a beam finds a likelier sequence than greedy; a batch decodes each example on its own", () => {
    assert.deepEqual(run([2], 2), [[B]]);
    assert.deepEqual(run([1, 2, 1], 2), [[A], [B], [A]]);
    assert.deepEqual(run([2, 1], 3), [[B], [A]]);
  });

  it("never emits padding or <bos>", () => {
    assert.deepEqual(run([3], 1), [[C]]);
    assert.deepEqual(run([3, 3], 2), [[C], [C]]);
  });
});
