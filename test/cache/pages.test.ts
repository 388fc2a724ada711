import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/core/digest.js";
import { pagesAddonAt, releaseMappedPages } from "../../src/cache/pages.js";
import { CacheStore } from "../../src/cache/store.js";
import { encodeArtifact } from "../../src/run/artifacts.js";
import { ROOT, cleanEnv, tempDir } from "../helpers.js";
import { table } from "../stages/helpers.js";
import { fakeRecord } from "./records.js";

// A stage reads its inputs in place from LMDB's map (CacheStore.withBlob); the pages it touched are
// given back once the read is done (native/pages.c), and only pages of a shared mapping of a file.
// lmdb lends a blob of 16 MiB or more as a view of its map; a smaller one comes copied into its read
// buffer (the process's own memory, which must be left alone).

const ADDON = join(ROOT, "build", "Release", "rnnp_pages.node");
const MiB = 1024 * 1024;
const PAGE = 4096;

/** This process's resident pages of mapped files, in bytes (Linux). */
function rssFile(): number {
  const line = readFileSync("/proc/self/status", "utf8").match(/^RssFile:\s+(\d+) kB$/m);
  assert.ok(line, "/proc/self/status has no RssFile line");
  return Number(line[1]) * 1024;
}

/** Why these tests cannot run here, if they cannot. */
function unavailable(): string | undefined {
  if (process.platform !== "linux") return "pages are given back on Linux only";
  if (!existsSync(ADDON)) return `${ADDON} is not built: npm run native`;
  return undefined;
}

/** A fresh cache holding `blob`: its folder, and the blob's digest. */
async function cacheWith(blob: Uint8Array): Promise<{ dir: string; digest: Digest }> {
  const dir = join(tempDir(), "cache");
  const digest = digestOf(blob);
  const writer = CacheStore.open(dir);
  writer.commit(fakeRecord("big", { o: blob }), new Map([[digest, blob]]), {
    pipeline: "p",
    stage: "big",
  });
  await writer.close();
  return { dir, digest };
}

/** `use` on a store whose one blob is `size` random bytes, opened afresh (none of its pages mapped). */
async function withStoredBlob(
  size: number,
  use: (store: CacheStore, digest: Digest) => void,
): Promise<void> {
  const { dir, digest } = await cacheWith(randomBytes(size));
  const store = CacheStore.open(dir);
  try {
    use(store, digest);
  } finally {
    await store.close();
  }
}

describe("a read blob's mapped pages", () => {
  it("the pages add-on is built and loads here (npm install builds it beside the kernels)", (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    assert.ok(pagesAddonAt(ADDON));
  });

  it("are given back after withBlob, and the blob reads back the same bytes", async (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    await withStoredBlob(48 * MiB, (store, digest) => {
      const before = rssFile();
      let during = 0;
      const seen = store.withBlob(digest, (bytes) => {
        const d = digestOf(bytes); // touches every page
        during = rssFile();
        return d;
      });
      const after = rssFile();
      assert.equal(seen, digest);
      // Resident while read (so the measure is sound), given back once the read is done.
      assert.ok(during - before > 40 * MiB, `the read mapped ${(during - before) / MiB} MiB`);
      assert.ok(during - after > 40 * MiB, `${(during - after) / MiB} MiB given back`);
      // Faulted back in from the page cache: the same bytes.
      assert.equal(
        store.withBlob(digest, (bytes) => digestOf(bytes)),
        digest,
      );
    });
  });

  it("are given back when the reader throws", async (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    await withStoredBlob(24 * MiB, (store, digest) => {
      let during = 0;
      assert.throws(
        () =>
          store.withBlob(digest, (bytes) => {
            digestOf(bytes);
            during = rssFile();
            throw new Error("the reader failed");
          }),
        /the reader failed/,
      );
      assert.ok(during - rssFile() > 20 * MiB, "the pages stayed after a throw");
    });
  });

  it("only whole pages inside the view go, and every byte reads the same afterwards", async (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    await withStoredBlob(20 * MiB + 123, (store, digest) => {
      store.withBlob(digest, (bytes) => {
        const copy = Buffer.from(bytes);
        const view = bytes.subarray(1000, bytes.length - 1000);
        const released = releaseMappedPages(view);
        assert.equal(released % PAGE, 0);
        assert.ok(released <= view.length, "released beyond the view");
        assert.ok(released >= view.length - 2 * PAGE, `only ${released} of ${view.length} bytes`);
        // Inside the read, after the pages went: the file's bytes, not zeros.
        assert.ok(Buffer.compare(Buffer.from(bytes), copy) === 0, "bytes changed");
      });
    });
  });

  it("a blob lmdb copies into its read buffer reads the same, before and after", async (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    await withStoredBlob(4 * MiB + 123, (store, digest) => {
      for (let i = 0; i < 2; i++)
        assert.equal(
          store.withBlob(digest, (bytes) => digestOf(bytes)),
          digest,
        );
    });
  });

  it("the process's own memory is never touched: buffers, pool slices, shared memory", (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    const own = Buffer.alloc(8 * MiB, 0x5a);
    const pooled = Buffer.from("a small buffer from Node's pool");
    const shared = new Uint8Array(new SharedArrayBuffer(4 * MiB)).fill(3);
    for (const [view, byte] of [
      [own, 0x5a],
      [own.subarray(PAGE + 1, 5 * MiB), 0x5a],
      [shared, 3],
    ] as const) {
      assert.equal(releaseMappedPages(view), 0);
      assert.ok(
        view.every((b) => b === byte),
        "the process's own bytes changed",
      );
    }
    assert.equal(releaseMappedPages(pooled), 0);
    assert.equal(pooled.toString(), "a small buffer from Node's pool");
  });

  it("refuses what is not bytes, and no add-on leaves the pages as they are", (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    const addon = pagesAddonAt(ADDON)!;
    assert.throws(() => addon.release(new Float32Array(8) as unknown as Uint8Array), TypeError);
    assert.throws(() => (addon.release as () => number)(), TypeError);
    assert.equal(pagesAddonAt(join(tempDir(), "missing.node")), null);
    // An add-on without `release` (the digest add-on) is not taken for it.
    assert.equal(pagesAddonAt(join(ROOT, "build", "Release", "rnnp_digest.node")), null);
  });
});

