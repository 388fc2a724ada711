import assert from "node:assert/strict";
import { copyFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { CacheStore } from "../../src/cache/store.js";
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
    const dir = tempDir();
    const file = join(dir, "d.csv");
    writeFileSync(file, OLD);
    utimesSync(file, HOUR_AGO, HOUR_AGO); // an old mtime, but a ctime of now
    const store = CacheStore.open(join(dir, "cache"));
    const st = statSync(file, { bigint: true });
    const bogus = "b".repeat(64) as Digest;
    const entry = (hashedAtNs: bigint) => ({
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      ino: String(st.ino),
      dev: String(st.dev),
      digest: bogus,
      hashedAtNs: String(hashedAtNs),
    });
    // Hashed one second after the last change: a write in that second could have gone unseen.
    store.putStats([[file, entry(st.ctimeNs + 1_000_000_000n)]]);
    assert.equal(new FileHasher(store).digest(file), hashFile(file), "racy: hashed again");
    // Hashed long after it: trusted (this is what saves re-reading unchanged corpora).
    store.putStats([[file, entry(st.ctimeNs + 10_000_000_000n)]]);
    assert.equal(new FileHasher(store).digest(file), bogus, "the stat cache is used");
    await store.close();
  });

  it("an entry changed in the store (its digest, a flipped bit) is a miss: the file is hashed again", async () => {
    const dir = tempDir();
    const file = join(dir, "d.csv");
    writeFileSync(file, OLD);
    utimesSync(file, HOUR_AGO, HOUR_AGO);
    const cacheDir = join(dir, "cache");
    const store = CacheStore.open(cacheDir);
    const st = statSync(file, { bigint: true });
    const entry = {
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      ino: String(st.ino),
      dev: String(st.dev),
      digest: "b".repeat(64) as Digest,
      hashedAtNs: String(st.ctimeNs + 10_000_000_000n),
    };
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
});
