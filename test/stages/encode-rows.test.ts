import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeIds, idRows, textIds } from "../../src/kinds/encode.js";

/** Padding and truncation as first written, over one JS array per row. */
function reference(
  seqs: number[][],
  T: number,
  pad: "pre" | "post",
  truncate: "pre" | "post",
  V: number,
  oneHot: boolean,
) {
  const x = oneHot ? new Float32Array(seqs.length * T * V) : new Int32Array(seqs.length * T);
  const lengths = new Int32Array(seqs.length);
  seqs.forEach((s, i) => {
    const kept = s.length <= T ? s : truncate === "pre" ? s.slice(s.length - T) : s.slice(0, T);
    lengths[i] = kept.length;
    const offset = pad === "pre" ? T - kept.length : 0;
    kept.forEach((id, j) => {
      if (oneHot) x[(i * T + offset + j) * V + id] = 1;
      else x[i * T + offset + j] = id;
    });
  });
  return { x, lengths };
}

describe("packed id rows", () => {
  it("pack each text's ids in order, and pad and truncate as one array per row did, packed or made row by row", () => {
    const V = 7;
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 40 }), {
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom("pre" as const, "post" as const),
        fc.constantFrom("pre" as const, "post" as const),
        fc.boolean(),
        (seqs, T, pad, truncate, oneHot) => {
          const texts = seqs.map((_, i) => String(i));
          const rows = idRows(texts, (t) => seqs[Number(t)]!);
          assert.deepEqual(Array.from(rows.ids), seqs.flat());
          assert.equal(rows.starts.length, seqs.length + 1);
          const tokens = Array.from({ length: V }, (_, i) => `t${i}`);
          const e = { maxLen: T, pad, truncate, oneHot };
          const got = encodeIds(rows, { ...e, tokens } as Parameters<typeof encodeIds>[1], {
            tokens,
          });
          const want = reference(seqs, T, pad, truncate, V, oneHot);
          assert.deepEqual(got.x, want.x);
          assert.deepEqual(got.lengths, want.lengths);
          const direct = encodeIds(
            textIds(texts, (t) => seqs[Number(t)]!),
            { ...e, tokens } as Parameters<typeof encodeIds>[1],
            { tokens },
          );
          assert.deepEqual(direct.x, want.x);
          assert.deepEqual(direct.lengths, want.lengths);
        },
      ),
      { numRuns: 300 },
    );
  });
});
