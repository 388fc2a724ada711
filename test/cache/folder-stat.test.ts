import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  closeSync,
  lstatSync,
  openSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { open } from "lmdb";
import { gc } from "../../src/cache/maintenance.js";
import { repairCache, verifyCache } from "../../src/cache/salvage.js";
import { CacheStore } from "../../src/cache/store.js";
import { nativeDigest } from "../../src/core/digest.js";
import { FileHasher, RACY_NS } from "../../src/plan/files.js";
import { walkFiles } from "../../src/project/paths.js";
import { BIN, folderDigestFromScratch, tempDir, writeFiles } from "../helpers.js";
import { Rig } from "../rig.js";
import { failures, together } from "./processes.js";
import { NODE_FLAGS } from "../../src/core/node-flags.js";

const reference = folderDigestFromScratch;

/** The store, with its stat reads counted (a file's entry, a folder's). */
function counted(store: CacheStore) {
  const reads = { files: 0, folders: 0 };
  const spy = Object.create(store) as CacheStore;
  spy.getStat = (path) => {
    reads.files++;
    return store.getStat(path);
  };
  spy.getFolderStat = (path) => {
    reads.folders++;
    return store.getFolderStat(path);
  };
  return { spy, reads };
}

/** A clock 20 s ahead: every file was written long before "now", so every digest is settled. */
const later = () => BigInt(Date.now()) * 1_000_000n + 10n * RACY_NS;

/** An mtime of whole seconds, so that setting it back restores it to the nanosecond. */
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);

/**
 * Waits until the file system's clock has moved on: a write after this gets a ctime later than
 * any a file had before (the clock ahead in `later` stands in for waiting RACY_NS, which is what
 * protects against a write within one tick of the hashing; this wait is that tick).
 */
function nextTick(probe: string): void {
  writeFileSync(probe, "");
  const before = statSync(probe, { bigint: true }).ctimeNs;
  while (statSync(probe, { bigint: true }).ctimeNs === before) writeFileSync(probe, "");
}

const name = fc.constantFrom("a", "b", "c.txt", "B", "é", "d-1");
const path = fc.array(name, { minLength: 1, maxLength: 3 });
const text = fc.string({ maxLength: 6 });
const edit = fc.oneof(
  fc.record({ op: fc.constant("add"), path, text }),
  fc.record({ op: fc.constant("hidden"), path, text }),
  fc.record({ op: fc.constant("remove"), pick: fc.nat() }),
  fc.record({ op: fc.constant("rename"), pick: fc.nat(), path }),
  fc.record({ op: fc.constant("swap"), pick: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant("rewrite"), pick: fc.nat(), keepMtime: fc.boolean() }),
  fc.record({ op: fc.constant("touchBack"), pick: fc.nat() }),
  fc.record({
    op: fc.constant("link"),
    to: fc.constantFrom("outside file", "outside folder", "inside file"),
    path,
    pick: fc.nat(),
  }),
  fc.record({ op: fc.constant("retarget"), pick: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant("outside"), keepMtime: fc.boolean() }),
  fc.record({ op: fc.constant("none") }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;

/** Everything under `root` but folders (files, hidden ones, links of every kind), and its folders. */
function entries(root: string): { leaves: string[]; folders: string[] } {
  const leaves: string[] = [];
  const folders: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const full = join(d, n);
      if (lstatSync(full).isDirectory()) {
        folders.push(full);
        walk(full);
      } else leaves.push(full);
    }
  };
  walk(root);
  return { leaves, folders };
}

/** Bytes of the same length as a file's, each different. */
function flipped(file: string): Buffer {
  return Buffer.from(readFileSync(file).map((b) => b ^ 1));
}

