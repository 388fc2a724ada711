import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { count, type SequenceSet } from "../artifacts/sequences.js";

export const bucket = defineKind({
  name: "bucket",
  // 2: the same bytes as version 1 always meant, under new keys. Between a98d878 and 19c8070 the
  // codec decoded objects in the writer's key order, and bucket (which spreads its decoded input)
  // wrote other bytes under version 1's keys; a cache filled then would serve them.
  version: 2,
  doc: "Groups sequences of similar length into batches, so each batch is padded only to its own longest sequence. Equal lengths are ordered by a seeded draw, so batches differ between seeds but not between runs.",
  params: {
    batchSize: p
      .int("Sequences per batch (train uses these batches; its own batchSize is ignored).", {
        min: 1,
      })
      .default(32),
  },
  inputs: { data: { type: "sequences", doc: "Sequences, or a split of them.", bundle: true } },
  outputs: { mirror: "data" },
  outputType: "sequences",
  random: true,
  backendDependent: false,
  describe: (_params, inputs) => {
    const info = inputs.data;
    return info ? { ...info, batched: true } : undefined;
  },
  run(ctx, inputs, params) {
    const out: Record<string, SequenceSet> = {};
    for (const [name, s] of inputs.data) {
      const n = count(s);
      const random = ctx.rng(`bucket:${name}`);
      const tie = Float64Array.from({ length: n }, () => random());
      const order = Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => s.lengths[a]! - s.lengths[b]! || tie[a]! - tie[b]! || a - b,
      );
      const batches: Int32Array[] = [];
      for (let i = 0; i < n; i += params.batchSize)
        batches.push(Int32Array.from(order.slice(i, i + params.batchSize)));
      const T = s.shape[1]!;
      const padded = n * T;
      const kept = batches.reduce(
        (a, b) => a + b.length * Math.max(...Array.from(b, (i) => s.lengths[i]!)),
        0,
      );
      if (n)
        ctx.log(
          `${name}: ${batches.length} batches; padding cut from ${(100 * (1 - s.lengths.reduce((a, b) => a + b, 0) / padded)).toFixed(0)}% to ${(100 * (1 - s.lengths.reduce((a, b) => a + b, 0) / kept)).toFixed(0)}% of steps`,
        );
      out[name] = { ...s, batches };
    }
    return out;
  },
});
