import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  BadRecordError,
  keyOfManifest,
  parseRecord,
  sealRecordText,
  type StageRecord,
} from "../../src/cache/record.js";
import { recordOfText } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";

/**
 * What the cache believes of a stored record (record.ts): every check of parseRecord refuses the
 * damage it names, and the seal finds a byte changed anywhere in the stored text. Each corruption
 * below is one a mutation of record.ts let through before these tests (see the commit).
 */

const json = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<unknown>;
const digest = fc.string({ maxLength: 8 }).map((s) => digestOf(Buffer.from(s)));

/** A well-formed record: outputs, inputsFrom, provenance with params, keyed by its manifest. */
const recordArb: fc.Arbitrary<StageRecord<unknown>> = fc
  .record({
    kind: fc.constantFrom("clean", "split", "train"),
    params: fc.dictionary(fc.string(), json, { maxKeys: 4 }),
    outputs: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }),
      fc.record({
        digest,
        size: fc.nat(),
        type: fc.constantFrom("table", "sequences", "trained"),
        summary: fc.string(),
      }),
      { minKeys: 1, maxKeys: 3 },
    ),
    inputsFrom: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }),
      fc.record({ stage: fc.string(), key: digest }),
      { maxKeys: 3 },
    ),
    stage: fc.string(),
    createdAt: fc.integer({ min: 0, max: 4_000_000_000_000 }).map((t) => new Date(t).toISOString()),
    durationMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
    runParams: fc.option(fc.dictionary(fc.string(), json, { maxKeys: 3 }), { nil: undefined }),
  })
  .map((r) => {
    const manifest = { format: 1, kind: r.kind, version: 1, params: r.params };
    return {
      key: keyOfManifest(manifest),
      kind: r.kind,
      outputs: r.outputs,
      manifest,
      inputsFrom: r.inputsFrom,
      provenance: {
        pipeline: "p",
        file: "p.rnnp",
        stage: r.stage,
        createdAt: r.createdAt,
        durationMs: r.durationMs,
        rnnpVersion: "test",
        ...(r.runParams !== undefined ? { params: r.runParams as Record<string, never> } : {}),
      },
    } as unknown as StageRecord<unknown>;
  })
  // Plain objects (fast-check's dictionaries have no prototype), as records read from JSON are.
  .map((r) => JSON.parse(JSON.stringify(r)) as StageRecord<unknown>);

/** A deep copy to damage. */
const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
// biome-ignore lint/suspicious/noExplicitAny: damage goes anywhere in a record
type Loose = Record<string, any>;
const firstOutput = (r: Loose) => r.outputs[Object.keys(r.outputs)[0]!];

/** Damage to a record, each of which parseRecord must refuse: name -> how. */
const DAMAGE: [string, (r: Loose) => void][] = [
  ["another key", (r) => (r.key = digestOf(Buffer.from(`${r.key}x`)))],
  ["a changed manifest", (r) => (r.manifest.version = 2)],
  ["an unknown field", (r) => (r.extra = 1)],
  ["a manifest of another kind", (r) => (r.kind = r.kind === "clean" ? "split" : "clean")],
  ["no outputs", (r) => (r.outputs = {})],
  ["an output digest that is not one", (r) => (firstOutput(r).digest = "z".repeat(64))],
  ["a negative size", (r) => (firstOutput(r).size = -1)],
  ["a fractional size", (r) => (firstOutput(r).size = 1.5)],
  ["an empty type", (r) => (firstOutput(r).type = "")],
  ["a summary that is not text", (r) => (firstOutput(r).summary = 3)],
  ["an input's key that is not a digest", (r) => (r.inputsFrom.x = { stage: "s", key: "k" })],
  ["an input without a stage", (r) => (r.inputsFrom.x = { key: "a".repeat(64) })],
  ["a local time", (r) => (r.provenance.createdAt = "2026-11-30T10:00:00")],
  ["a date that is no date", (r) => (r.provenance.createdAt = "2026-13-45T10:00:00Z")],
  ["a negative duration", (r) => (r.provenance.durationMs = -1)],
  ["a duration that is not a number", (r) => (r.provenance.durationMs = "1")],
  ["no pipeline", (r) => delete r.provenance.pipeline],
  ["run params that are a list", (r) => (r.provenance.params = [1])],
  [
    "nesting deeper than 64 levels",
    (r) => {
      let deep: unknown = 1;
      for (let i = 0; i < 70; i++) deep = [deep];
      r.provenance.params = { deep };
    },
  ],
];

describe("stored records (cache/record.ts)", () => {
  it("a well-formed record is read back as it was, from its sealed text too (property)", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        assert.deepEqual(parseRecord(copy(r), r.key), r);
        assert.deepEqual(parseRecord(copy(r), r.key, copy(r.manifest)), r);
        assert.deepEqual(recordOfText(r.key, sealRecordText(JSON.stringify(r))), r);
      }),
      { numRuns: 200 },
    );
  });

  it("every damage parseRecord checks for is refused, with or without the planner's manifest (property)", () => {
    fc.assert(
      fc.property(recordArb, fc.constantFrom(...DAMAGE), (r, [what, damage]) => {
        const bad = copy(r) as Loose;
        damage(bad);
        for (const hashed of [undefined, copy(r.manifest)])
          assert.throws(
            () => parseRecord(bad, r.key, hashed),
            BadRecordError,
            `${what}${hashed ? " (manifest given)" : ""}`,
          );
      }),
      { numRuns: 400 },
    );
  });

  it("a manifest given as hashed is believed only when the record's is the same", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        // The record's manifest changed; the caller's is the one that hashes to the key.
        const bad = copy(r) as Loose;
        bad.manifest.params = { ...bad.manifest.params, "~added": 1 };
        assert.throws(() => parseRecord(bad, r.key, copy(r.manifest)), /hashes to/);
      }),
      { numRuns: 100 },
    );
  });

  it("a character changed anywhere in a sealed record's text is found, or changes nothing (property)", () => {
    fc.assert(
      fc.property(
        recordArb,
        fc.nat(),
        fc.constantFrom("a", "0", "Z", "}", '"', ",", " ", "é"),
        (r, at, by) => {
          const text = sealRecordText(JSON.stringify(r));
          const i = at % text.length;
          fc.pre(text[i] !== by);
          const changed = text.slice(0, i) + by + text.slice(i + 1);
          let read: StageRecord<unknown> | undefined;
          try {
            read = recordOfText(r.key, changed);
          } catch (e) {
            assert.ok(e instanceof BadRecordError, String(e));
            return;
          }
          assert.deepEqual(read, r, `a change at ${i} of ${text.length} read as another record`);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
