import { openSync, readSync, closeSync, statSync, type BigIntStats } from "node:fs";
import { createHash } from "node:crypto";
import { canonicalJson } from "../core/canonical.js";
import { sha256, type Digest } from "../core/digest.js";
import type { CacheStore, StatEntry } from "../cache/store.js";
import { walkFiles } from "../project/paths.js";

/**
 * Content digests of the data files stages read. Content is the truth; the stat cache only avoids
 * re-reading a file whose size, mtime, ctime, inode and device are unchanged since it was hashed.
 * The ctime matters because the mtime can be set back (`cp -p`, `touch -r`, an unpacked archive)
 * while the ctime cannot: any write or utimes moves it to now. As in git's "racy" check, an entry is
 * trusted only if the file last changed (the later of mtime and ctime) well before it was hashed: a
 * write within the same clock tick as the hashing could otherwise go unseen.
 */
export const RACY_NS = 2_000_000_000n;

export class FileHasher {
  private readonly memo = new Map<string, Digest>();
  constructor(private readonly store: CacheStore) {}

  /** Digest of a file, or of a folder tree (its relative paths and their file digests). */
  digest(abs: string): Digest {
    const known = this.memo.get(abs);
    if (known) return known;
    const st = statSync(abs, { bigint: true });
    const hashed: [string, StatEntry][] = [];
    const d = st.isDirectory()
      ? (sha256(
          canonicalJson(
            walkFiles(abs).map((f) => [
              f.rel,
              this.fileDigest(f.abs, statSync(f.abs, { bigint: true }), hashed),
            ]),
          ),
        ) as Digest)
      : this.fileDigest(abs, st, hashed);
    this.store.putStats(hashed);
    this.memo.set(abs, d);
    return d;
  }

  /** A file's digest, from the stat cache if it may be trusted; else hashed, its new entry added to `hashed`. */
  private fileDigest(abs: string, st: BigIntStats, hashed: [string, StatEntry][]): Digest {
    const cached = this.store.getStat(abs);
    if (
      cached &&
      cached.size === Number(st.size) &&
      cached.mtimeNs === String(st.mtimeNs) &&
      cached.ctimeNs === String(st.ctimeNs) &&
      cached.ino === String(st.ino) &&
      cached.dev === String(st.dev) &&
      lastChangeNs(st) + RACY_NS < BigInt(cached.hashedAtNs)
    ) {
      return cached.digest;
    }
    const hashedAtNs = BigInt(Date.now()) * 1_000_000n; // taken before reading: a write during hashing is racy too
    const digest = hashFile(abs);
    hashed.push([
      abs,
      {
        size: Number(st.size),
        mtimeNs: String(st.mtimeNs),
        ctimeNs: String(st.ctimeNs),
        ino: String(st.ino),
        dev: String(st.dev),
        digest,
        hashedAtNs: String(hashedAtNs),
      },
    ]);
    return digest;
  }
}

export function lastChangeNs(st: BigIntStats): bigint {
  if (st.ctimeNs > st.mtimeNs) return st.ctimeNs;
  return st.mtimeNs;
}

/** Streams the file through SHA-256 in 1 MiB reads, so large files need no large buffers. */
export function hashFile(abs: string): Digest {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(abs, "r");
  try {
    for (
      let n = readSync(fd, buf, 0, buf.length, null);
      n > 0;
      n = readSync(fd, buf, 0, buf.length, null)
    ) {
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex") as Digest;
}