describe("a table read from the cache", () => {
  /** Peak resident memory above the start of reading the blob, in a process of its own. */
  function peakOfRead(cache: string, digest: string, how: "readArtifact" | "whole"): number {
    const script = `
      import { readFileSync, writeFileSync } from "node:fs";
      import { CacheStore } from ${JSON.stringify(join(ROOT, "src", "cache", "store.ts"))};
      import { digestOf } from ${JSON.stringify(join(ROOT, "src", "core", "digest.ts"))};
      import { decodeArtifact, readArtifact } from ${JSON.stringify(join(ROOT, "src", "run", "artifacts.ts"))};
      const kib = (key) => Number(readFileSync("/proc/self/status", "utf8").match(new RegExp("^" + key + ":\\\\s+(\\\\d+)", "m"))[1]);
      const store = CacheStore.open(${JSON.stringify(cache)});
      const digest = ${JSON.stringify(digest)};
      writeFileSync("/proc/self/clear_refs", "5"); // the peak starts again from here
      const before = kib("VmRSS");
      const table = ${how === "readArtifact" ? "readArtifact(store, digest)" : "store.withBlob(digest, (bytes) => { digestOf(bytes); return decodeArtifact(bytes, { borrowed: true }); })"};
      console.log(JSON.stringify({ aboveKiB: kib("VmHWM") - before, rows: table.columns[0].values.length }));`;
    const r = spawnSync(
      process.execPath,
      ["--single-threaded-gc", "--import", "tsx", "--input-type=module", "-e", script],
      { encoding: "utf8", env: cleanEnv(), cwd: ROOT },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
      aboveKiB: number;
      rows: number;
    };
    assert.equal(out.rows, ROWS);
    return out.aboveKiB * 1024;
  }
  const ROWS = 600_000;

  it("gives back the pages it has parsed as it goes: its pages and its strings never peak together", async (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    const text = Array.from({ length: ROWS }, (_, i) => `row ${i} ${"some words ".repeat(6)}`);
    const bytes = encodeArtifact(table({ text })).bytes;
    assert.ok(bytes.length > 40 * MiB, `the artifact is only ${bytes.length / MiB} MiB`);
    const { dir, digest } = await cacheWith(bytes);
    const progressive = peakOfRead(dir, digest, "readArtifact");
    const whole = peakOfRead(dir, digest, "whole");
    // The whole read holds every page with every string at its end; giving back as it goes holds
    // at most a few MiB of pages with the strings.
    assert.ok(
      progressive < whole - 24 * MiB,
      `peak ${(progressive / MiB).toFixed(0)} MiB read as it goes, ${(whole / MiB).toFixed(0)} MiB whole`,
    );
  });
});
