import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalJson, type Json } from "../../src/core/canonical.js";
import type { StageRecord } from "../../src/cache/record.js";
import type { StageKey } from "../../src/core/digest.js";
import { lockEntry, sortKeys } from "../../src/plan/lockfile.js";
import type { Fingerprint } from "../../src/plan/fingerprint.js";

const recordOf = (manifest: Json): StageRecord<Fingerprint> => ({
  key: "k".repeat(64) as StageKey,
  kind: "test",
  outputs: {},
  manifest: manifest as unknown as Fingerprint,
  inputsFrom: {},
  provenance: {
    pipeline: "p",
    file: "p.rnnp",
    stage: "s",
    createdAt: "2026-11-30T00:00:00.000Z",
    durationMs: 1,
    rnnpVersion: "test",
  },
});

describe("lock entries", () => {
  it("a manifest written from its canonical text is the record's sorted, byte for byte (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (m) => {
        const record = recordOf(m as Json);
        const fromText = lockEntry(record, canonicalJson(m));
        const sorted = lockEntry(record);
        assert.equal(JSON.stringify(fromText, null, 2), JSON.stringify(sorted, null, 2));
        assert.equal(
          JSON.stringify(fromText.manifest),
          JSON.stringify(sortKeys(m as Json)),
          "the same keys in the same order",
        );
      }),
      { numRuns: 500 },
    );
    // Keys that look like indices, a __proto__ key, -0, nested lists: still the same.
    const tricky = { b: [{ "10": 1, "9": 2, a: -0 }], __proto__x: 1, "": null };
    const withProto = JSON.parse('{"__proto__": {"z": 1, "a": 2}, "a": [3, {"c": 1, "b": 2}]}');
    for (const m of [tricky, withProto])
      assert.equal(
        JSON.stringify(lockEntry(recordOf(m), canonicalJson(m)), null, 2),
        JSON.stringify(lockEntry(recordOf(m)), null, 2),
      );
  });
});
