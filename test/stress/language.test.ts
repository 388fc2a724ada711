import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { anyInput, campaign, report } from "../lang/fuzz.js";

/**
 * The language fuzzer's long run (`npm run stress`): minutes of inputs from every family, every
 * failure collected and reported with its count and shortest input. RNNP_STRESS_SECONDS sets the
 * length (default 300); the seed is printed, so a finding can be replayed.
 */
const SECONDS = Number(process.env.RNNP_STRESS_SECONDS ?? 300);
const SEED = Number(process.env.RNNP_STRESS_SEED ?? Date.now() % 2 ** 31);

describe("language fuzzer (long run)", () => {
  it(`parse, check, plan, render and fmt never fail on ${SECONDS} s of hostile input`, (t) => {
    const { stats, findings, wallMs } = campaign(anyInput, SECONDS, SEED);
    t.diagnostic(`seed ${SEED}: ${report(stats, wallMs)}`);
    const found = [...findings].map(
      ([what, f]) => `${f.count} x ${what}\n  shortest input: ${JSON.stringify(f.smallest)}`,
    );
    assert.deepEqual(found, []);
    assert.ok(stats.inputs > 0);
  });
});
