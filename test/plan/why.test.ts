import assert from "node:assert/strict";
import { mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { describe, it } from "node:test";
import { CacheStore } from "../../src/cache/store.js";
import type { Digest } from "../../src/core/digest.js";
import { FileHasher, hashFile } from "../../src/plan/files.js";
import { Planner } from "../../src/plan/planner.js";
import { explain, summarize, type Reason } from "../../src/plan/why.js";
import { LocalExecutor } from "../../src/run/executor.js";
import { Runner } from "../../src/run/runner.js";
import { folderDigestFromScratch, ir, NAMES_CSV, runIn, tempDir, writeFiles } from "../helpers.js";

const SRC = `pipeline w {
  seed 5
  params { minLen = 1, lower = false }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage c = clean(raw, lowercase: params.lower, minLength: params.minLen)
  stage parts = split(c, train: 0.6, val: 0.2, test: 0.2)
  stage h = head(parts, n: 2)
}`;

const flat = (rs: Reason[], depth = 0): string[] =>
  rs.flatMap((r) => [`${"  ".repeat(depth)}${r.text}`, ...flat(r.because ?? [], depth + 1)]);

async function whyAfter(
  dir: string,
  overrides: string[],
  stage: string,
): Promise<{ state: string; lines: string[]; summary: string }> {
  const store = CacheStore.open(join(dir, "cache"));
  const planner = new Planner(ir(SRC, join(dir, "w.rnnp"), overrides), store);
  for (const s of planner.order) planner.resolve(s.name);
  const e = explain(planner, stage);
  await store.close();
  return { state: e.state, lines: flat(e.reasons), summary: summarize(e) };
}

describe("why", () => {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": NAMES_CSV });

  it("never run", async () => {
    const w = await whyAfter(dir, [], "raw");
    assert.equal(w.state, "new");
    assert.match(w.summary, /never run/);
  });

  it("names the changed param, old and new value, and the pipeline param it came from", async () => {
    (await runIn(SRC, join(dir, "w.rnnp"), join(dir, "cache"))).store.close();
    const w = await whyAfter(dir, ["lower=true"], "c");
    assert.equal(w.state, "changed");
    assert.deepEqual(w.lines, ["param `lowercase` false -> true (from params.lower)"]);
    assert.equal((await whyAfter(dir, [], "c")).state, "up-to-date");
  });

  it("a stage below a changed one waits on it, and says why that one changed", async () => {
    const w = await whyAfter(dir, ["minLen=3"], "parts");
    assert.equal(w.state, "waiting");
    assert.deepEqual(w.lines, ["waits on `c`", "  param `minLength` 1 -> 3 (from params.minLen)"]);
  });

  it("follows a changed input up to the stage whose param changed", async () => {
    const store = CacheStore.open(join(dir, "cache"));
    const planner = new Planner(ir(SRC, join(dir, "w.rnnp"), ["minLen=4"]), store);
    await new Runner(planner, new LocalExecutor()).run({ targets: ["c"] });
    for (const s of planner.order) planner.resolve(s.name);
    assert.deepEqual(flat(explain(planner, "parts").reasons), [
      "input `data` (from `c`) changed",
      "  `c`: param `minLength` 1 -> 4 (from params.minLen)",
    ]);
    await store.close();
  });

  it("a data file that changed content", async () => {
    const d2 = tempDir();
    writeFiles(d2, { "d.csv": NAMES_CSV });
    (await runIn(SRC, join(d2, "w.rnnp"), join(d2, "cache"))).store.close();
    writeFileSync(join(d2, "d.csv"), NAMES_CSV.replace("bob", "rob"));
    const w = await whyAfter(d2, [], "raw");
    assert.deepEqual(w.lines, ["file `d.csv` content changed"]);
  });

  it("an input that changed because its producer's file changed", async () => {
    const d3 = tempDir();
    writeFiles(d3, { "d.csv": NAMES_CSV });
    (await runIn(SRC, join(d3, "w.rnnp"), join(d3, "cache"))).store.close();
    writeFileSync(join(d3, "d.csv"), NAMES_CSV.replace("bob", "rob"));
    // Run only raw, so c is keyed against raw's new output but has not run.
    const store = CacheStore.open(join(d3, "cache"));
    const planner = new Planner(ir(SRC, join(d3, "w.rnnp")), store);
    await new Runner(planner, new LocalExecutor()).run({ targets: ["raw"] });
    for (const s of planner.order) planner.resolve(s.name);
    assert.deepEqual(flat(explain(planner, "c").reasons), [
      "input `data` (from `raw`) changed",
      "  `raw`: file `d.csv` content changed",
    ]);
    await store.close();
  });
});

describe("file hashing", () => {
  it("trusts the stat cache only for files unchanged since well before they were hashed", async () => {
    const dir = tempDir();
    const f = join(dir, "x.csv");
    writeFileSync(f, "aaaa");
    const old = new Date(Date.now() - 60_000);
    utimesSync(f, old, old);
    const store = CacheStore.open(join(dir, "cache"));
    const first = new FileHasher(store).digest(f);
    assert.equal(first, hashFile(f));
    // An entry made long after the file's last change (mtime and ctime) is trusted: shown by a
    // digest the file does not have, which only the stat cache can answer.
    const st = statSync(f, { bigint: true });
    const bogus = "e".repeat(64) as Digest;
    const entry = store.getStat(f)!;
    store.putStats([
      [f, { ...entry, digest: bogus, hashedAtNs: String(st.ctimeNs + 10_000_000_000n) }],
    ]);
    assert.equal(
      new FileHasher(store).digest(f),
      bogus,
      "unchanged stats: served from the stat cache",
    );
    // Same size and mtime, other bytes (`cp -p`): the ctime moved, so it is hashed again.
    writeFileSync(f, "bbbb");
    utimesSync(f, old, old);
    assert.equal(new FileHasher(store).digest(f), hashFile(f));
    // A real edit changes mtime (or size): re-hashed.
    writeFileSync(f, "cccc");
    assert.equal(new FileHasher(store).digest(f), hashFile(f));
    await store.close();
  });

  it("re-hashes a file modified within the racy window of its hashing", async () => {
    const dir = tempDir();
    const f = join(dir, "y.csv");
    writeFileSync(f, "1111");
    const store = CacheStore.open(join(dir, "cache"));
    const first = new FileHasher(store).digest(f);
    const st = (await import("node:fs")).statSync(f);
    writeFileSync(f, "2222");
    utimesSync(f, st.atime, st.mtime); // same size, same mtime, written just after hashing
    assert.notEqual(new FileHasher(store).digest(f), first);
    await store.close();
  });

  it("keeps the stat entries of a folder tree's files (written in one commit)", async () => {
    const dir = tempDir();
    writeFiles(dir, { "t/a/1.txt": "x", "t/b/2.txt": "y", "t/b/3.txt": "z" });
    const files = ["t/a/1.txt", "t/b/2.txt", "t/b/3.txt"].map((f) => join(dir, f));
    const store = CacheStore.open(join(dir, "cache"));
    new FileHasher(store).digest(join(dir, "t"));
    assert.deepEqual(
      files.map((f) => store.getStat(f)?.digest),
      files.map((f) => hashFile(f)),
    );
    await store.close();
  });

  it("a folder's digest: its files' relative paths and digests in name order, links followed, hidden skipped", async () => {
    // The digest as the first walk spelled it (every entry stat'ed, relative paths from path.relative):
    // the walk that reads entries' types must give the same bytes, or every folder input's key moves.
    const reference = folderDigestFromScratch;
    // Hidden names (a leading dot) too, never "." or "..".
    const name = fc.stringMatching(/^\.?[A-Za-z0-9_é€-][.A-Za-z0-9_é€-]{0,4}$/);
    const tree = fc.array(fc.tuple(fc.array(name, { minLength: 1, maxLength: 3 }), fc.string()), {
      minLength: 1,
      maxLength: 12,
    });
    const store = CacheStore.open(join(tempDir(), "cache"));
    await fc.assert(
      fc.asyncProperty(tree, fc.boolean(), async (files, links) => {
        const dir = tempDir();
        const root = join(dir, "t");
        for (const [parts, text] of files) {
          const path = join(root, ...parts);
          try {
            mkdirSync(dirname(path), { recursive: true });
            writeFileSync(path, text);
          } catch {} // a name already taken by a folder, or the reverse: that file is left out
        }
        mkdirSync(root, { recursive: true });
        if (links) {
          // A link to a folder outside the tree (walked as a folder) and one to a file.
          writeFiles(dir, { "outside/x.txt": "x", "outside/y/z.txt": "z" });
          symlinkSync(join(dir, "outside"), join(root, "Linked"));
          symlinkSync(join(dir, "outside", "x.txt"), join(root, "linked.txt"));
        }
        assert.equal(new FileHasher(store).digest(root), reference(root));
      }),
      { numRuns: 60 },
    );
    await store.close();
  });

  it("digests a folder tree by its relative paths and contents", async () => {
    const dir = tempDir();
    writeFiles(dir, { "t/a/1.txt": "x", "t/b/2.txt": "y" });
    const store = CacheStore.open(join(dir, "cache"));
    const a = new FileHasher(store).digest(join(dir, "t"));
    writeFiles(dir, { "t/b/3.txt": "z" });
    assert.notEqual(new FileHasher(store).digest(join(dir, "t")), a);
    await store.close();
  });
});
