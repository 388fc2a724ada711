import { type BigIntStats, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeAtomically } from "../core/atomic-write.js";
import { sha256 } from "../core/digest.js";
import { lastChangeNs, RACY_NS } from "./files.js";

/**
 * What the cache remembers of the lockfiles its runs wrote, so that a fully cached run of a large
 * pipeline neither parses its lock nor builds the text of a new one to find them equal (for 10,000
 * stages, 7 MB of JSON each way). One small file per lock path in `<cache>/locks/`: the SHA-256 of
 * the lock's bytes as written, and the identity of what they were written from (lockIdentity: every
 * stage's key, outputs and inputs, the pipeline's name, rnnp's version and build).
 *
 * It is used only when the lock's bytes, read now, still hash to the remembered digest: the file is
 * then exactly what rnnp wrote (so valid JSON), and if the run's identity is the remembered one, the
 * lock it would write is byte for byte the file. Anything else (no memo, a lock edited or replaced,
 * another identity) takes the full path: parse, rebuild, compare, write. A memo is advice, never a
 * source of bytes: a damaged one is a miss.
 *
 * Once a run has found the bytes as written, the memo also keeps the lock's stat (size, mtime,
 * ctime, inode, device), under the data files' rule (src/plan/files.ts): only when the file last
 * changed well before (RACY_NS), so that a write in the same clock tick cannot go unseen. While the
 * stat is unchanged, the lock is not read again (10,000 stages: 7 MB read and hashed twice a run).
 */
const FORMAT = "rnnp-lock-memo-1";
/** Memos kept per cache: lockfiles in use, with room to spare; the least recently written go. */
const MAX_MEMOS = 256;

export interface LockMemo {
  identity: string;
}

function memoPath(cacheDir: string, lockPath: string): string {
  return join(cacheDir, "locks", `${sha256(`${FORMAT}\0${lockPath}`).slice(0, 40)}.json`);
}

/** The identity the lock at `lockPath` (absolute) was written from, if its bytes are as written. */
export function knownLock(
  cacheDir: string,
  lockPath: string,
  /** The time now, in ms (for tests). */
  nowMs = Date.now(),
): LockMemo | undefined {
  try {
    const path = memoPath(cacheDir, lockPath);
    const memo = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (!isMemo(memo) || memo.path !== lockPath) return undefined;
    const st = statSync(lockPath, { bigint: true });
    if (memo.stat !== undefined && memo.stat === statOf(st)) return { identity: memo.identity };
    if (sha256(readFileSync(lockPath)) !== memo.digest) return undefined;
    // As written: its stat can stand for its bytes from now on, if it last changed long enough ago.
    if (lastChangeNs(st) + RACY_NS < BigInt(nowMs) * 1_000_000n)
      writeAtomically(path, JSON.stringify({ ...memo, stat: statOf(st) }));
    return { identity: memo.identity };
  } catch {
    return undefined; // no memo, no lock, or unreadable: the full path
  }
}

/** What the stat of a lock says of its bytes (see knownLock), as one string. */
function statOf(st: BigIntStats): string {
  return [st.size, st.mtimeNs, st.ctimeNs, st.ino, st.dev].join(" ");
}

/** Remembers that the lock at `lockPath` holds `text`, written from `identity`. Failing is not an error. */
export function rememberLock(
  cacheDir: string,
  lockPath: string,
  identity: string,
  text: string,
): void {
  try {
    mkdirSync(join(cacheDir, "locks"), { recursive: true });
    writeAtomically(
      memoPath(cacheDir, lockPath),
      JSON.stringify({ format: FORMAT, path: lockPath, digest: sha256(text), identity }),
    );
    prune(join(cacheDir, "locks"));
  } catch {
    // A memo is an optimisation: without it the next run rebuilds the lock.
  }
}

interface Memo {
  format: string;
  path: string;
  digest: string;
  identity: string;
  /** The lock's stat, once a run found its bytes as written (see knownLock). */
  stat?: string;
}

function isMemo(v: unknown): v is Memo {
  const m = v as Partial<Memo> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    m.format === FORMAT &&
    typeof m.path === "string" &&
    typeof m.digest === "string" &&
    typeof m.identity === "string" &&
    (m.stat === undefined || typeof m.stat === "string")
  );
}

/** Keeps the folder small: the most recently written memos, and no temporary file older than an hour. */
function prune(dir: string): void {
  const names = readdirSync(dir);
  if (names.length <= MAX_MEMOS) return;
  const now = Date.now();
  const dated = names.map((name) => {
    try {
      return { name, at: statSync(join(dir, name)).mtimeMs };
    } catch {
      return { name, at: now };
    }
  });
  const memos = dated.filter((d) => d.name.endsWith(".json")).sort((a, b) => b.at - a.at);
  const stale = dated.filter((d) => d.name.endsWith(".tmp") && now - d.at > 3_600_000);
  for (const { name } of [...memos.slice(MAX_MEMOS), ...stale])
    rmSync(join(dir, name), { force: true });
}
