import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { exportBundle, importBundle } from "../../src/cache/bundle.js";
import { CacheStore } from "../../src/cache/store.js";
import { tempDir } from "../helpers.js";
import { goodBundles, hostileBundles, hostileSigned, IMPORT_CHECKS, refused } from "./hostile.js";

describe("hostile bundles", () => {
  let good: { plain: Buffer; signed: Buffer };
  before(async () => {
    good = await goodBundles();
  });

  it("the good bundle imports (what the hostile ones are made from)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "b.tar"), good.plain);
    const store = CacheStore.open(join(dir, "cache"));
    const report = await importBundle(store, join(dir, "b.tar"), IMPORT_CHECKS);
    assert.deepEqual(report.records, { added: 4, had: 0 });
    assert.equal(store.recordCount(), 4);
    await store.close();
  });

  it("export and import report their progress", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "b.tar"), good.plain);
    const store = CacheStore.open(join(dir, "cache"));
    const seen: [string, number, number][] = [];
    await importBundle(store, join(dir, "b.tar"), {
      ...IMPORT_CHECKS,
      onProgress: (phase, done, total) => seen.push([phase, done, total]),
    });
    const last = (phase: string) => seen.filter((p) => p[0] === phase).at(-1);
    const read = last("read")!;
    assert.equal(read[1], read[2], "every byte read");
    assert.deepEqual(last("check")!.slice(1), [6, 6]);
    assert.deepEqual(last("store")!.slice(1), [6, 6]);
    const exported: number[][] = [];
    await exportBundle(store, [...store.allRecords()], join(dir, "again.tar"), {
      onProgress: (_, done, total) => exported.push([done, total]),
    });
    assert.equal(exported.length, 6);
    assert.equal(exported.at(-1)![0], exported.at(-1)![1]);
    await store.close();
  });

  it("every damaged, tampered or tricky variant is refused with its reason, and nothing is imported", async () => {
    const cases = await hostileBundles(good.plain);
    assert.ok(cases.length >= 60, `only ${cases.length} variants`);
    for (const h of cases) {
      const message = await refused(h);
      if (process.env.RNNP_TEST_VERBOSE) process.stderr.write(`${h.name}\n    ${message}\n`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype untouched");
  });

  it("signed bundles: unsigned, re-signed or stale-signed variants are refused by a holder of the key", async () => {
    const cases = await hostileSigned(good.signed, good.plain, "k1");
    assert.equal(cases.length, 4);
    for (const h of cases) await refused(h, { key: "k1" });
  });
});
