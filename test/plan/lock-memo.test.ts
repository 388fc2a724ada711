import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { knownLock, rememberLock } from "../../src/plan/lock-memo.js";
import { tempDir } from "../helpers.js";

describe("lock memo: the lock's stat stands for its bytes", () => {
  const setup = () => {
    const dir = tempDir();
    const lock = join(dir, "p.lock");
    const text = '{\n  "lockfileVersion": 1\n}\n';
    writeFileSync(lock, text);
    rememberLock(join(dir, "cache"), lock, "identity-1", text);
    const memoFile = join(dir, "cache", "locks", readdirSync(join(dir, "cache", "locks"))[0]!);
    const memo = () => JSON.parse(readFileSync(memoFile, "utf8")) as Record<string, unknown>;
    return { dir, lock, text, memoFile, memo };
  };
  const later = () => Date.now() + 5_000;

  it("is kept only once the lock last changed well before a run found its bytes as written", () => {
    const { dir, lock, memo } = setup();
    const cache = join(dir, "cache");
    // Just written: its bytes are checked, its stat not trusted yet (a write in the same tick could hide).
    assert.deepEqual(knownLock(cache, lock), { identity: "identity-1" });
    assert.equal(memo().stat, undefined);
    // Later: the bytes check again, and the stat is kept.
    assert.deepEqual(knownLock(cache, lock, later()), { identity: "identity-1" });
    const st = statSync(lock, { bigint: true });
    assert.equal(memo().stat, [st.size, st.mtimeNs, st.ctimeNs, st.ino, st.dev].join(" "));
  });

  it("an unchanged stat is believed without reading; any write (same size, mtime set back) is seen", () => {
    const { dir, lock, text, memoFile, memo } = setup();
    const cache = join(dir, "cache");
    knownLock(cache, lock, later());
    // The stat alone answers: a memo whose digest no longer matches the bytes still says yes.
    writeFileSync(memoFile, JSON.stringify({ ...memo(), digest: "0".repeat(64) }));
    assert.deepEqual(knownLock(cache, lock), { identity: "identity-1" });
    // An edit in place keeping the size, its mtime set back: the ctime moved, so the bytes are read.
    const { atime, mtime } = statSync(lock);
    writeFileSync(lock, text.replace("1", "2"));
    utimesSync(lock, atime, mtime);
    assert.equal(knownLock(cache, lock, later()), undefined);
  });
});