/** Applies an edit to the tree; an edit that cannot apply (a name taken by a folder) does nothing. */
function apply(e: Edit, root: string, outside: string): void {
  const { leaves, folders } = entries(root);
  const pick = (n: number) => leaves[n % leaves.length];
  const write = (file: string, content: string | Buffer, mtime: Date | undefined) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    if (mtime) utimesSync(file, mtime, mtime);
  };
  try {
    switch (e.op) {
      case "add":
        write(join(root, ...e.path), e.text, T0);
        return;
      case "hidden":
        write(join(root, ...e.path.slice(0, -1), `.${e.path.at(-1)}`), e.text, T0);
        return;
      case "remove": {
        // Now and then a whole folder.
        const folder = folders.length && e.pick % 4 === 0 ? folders[e.pick % folders.length] : "";
        const target = folder || pick(e.pick);
        if (target) rmSync(target, { recursive: true });
        return;
      }
      case "rename": {
        // Now and then a whole folder: its files keep their identities (ctime too), only their paths move.
        const folder = folders.length && e.pick % 3 === 0 ? folders[e.pick % folders.length] : "";
        const from = folder || pick(e.pick);
        const to = join(root, ...e.path);
        if (!from || from === to || to.startsWith(`${from}/`)) return;
        mkdirSync(dirname(to), { recursive: true });
        renameSync(from, to);
        return;
      }
      case "swap": {
        const [a, b] = [pick(e.pick), pick(e.other)];
        if (!a || !b || a === b) return;
        const aside = join(dirname(a), ".swap");
        renameSync(a, aside);
        renameSync(b, a);
        renameSync(aside, b);
        return;
      }
      case "rewrite": {
        const file = pick(e.pick);
        // In place, the same size (through a link, its target): only the bytes and the ctime move.
        if (file && statSync(file).isFile())
          write(file, flipped(file), e.keepMtime ? T0 : undefined);
        return;
      }
      case "touchBack": {
        const file = pick(e.pick);
        if (file && statSync(file).isFile()) utimesSync(file, T0, T0);
        return;
      }
      case "link": {
        const at = join(root, ...e.path);
        const target =
          e.to === "outside file"
            ? join(outside, "x.txt")
            : e.to === "outside folder"
              ? outside
              : pick(e.pick);
        if (!target) return;
        mkdirSync(dirname(at), { recursive: true });
        symlinkSync(target, at);
        return;
      }
      case "retarget": {
        // A link, kept where it is, led to another file (or folder).
        const links = leaves.filter((f) => lstatSync(f).isSymbolicLink());
        const link = links[e.pick % links.length];
        const targets = [join(outside, "x.txt"), join(outside, "y"), ...leaves];
        const target = targets[e.other % targets.length]!;
        if (!link || target === link) return;
        rmSync(link);
        symlinkSync(target, link);
        return;
      }
      case "outside": {
        // Seen through the links to it.
        const file = join(outside, e.keepMtime ? "x.txt" : "y/z.txt");
        write(file, flipped(file), e.keepMtime ? T0 : undefined);
        return;
      }
      case "none":
        return;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP: a link that leads to itself (a swap of a link and its target makes one).
    if (
      !["EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "ENOENT", "EINVAL", "ELOOP"].includes(
        code ?? "",
      )
    )
      throw err;
  }
}

/** The digest, or why there is none (a link left dangling: neither walk can stat it). */
function outcome(fn: () => string): string {
  try {
    return fn();
  } catch (e) {
    return `error ${(e as NodeJS.ErrnoException).code}`;
  }
}

