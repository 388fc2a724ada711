import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { open } from "lmdb";
import { CacheStore, type StatEntry } from "../../src/cache/store.js";
import type { Digest } from "../../src/core/digest.js";
import { FileHasher, hashFile } from "../../src/plan/files.js";
import { tempDir } from "../helpers.js";
import { Rig } from "../rig.js";

const HOUR_AGO = new Date(Date.now() - 3_600_000);

/** Two contents of one size, so that only the bytes tell them apart. */
const OLD = "name,label\nann,f\nbob,m\n";
const NEW = "name,label\nann,m\nbob,f\n";

describe("the stat cache of data files", () => {
  it("a file rewritten in place with its old mtime (same size, inode, mtime) is hashed again: ctime moved", async () => {
    const dir = tempDir();
    const file = join(dir, "d.csv");
    writeFileSync(file, OLD);
    utimesSync(file, HOUR_AGO, HOUR_AGO);
    const store = CacheStore.open(join(dir, "cache"));
    assert.equal(new FileHasher(store).digest(file), hashFile(file));
    const before = statSync(file, { bigint: true });
    writeFileSync(file, NEW); // in place: same inode
    utimesSync(file, HOUR_AGO, HOUR_AGO);
    const after = statSync(file, { bigint: true });
    assert.deepEqual(
      [after.ino, after.size, after.mtimeNs],
      [before.ino, before.size, before.mtimeNs],
      "only the content (and the ctime) differ",
    );
    assert.equal(new FileHasher(store).digest(file), hashFile(file), "not the stale digest");
    await store.close();
  });

  it("an entry is trusted only when the file last changed (ctime included) well before it was hashed", async () => {
    // An old mtime, but a ctime of now.
    const { file, st, store, entry } = statted();
    const bogus = entry().digest;
    const hashedAt = (ns: bigint) => entry({ hashedAtNs: String(ns) });
    // Hashed one second after the last change: a write in that second could have gone unseen.
    store.putStats([[file, hashedAt(st.ctimeNs + 1_000_000_000n)]]);
    assert.equal(new FileHasher(store).digest(file), hashFile(file), "racy: hashed again");
    // Hashed long after it: trusted (this is what saves re-reading unchanged corpora).
    store.putStats([[file, hashedAt(st.ctimeNs + 10_000_000_000n)]]);
    assert.equal(new FileHasher(store).digest(file), bogus, "the stat cache is used");
    await store.close();
  });

  it("an entry changed in the store (its digest, a flipped bit) is a miss: the file is hashed again", async () => {
    const { dir, file, store, entry: made } = statted();
    const cacheDir = join(dir, "cache");
    const entry = made();
    store.putStats([[file, entry]]);
    assert.equal(new FileHasher(store).digest(file), entry.digest, "a whole entry is believed");
    await store.close();
    const env = open({ path: cacheDir, maxDbs: 12 });
    const stats = env.openDB({ name: "stat", encoding: "msgpack" });
    const stored = stats.get(file) as Record<string, unknown>;
    await stats.put(file, { ...stored, digest: `c${"b".repeat(63)}` });
    await env.close();
    const again = CacheStore.open(cacheDir);
    assert.equal(new FileHasher(again).digest(file), hashFile(file), "the changed entry is a miss");
    await again.close();
  });

  it("`cp -p new.csv d.csv` (same size, inode and mtime) is not a stale `cached` result", async () => {
    const rig = new Rig().write({
      "d.csv": OLD,
      "new.csv": NEW,
      "p.rnnp": `pipeline p {
  stage raw = load.csv(path: "d.csv", label: "label")
  stage few = head(raw, n: 2)
}
`,
    });
    utimesSync(rig.path("d.csv"), HOUR_AGO, HOUR_AGO);
    utimesSync(rig.path("new.csv"), HOUR_AGO, HOUR_AGO);
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const ino = statSync(rig.path("d.csv")).ino;
    // cp -p: the bytes are copied into the existing file, then its times are set to new.csv's.
    copyFileSync(rig.path("new.csv"), rig.path("d.csv"));
    utimesSync(rig.path("d.csv"), HOUR_AGO, HOUR_AGO);
    assert.equal(statSync(rig.path("d.csv")).ino, ino);
    const second = await rig.rnnp(["run", "p.rnnp", "--json"]);
    const stages = (JSON.parse(second.stdout) as { stages: { name: string; status: string }[] })
      .stages;
    assert.deepEqual(
      stages.map((s) => [s.name, s.status]),
      [
        ["raw", "ran"],
        ["few", "ran"],
      ],
    );
    const shown = await rig.rnnp(["show", "few", "p.rnnp", "--json"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match((await rig.rnnp(["show", "few", "p.rnnp"])).stdout, /"ann"\s+"m"/);
  });

  /** A file with an old mtime, its stat, and a store to put entries for it in. */
  function statted(content = OLD) {
    const dir = tempDir();
    const file = join(dir, "d.csv");
    writeFileSync(file, content);
    utimesSync(file, HOUR_AGO, HOUR_AGO);
    const st = statSync(file, { bigint: true });
    const store = CacheStore.open(join(dir, "cache"));
    /** An entry as the hasher writes one, but for a digest nobody computed. */
    const entry = (o: Partial<StatEntry> = {}): StatEntry => ({
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      ino: String(st.ino),
      dev: String(st.dev),
      digest: "b".repeat(64) as Digest,
      hashedAtNs: String(st.ctimeNs + 10_000_000_000n),
      ...o,
    });
    /** Whether the hasher believes `e` (it answers its bogus digest) or hashes the file again. */
    const believes = (e: StatEntry): boolean => {
      store.putStats([[file, e]]);
      const d = new FileHasher(store).digest(file);
      assert.ok(d === e.digest || d === hashFile(file), d);
      return d === e.digest;
    };
    return { dir, file, st, store, entry, believes };
  }

  it("git's racy rule is 2 s to the nanosecond: an entry hashed 2 s after the last change is racy, 1 ns later it is not", async () => {
    const { st, store, entry, believes } = statted();
    assert.ok(st.ctimeNs > st.mtimeNs, "the ctime (now) is the last change");
    // Killed: RACY_NS of 1 s or 5 s, and `<=` for `<`.
    assert.equal(believes(entry({ hashedAtNs: String(st.ctimeNs + 2_000_000_000n) })), false);
    assert.equal(believes(entry({ hashedAtNs: String(st.ctimeNs + 2_000_000_001n) })), true);
    await store.close();
  });

  it("an mtime in the future is the last change: an entry hashed before it is racy", async () => {
    const { file, store, entry, believes } = statted();
    const later = new Date(Date.now() + 3_600_000);
    utimesSync(file, later, later);
    const st = statSync(file, { bigint: true });
    assert.ok(st.mtimeNs > st.ctimeNs);
    const fields = {
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
    };
    // Hashed 10 s after the ctime, but before the mtime: racy (killed: the last change as the ctime alone).
    assert.equal(
      believes(entry({ ...fields, hashedAtNs: String(st.ctimeNs + 10_000_000_000n) })),
      false,
    );
    assert.equal(
      believes(entry({ ...fields, hashedAtNs: String(st.mtimeNs + 10_000_000_000n) })),
      true,
    );
    await store.close();
  });

  it("an entry is believed only when size, mtime, ctime, inode and device all match (property)", async () => {
    const { store, entry, believes } = statted();
    assert.equal(believes(entry()), true, "the entry as the file is");
    // Each field changed alone, by any amount, is a miss (killed: any one of the five comparisons
    // dropped; the cp -p and in-place tests cover the ctime alone).
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("size", "mtimeNs", "ctimeNs", "ino", "dev"),
        fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).filter((d) => d !== 0n),
        async (field, delta) => {
          const e = entry();
          const moved =
            field === "size"
              ? { size: Math.max(0, e.size + Number(delta % 1000n)) }
              : { [field]: String(BigInt(e[field]) + delta) };
          fc.pre(JSON.stringify({ ...e, ...moved }) !== JSON.stringify(e));
          assert.equal(believes({ ...e, ...moved }), false, `${field} moved by ${delta}`);
        },
      ),
      { numRuns: 60 },
    );
    await store.close();
  });

  it("a new entry's hashing time is taken during the hashing call, and the entry is the file's stat", async () => {
    const { file, st, store } = statted();
    const before = BigInt(Date.now()) * 1_000_000n;
    const d = new FileHasher(store).digest(file);
    const after = BigInt(Date.now()) * 1_000_000n;
    const e = store.getStat(file)!;
    // Killed: the time taken 3 s late (an entry that claims to be younger than it is is trusted
    // sooner than the racy rule allows).
    assert.ok(BigInt(e.hashedAtNs) >= before && BigInt(e.hashedAtNs) <= after, e.hashedAtNs);
    const { size, mtimeNs, ctimeNs, ino, dev, digest, hashedAtNs } = e;
    assert.deepEqual(
      { size, mtimeNs, ctimeNs, ino, dev, digest, hashedAtNs },
      {
        size: Number(st.size),
        mtimeNs: String(st.mtimeNs),
        ctimeNs: String(st.ctimeNs),
        ino: String(st.ino),
        dev: String(st.dev),
        digest: d,
        hashedAtNs: e.hashedAtNs,
      },
    );
    await store.close();
  });

  it("a file's digest is the SHA-256 of all its bytes, at sizes around the 1 MiB read", () => {
    const dir = tempDir();
    const MiB = 1 << 20;
    // Killed: reading the first MiB only (a change past it kept the old digest).
    for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 5]) {
      const file = join(dir, `f${size}`);
      const bytes = Buffer.alloc(size, 7);
      if (size) bytes[size - 1] = 8;
      writeFileSync(file, bytes);
      assert.equal(
        hashFile(file),
        createHash("sha256").update(readFileSync(file)).digest("hex"),
        `${size} bytes`,
      );
    }
  });
});
