import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  anyInput,
  type FuzzStats,
  fuzzOne,
  grammarPipeline,
  mutatedExample,
  report,
  tokenSoup,
} from "./fuzz.js";

/**
 * A short run of the language fuzzer (fuzz.ts), a few seconds per family; `npm run stress` runs it
 * for minutes (test/stress/language.test.ts).
 */
const SECONDS = 1.5;

describe("language fuzzer (short run)", () => {
  for (const [family, arb] of [
    ["token soups", tokenSoup],
    ["grammar-shaped pipelines", grammarPipeline],
    ["mutated example pipelines", mutatedExample],
  ] as const) {
    it(`${family}: a placed diagnostic or success, no exception, no pollution, in time`, (t) => {
      const stats: FuzzStats = { inputs: 0, ms: 0, slowestMs: 0, valid: 0 };
      const start = performance.now();
      fc.assert(fc.property(arb, fuzzOne(stats)), {
        numRuns: 1_000_000,
        interruptAfterTimeLimit: SECONDS * 1000,
        markInterruptAsFailure: false,
      });
      t.diagnostic(report(stats, performance.now() - start));
      assert.ok(stats.inputs >= 50, `only ${stats.inputs} inputs ran`);
    });
  }

  it("the families mix in one property", () => {
    const stats: FuzzStats = { inputs: 0, ms: 0, slowestMs: 0, valid: 0 };
    fc.assert(fc.property(anyInput, fuzzOne(stats)), { numRuns: 100 });
    assert.equal(stats.inputs, 100);
  });
});