describe("one stat-cache entry per folder input", () => {
  it("after any sequence of edits the digest is the one computed from scratch; an unchanged folder is one read", async () => {
    const store = CacheStore.open(join(tempDir(), "cache"));
    const tree = fc.array(fc.tuple(path, text), { minLength: 0, maxLength: 10 });
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(
        tree,
        fc.array(edit, { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        async (files, edits, ahead) => {
          const dir = tempDir();
          const root = join(dir, "t");
          const outside = join(dir, "outside");
          const probe = join(dir, "probe");
          mkdirSync(root);
          writeFiles(outside, { "x.txt": "outside x", "y/z.txt": "outside z" });
          for (const [p, t] of files) apply({ op: "add", path: p, text: t }, root, outside);
          // Ahead: every entry is settled at once (see nextTick); else most are racy.
          const clock = ahead ? later : undefined;
          for (const e of [{ op: "none" } as Edit, ...edits]) {
            apply(e, root, outside);
            const expected = outcome(() => reference(root));
            const got = outcome(() => new FileHasher(store, clock).digest(root));
            assert.equal(got, expected, `after ${JSON.stringify(e)}`);
            if (ahead && !expected.startsWith("error")) {
              const { spy, reads } = counted(store);
              assert.equal(new FileHasher(spy, clock).digest(root), expected, "looked up again");
              assert.deepEqual(reads, { files: 0, folders: 1 }, "one read for the folder");
              hits++;
            }
            nextTick(probe);
          }
        },
      ),
      {
        numRuns: 80,
        examples: [
          // A link swapped with the file it leads to leads to itself: reading it is ELOOP, as
          // neither walk can stat it either (found by CI on seed -1349401953).
          [
            [
              [["a"], ""],
              [["c.txt", "a"], ""],
            ],
            [
              { op: "link", to: "inside file", path: ["b"], pick: 1 },
              { op: "remove", pick: 3 },
              { op: "swap", pick: 0, other: 1 },
              { op: "touchBack", pick: 1 },
              { op: "rewrite", pick: 1, keepMtime: true },
              { op: "link", to: "outside file", path: ["a"], pick: 0 },
            ],
            false,
          ],
        ],
      },
    );
    assert.ok(hits > 80, `the one-read path was taken ${hits} times`);
    await store.close();
  });

  it("a folder or a link renamed in the tree (every file's identity unchanged) moves the digest", async () => {
    const dir = tempDir();
    writeFiles(dir, { "t/a/1.txt": "1", "t/b.txt": "b", "x.txt": "x" });
    const root = join(dir, "t");
    symlinkSync(join(dir, "x.txt"), join(root, "link.txt"));
    const store = CacheStore.open(join(dir, "cache"));
    const renames: [string, string][] = [
      ["a", "c"],
      ["link.txt", "zlink.txt"],
    ];
    for (const [from, to] of renames) {
      const before = new FileHasher(store, later).digest(root);
      assert.equal(before, reference(root));
      const ids = walkFiles(root).map((f) => {
        const st = statSync(f.abs, { bigint: true });
        return [st.ino, st.ctimeNs];
      });
      renameSync(join(root, from), join(root, to));
      const moved = walkFiles(root).map((f) => {
        const st = statSync(f.abs, { bigint: true });
        return [st.ino, st.ctimeNs];
      });
      assert.deepEqual(moved.sort(), ids.sort(), `${from} -> ${to}: the same files, as they were`);
      const after = new FileHasher(store, later).digest(root);
      assert.equal(after, reference(root), `${from} -> ${to}`);
      assert.notEqual(after, before);
    }
    await store.close();
  });

  it("walkFiles spells each path as join does (the stat cache is keyed by them)", () => {
    const dir = tempDir();
    writeFiles(dir, { "t/a/b/c.txt": "c", "t/d.txt": "d", "t/a/e.txt": "e" });
    for (const root of [join(dir, "t"), `${join(dir, "t")}/`, `${dir}/./t`])
      assert.deepEqual(
        walkFiles(root).map((f) => f.abs),
        ["a/b/c.txt", "a/e.txt", "d.txt"].map((rel) => join(root, rel)),
      );
  });

  it("a folder whose files changed within RACY_NS of its hashing gets no entry until a later look finds each settled", async () => {
    const dir = tempDir();
    writeFiles(dir, { "t/a.txt": "a", "t/b/c.txt": "c" });
    const root = join(dir, "t");
    const changed = () => {
      let last = 0n;
      for (const f of walkFiles(root)) {
        const { ctimeNs } = statSync(f.abs, { bigint: true });
        if (ctimeNs > last) last = ctimeNs;
      }
      return last;
    };
    const store = CacheStore.open(join(dir, "cache"));
    // Hashed one second after the last change: not settled.
    let at = changed() + RACY_NS / 2n;
    assert.equal(new FileHasher(store, () => at).digest(root), reference(root));
    assert.equal(store.getFolderStat(root), undefined, "racy: no folder entry");
    // Ten seconds after it: each file's entry is racy too, so each is hashed again, and settled.
    at = changed() + 5n * RACY_NS;
    let look = counted(store);
    assert.equal(new FileHasher(look.spy, () => at).digest(root), reference(root));
    assert.deepEqual(look.reads, { files: 2, folders: 1 });
    const first = store.getFolderStat(root);
    assert.deepEqual([first?.files, first?.digest], [2, reference(root)]);
    look = counted(store);
    assert.equal(new FileHasher(look.spy, () => at).digest(root), reference(root));
    assert.deepEqual(look.reads, { files: 0, folders: 1 }, "settled: one read");

    // One file rewritten, hashed within a second of it: a fresh digest, the old entry stays as it was.
    writeFileSync(join(root, "b/c.txt"), "C");
    at = changed() + RACY_NS / 2n;
    look = counted(store);
    assert.equal(new FileHasher(look.spy, () => at).digest(root), reference(root));
    assert.deepEqual(look.reads, { files: 2, folders: 1 });
    assert.deepEqual(store.getFolderStat(root), first, "not replaced by an unsettled one");
    // Later: a.txt from its entry, c.txt hashed again; the folder's entry is the new one.
    at = changed() + 5n * RACY_NS;
    assert.equal(new FileHasher(store, () => at).digest(root), reference(root));
    assert.equal(store.getFolderStat(root)?.digest, reference(root));
    assert.notEqual(reference(root), first?.digest);
    await store.close();
  });

  it("a folder entry changed in the store (its digest, a flipped bit, no seal) is a miss, never believed", async () => {
    const dir = tempDir();
    writeFiles(dir, { "t/a.txt": "a", "t/b/c.txt": "c" });
    const root = join(dir, "t");
    const cacheDir = join(dir, "cache");
    const key = `folder:${root}`;
    const edits: [string, (v: Record<string, unknown>) => Record<string, unknown>][] = [
      ["its digest", (v) => ({ ...v, digest: "c".repeat(64) })],
      ["a bit of its listing", (v) => ({ ...v, listing: flipHex(v.listing as string) })],
      ["its count", (v) => ({ ...v, files: 3 })],
      ["its seal", (v) => ({ ...v, seal: flipHex(v.seal as string) })],
      ["no seal (an older entry)", ({ seal: _, ...v }) => v],
    ];
    for (const [what, change] of edits) {
      const store = CacheStore.open(cacheDir);
      new FileHasher(store, later).digest(root);
      assert.ok(store.getFolderStat(root), "written");
      await store.close();
      const env = open({ path: cacheDir, maxDbs: 12 });
      const stats = env.openDB({ name: "stat", encoding: "msgpack" });
      const stored = stats.get(key) as Record<string, unknown>;
      assert.ok(stored, `stored under ${key}`);
      await stats.put(key, change(stored));
      await env.close();
      const again = CacheStore.open(cacheDir);
      assert.equal(again.getFolderStat(root), undefined, `${what}: a miss`);
      const { spy, reads } = counted(again);
      assert.equal(new FileHasher(spy, later).digest(root), reference(root), what);
      assert.deepEqual(reads, { files: 2, folders: 1 }, `${what}: each file looked up`);
      await again.close();
    }
  });

  it("verify drops a damaged folder entry and keeps the whole ones; repair and gc keep them", async () => {
    const dir = tempDir();
    writeFiles(dir, { "t1/a.txt": "a", "t1/b/c.txt": "c", "t2/d.txt": "d" });
    const [t1, t2] = [join(dir, "t1"), join(dir, "t2")];
    const cacheDir = join(dir, "cache");
    let store = CacheStore.open(cacheDir);
    new FileHasher(store, later).digest(t1);
    new FileHasher(store, later).digest(t2);
    await store.close();
    const env = open({ path: cacheDir, maxDbs: 12 });
    const stats = env.openDB({ name: "stat", encoding: "msgpack" });
    const stored = stats.get(`folder:${t2}`) as Record<string, unknown>;
    await stats.put(`folder:${t2}`, { ...stored, digest: "c".repeat(64) });
    await env.close();

    const oneRead = async (what: string) => {
      store = CacheStore.open(cacheDir);
      const { spy, reads } = counted(store);
      assert.equal(new FileHasher(spy, later).digest(t1), reference(t1), what);
      assert.deepEqual(reads, { files: 0, folders: 1 }, `${what}: one read`);
      await store.close();
    };
    const report = await verifyCache(cacheDir);
    assert.equal(report.unreadable, undefined);
    assert.deepEqual(report.damagedAux, [{ table: "stat", key: `folder:${t2}` }]);
    assert.deepEqual((await verifyCache(cacheDir)).damagedAux, [], "dropped");
    await oneRead("after verify");

    const repaired = await repairCache(cacheDir);
    assert.equal(repaired.verify.unreadable, undefined);
    // The stat table: 3 files' entries and t1's folder entry.
    assert.deepEqual(
      repaired.tables.find((t) => t.name === "stat"),
      { name: "stat", copied: 4, lost: 0, skippedRanges: 0 },
    );
    await oneRead("after repair");

    store = CacheStore.open(cacheDir);
    const report2 = gc(store, {});
    assert.equal(report2.keptRecords, 0);
    await store.close();
    await oneRead("after gc");
  });

  it("`rnnp run` of a pipeline reading a folder: one entry once settled; a same-size rewrite with its mtime set back, or a folder renamed, reruns what reads it", async () => {
    const rig = new Rig().write({
      "mail/ham/1.txt": "hello there",
      "mail/spam/2.txt": "buy now!!!!",
      "p.rnnp": `pipeline p {
  stage raw = load.text(path: "mail")
  stage few = head(raw, n: 2)
}
`,
    });
    const mail = rig.path("mail");
    for (const f of walkFiles(mail)) utimesSync(f.abs, T0, T0);
    await new Promise((r) => setTimeout(r, Number(RACY_NS / 1_000_000n) + 200)); // settled
    const cache = rig.path("cache");
    const run = async () => {
      const r = await rig.rnnp(["run", "p.rnnp", "--json", "--cache", cache]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { stages: { name: string; status: string }[] }).stages.map(
        (s) => `${s.name} ${s.status}`,
      );
    };
    const shown = async () =>
      (await rig.rnnp(["show", "few", "p.rnnp", "--cache", cache])).stdout.replace(/\s+/g, " ");
    assert.deepEqual(await run(), ["raw ran", "few ran"]);
    let store = CacheStore.open(cache);
    assert.equal(store.getFolderStat(mail)?.digest, reference(mail), "the folder's entry");
    await store.close();
    assert.deepEqual(await run(), ["raw cached", "few cached"]);
    // As a process: the folder's listing is hashed as every hash of a cached run is (core's sha256,
    // rnnp's digest add-on), so node:crypto stays unloaded (test/cli/startup.test.ts).
    if (nativeDigest()) assert.equal(loadsCrypto(rig, ["run", "p.rnnp", "--cache", cache]), false);

    writeFileSync(join(mail, "ham/1.txt"), "hello THERE");
    utimesSync(join(mail, "ham/1.txt"), T0, T0);
    assert.deepEqual(await run(), ["raw ran", "few ran"]);
    assert.match(await shown(), /"hello THERE"/);
    renameSync(join(mail, "spam"), join(mail, "junk"));
    assert.deepEqual(await run(), ["raw ran", "few ran"]);
    assert.match(await shown(), /"junk"/);
    store = CacheStore.open(cache);
    const { spy, reads } = counted(store);
    assert.equal(new FileHasher(spy, later).digest(mail), reference(mail));
    assert.equal(reads.folders, 1);
    await store.close();
  });

  it("4 processes hashing one folder into one fresh cache at once: each gets its digest, and the entry is whole", async () => {
    const dir = tempDir();
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`t/${i % 7}/${i}.txt`] = `file ${i}`;
    writeFiles(dir, files);
    const root = join(dir, "t");
    const cacheDir = join(dir, "cache");
    const out = (i: number) => join(dir, `digest-${i}`);
    const ends = await together("folder-hasher.ts", 4, (i) => [cacheDir, root, out(i)]);
    assert.deepEqual(failures(ends), []);
    const expected = reference(root);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => readFileSync(out(i), "utf8")),
      [expected, expected, expected, expected],
    );
    const store = CacheStore.open(cacheDir);
    const { spy, reads } = counted(store);
    assert.equal(new FileHasher(spy, later).digest(root), expected);
    assert.deepEqual(reads, { files: 0, folders: 1 });
    await store.close();
  });
});

