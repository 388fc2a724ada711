import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalJson, type Json } from "../../src/core/canonical.js";
import type { StageRecord } from "../../src/cache/record.js";
import type { StageKey } from "../../src/core/digest.js";
import { LockfileError, lockEntry, readLockfile, sortKeys } from "../../src/plan/lockfile.js";
import { tempDir } from "../helpers.js";
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

describe("reading a lock", () => {
  const KEY = "a".repeat(64);
  const entry = (from: Record<string, { stage: string; key: string }> = {}) => ({
    kind: "head",
    key: KEY,
    outputs: { out: "b".repeat(64) },
    inputsFrom: from,
    manifest: { format: 1 },
  });
  const written = (lock: unknown) => {
    const path = join(tempDir(), "p.lock");
    writeFileSync(path, JSON.stringify(lock));
    return path;
  };

  it("refuses another lockfileVersion, or no stages, saying which version it reads", () => {
    for (const lock of [
      { lockfileVersion: 2, pipeline: "p", rnnp: "9.0.0", stages: {} },
      { lockfileVersion: 1, pipeline: "p", rnnp: "0.1.0" },
    ])
      assert.throws(
        () => readLockfile(written(lock)),
        (e: unknown) =>
          e instanceof LockfileError && /this rnnp reads version 1/.test((e as Error).message),
        JSON.stringify(lock),
      );
    assert.equal(readLockfile(join(tempDir(), "none.lock")), undefined);
  });

  it("reads a lock of variants named before `@` (fit[units=64,lr=0.003]) under today's names", () => {
    const lock = readLockfile(
      written({
        lockfileVersion: 1,
        pipeline: "p",
        rnnp: "0.1.0",
        stages: {
          "fit[units=64,lr=0.003]": entry(),
          "report[units=64,lr=0.003]": entry({
            model: { stage: "fit[units=64,lr=0.003]", key: KEY },
          }),
          plain: entry({ data: { stage: "raw", key: KEY } }),
        },
      }),
    )!;
    assert.deepEqual(Object.keys(lock.stages), [
      "fit@units=64+lr=0.003",
      "report@units=64+lr=0.003",
      "plain",
    ]);
    assert.deepEqual(lock.stages["report@units=64+lr=0.003"]!.inputsFrom, {
      model: { stage: "fit@units=64+lr=0.003", key: KEY },
    });
    assert.deepEqual(lock.stages.plain!.inputsFrom, { data: { stage: "raw", key: KEY } });
  });
});
