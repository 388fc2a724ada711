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
 * A short run of the language fuzzer (fuzz.ts): a fixed number of inputs per family (a few seconds
 * on an idle machine, never a time limit that a busy one would miss); `npm run stress` runs it for
 * minutes (test/stress/language.test.ts). fast-check prints the seed of any failure.
 */
describe("language fuzzer (short run)", () => {
  for (const [family, arb, runs] of [
    ["token soups", tokenSoup, 400],
    ["grammar-shaped pipelines", grammarPipeline, 150],
    ["mutated example pipelines", mutatedExample, 200],
    ["all families mixed", anyInput, 150],
  ] as const) {
    it(`${family}: a placed diagnostic or success, no exception, no pollution, in time`, (t) => {
      const stats: FuzzStats = { inputs: 0, ms: 0, slowestMs: 0, valid: 0 };
      const start = performance.now();
      fc.assert(fc.property(arb, fuzzOne(stats)), { numRuns: runs });
      t.diagnostic(report(stats, performance.now() - start));
      assert.equal(stats.inputs, runs);
    });
  }
});
