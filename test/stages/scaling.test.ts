import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fitScaling } from "../../src/data/scaling.js";

/** The statistics as first written: copy out the values, drop NaNs, reduce in row order. */
function reference(values: number[], method: "zscore" | "minmax") {
  const xs = values.filter((v) => !Number.isNaN(v));
  if (method === "zscore") {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / xs.length);
    return { method, center: mean, scale: sd > 0 ? sd : 1 };
  }
  const lo = xs.reduce((a, b) => Math.min(b, a));
  const hi = xs.reduce((a, b) => Math.max(b, a));
  return { method, center: lo, scale: hi > lo ? hi - lo : 1 };
}

describe("fitScaling", () => {
  const value = fc.oneof(
    fc.double({ noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    fc.constantFrom(NaN, 0, -0, 1, 0.1),
  );
  it("gives the bit-exact statistics of a copy-and-reduce, reading one feature of interleaved steps in place", () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom("zscore" as const, "minmax" as const),
        (xs, stride, at, method) => {
          const offset = at % stride;
          const picked = xs.filter((_, i) => i % stride === offset);
          const f32 = Float32Array.from(xs);
          const picked32 = Array.from(f32).filter((_, i) => i % stride === offset);
          if (picked.every(Number.isNaN)) {
            assert.throws(() => fitScaling(xs, method, "v", { offset, stride }), /no values/);
            return;
          }
          assert.deepEqual(
            fitScaling(xs, method, "v", { offset, stride }),
            reference(picked, method),
          );
          assert.deepEqual(
            fitScaling(f32, method, "v", { offset, stride }),
            reference(picked32, method),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
  it("keeps which zero is the minimum", () => {
    assert.ok(Object.is(fitScaling([0, -0], "minmax", "v").center, -0));
    assert.ok(Object.is(fitScaling([-0, 0], "minmax", "v").center, -0));
  });
});
