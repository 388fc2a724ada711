import type { Digest, StageKey } from "../core/digest.js";
import type { StageRecord } from "./record.js";
import type { CacheStore } from "./store.js";

export interface GcOptions {
  /** Records to keep whatever the caps say (those the given pipelines use now). */
  keep?: ReadonlySet<StageKey>;
  /** Remove unkept records older than this. */
  maxAgeMs?: number;
  /** Then remove unkept records, oldest first, until the blobs total at most this. */
  maxSizeBytes?: number;
  dryRun?: boolean;
  now?: number;
}

export interface GcReport {
  removedRecords: StageRecord<unknown>[];
  freedBlobs: { digest: Digest; size: number }[];
  keptRecords: number;
  sizeBefore: number;
  sizeAfter: number;
}

/**
 * Garbage collection. With no caps, every record not kept goes; with caps, only what breaks them.
 * Blobs that no remaining record names go in the same transaction. (Verification, which must survive
 * a damaged file, is in salvage.ts.)
 */
export function gc(store: CacheStore, o: GcOptions): GcReport {
  const now = o.now ?? Date.now();
  const records = [...store.allRecords()].sort((a, b) =>
    a.provenance.createdAt.localeCompare(b.provenance.createdAt),
  );
  const blobs = new Map([...store.allBlobDigests()].map((b) => [b.digest as string, b.size]));
  const sizeBefore = [...blobs.values()].reduce((a, b) => a + b, 0);
  const refs = new Map<string, number>();
  for (const r of records)
    for (const out of Object.values(r.outputs))
      refs.set(out.digest, (refs.get(out.digest) ?? 0) + 1);

  const kept = (r: StageRecord<unknown>) => o.keep?.has(r.key) ?? false;
  const removed = new Set<StageRecord<unknown>>();
  let size = [...blobs.entries()].filter(([d]) => refs.has(d)).reduce((a, [, s]) => a + s, 0);
  const drop = (r: StageRecord<unknown>) => {
    removed.add(r);
    for (const out of Object.values(r.outputs)) {
      const n = refs.get(out.digest)! - 1;
      refs.set(out.digest, n);
      if (n === 0) size -= blobs.get(out.digest) ?? 0;
    }
  };
  const capped = o.maxAgeMs !== undefined || o.maxSizeBytes !== undefined;
  for (const r of records) {
    if (kept(r)) continue;
    if (
      !capped ||
      (o.maxAgeMs !== undefined && now - Date.parse(r.provenance.createdAt) > o.maxAgeMs)
    )
      drop(r);
  }
  if (o.maxSizeBytes !== undefined) {
    for (const r of records) {
      if (size <= o.maxSizeBytes) break;
      if (!kept(r) && !removed.has(r)) drop(r);
    }
  }
  const removedRecords = records.filter((r) => removed.has(r));
  let freedBlobs: { digest: Digest; size: number }[];
  if (o.dryRun) {
    freedBlobs = [...blobs.entries()]
      .filter(([d]) => !refs.get(d))
      .map(([digest, s]) => ({ digest: digest as Digest, size: s }));
  } else {
    freedBlobs = store.removeAndSweep(removedRecords.map((r) => r.key));
  }
  const freed = freedBlobs.reduce((a, b) => a + b.size, 0);
  return {
    removedRecords,
    freedBlobs,
    keptRecords: records.length - removedRecords.length,
    sizeBefore,
    sizeAfter: sizeBefore - freed,
  };
}
