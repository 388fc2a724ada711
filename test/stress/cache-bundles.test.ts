import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { importBundle } from "../../src/cache/bundle.js";
import { CacheStore } from "../../src/cache/store.js";
import { UserError } from "../../src/core/diagnostic.js";
import {
  goodBundles,
  hostileBundles,
  hostileSigned,
  IMPORT_CHECKS,
  refused,
} from "../cache/hostile.js";
import { tempDir } from "../helpers.js";
import { Rig } from "../rig.js";

/**
 * Hostile bundles, the long version: every generated variant through the real command (a process of
 * its own: exit code, stderr), then random damage to good bundles, in process.
 */
describe("hostile bundles, at length", () => {
  it("every variant, through `rnnp cache import` as a process: refused with its reason, no stack, nothing written", async (t) => {
    const good = await goodBundles();
    const cases = [
      ...(await hostileBundles(good.plain)).map((h) => ({ h, env: {} })),
      ...(await hostileSigned(good.signed, good.plain, "k1")).map((h) => ({
        h,
        env: { RNNP_CACHE_KEY: "k1" },
      })),
    ];
    const rig = new Rig();
    for (const { h, env } of cases) {
      writeFileSync(rig.path("bundle"), h.bytes);
      const r = rig.spawnSync(["cache", "import", "bundle"], { env });
      assert.equal(r.code, 1, `${h.name}: ${r.stderr}`);
      assert.match(r.stderr, /^error\[(bundle|signature)\]: refusing /, h.name);
      assert.match(r.stderr, h.reason, h.name);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, h.name);
    }
    const ls = JSON.parse(rig.spawnSync(["cache", "ls", "--json"]).stdout) as {
      records: unknown[];
    };
    assert.deepEqual(ls.records, []);
    t.diagnostic(`${cases.length} hostile bundles refused by the CLI, 0 records imported`);
  });

  it("random damage to good bundles (flips, cuts, insertions, in the tar or the gzip stream): refused, or imported unchanged", async (t) => {
    const good = await goodBundles();
    const dir = tempDir();
    // The records a good import brings: what any accepted bundle must bring, byte for byte.
    const reference = join(dir, "reference");
    writeFileSync(join(dir, "good.tar"), good.plain);
    const refStore = CacheStore.open(reference);
    await importBundle(refStore, join(dir, "good.tar"), IMPORT_CHECKS);
    const want = JSON.stringify([...refStore.allRecords()]);
    await refStore.close();
    let tried = 0;
    let refusedCount = 0;
    let accepted = 0;
    const damage = fc.record({
      gzip: fc.boolean(),
      flips: fc.array(
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })),
        {
          maxLength: 4,
        },
      ),
      cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      insert: fc.option(
        fc.tuple(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.uint8Array({ minLength: 1, maxLength: 600 }),
        ),
      ),
    });
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        tried++;
        let bytes = Buffer.from(d.gzip ? gzipSync(good.plain) : good.plain);
        for (const [at, x] of d.flips) bytes[Math.floor(at * bytes.length)]! ^= x;
        if (d.insert) {
          const at = Math.floor(d.insert[0] * bytes.length);
          bytes = Buffer.concat([
            bytes.subarray(0, at),
            Buffer.from(d.insert[1]),
            bytes.subarray(at),
          ]);
        }
        if (d.cut !== null) bytes = bytes.subarray(0, Math.floor(d.cut * bytes.length));
        const here = join(dir, `t${tried}`);
        mkdirSync(here);
        writeFileSync(join(here, "b"), bytes);
        const store = CacheStore.open(join(here, "cache"));
        try {
          await importBundle(store, join(here, "b"), IMPORT_CHECKS);
          accepted++;
          assert.equal(
            JSON.stringify([...store.allRecords()]),
            want,
            "an accepted bundle brings the original records",
          );
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof UserError, `not a user error: ${(e as Error)?.stack ?? e}`);
          assert.match(e.message, /^(refusing|cannot read) /);
          assert.equal(store.recordCount(), 0);
          assert.deepEqual(store.blobDigests(), []);
          refusedCount++;
        } finally {
          await store.close();
          rmSync(here, { recursive: true, force: true });
        }
      }),
      { numRuns: 1500 },
    );
    t.diagnostic(
      `${tried} randomly damaged bundles: ${refusedCount} refused, ${accepted} imported (identical to the original), 0 tampered records imported`,
    );
  });

  it("the hostile variants again, in process (a cross-check of the reasons)", async (t) => {
    const good = await goodBundles();
    const cases = await hostileBundles(good.plain);
    for (const h of cases) await refused(h);
    t.diagnostic(`${cases.length} variants`);
  });
});