/**
 * Whether `rnnp ARGS`, a process with its stdin a file and its stdout a pipe, loads node:crypto the
 * second time (the first writes the checked pipeline's cache, whose temporary name is random).
 */
function loadsCrypto(rig: Rig, args: string[]): boolean {
  const log = rig.path("loaded.log");
  const observe = rig.path("observe.cjs");
  writeFileSync(
    observe,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(log)}, process.moduleLoadList.join("\\n")));\n`,
  );
  writeFileSync(rig.path("stdin.txt"), "");
  const stdin = openSync(rig.path("stdin.txt"), "r");
  try {
    for (const _ of [1, 2]) {
      const r = spawnSync(process.execPath, [...NODE_FLAGS, "--require", observe, BIN, ...args], {
        cwd: rig.dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
        stdio: [stdin, "pipe", "pipe"],
      });
      assert.equal(r.status, 0, r.stderr);
    }
  } finally {
    closeSync(stdin);
  }
  const loaded = readFileSync(log, "utf8").split("\n");
  assert.ok(loaded.includes("NativeModule vm"), `modules are observed: ${loaded.join(" ")}`);
  return loaded.includes("NativeModule crypto");
}

function flipHex(hex: string): string {
  return (hex[0] === "0" ? "1" : "0") + hex.slice(1);
}
