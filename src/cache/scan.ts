import { digestOf, type Digest, type StageKey } from "../core/digest.js";
import type { StageRecord } from "./record.js";
import type { AuxEntry, CacheStore } from "./store.js";

/**
 * What a full read of a cache found: every blob hashed, every record decoded and checked. Computed
 * in a child process when the cache may be damaged (salvage.ts), so it is plain JSON.
 */
export interface ScanReport {
  blobsChecked: number;
  bytesChecked: number;
  /** Blobs whose bytes do not hash to their digest. */
  corrupt: Digest[];
  recordsChecked: number;
  /** Records that do not decode, are malformed, or are not filed under the digest of their manifest. */
  damagedRecords: { key: StageKey; problem: string }[];
  /** Sound records naming a blob that is corrupt, missing, or of another size than they say. */
  droppedRecords: { key: StageKey; stage: string; missing: Digest[] }[];
  /** Blobs no sound record names. */
  orphans: { digest: Digest; size: number }[];
  /**
   * Entries of the tables that only save work (stat cache, history, checks, leases) that do not
   * decode, and stat-cache entries (a file's or a folder's) whose seal does not match.
   */
  damagedAux: AuxEntry[];
}

/** Progress of a scan: items done of a total in a phase, and for blobs the bytes read so far. */
export type ScanProgress = (phase: string, done: number, total: number, bytes?: number) => void;

export function scan(store: CacheStore, onProgress: ScanProgress = () => {}): ScanReport {
  const sizes = new Map<Digest, number>();
  const corrupt: Digest[] = [];
  let bytesChecked = 0;
  const digests = store.blobDigests();
  digests.forEach((digest, i) => {
    const bytes = store.getBlob(digest);
    if (bytes === undefined) return store.lostByLookup("blobs", digest);
    bytesChecked += bytes.byteLength;
    if (digestOf(bytes) === digest) sizes.set(digest, bytes.byteLength);
    else corrupt.push(digest);
    onProgress("blobs", i + 1, digests.length, bytesChecked);
  });

  const damagedRecords: ScanReport["damagedRecords"] = [];
  const sound: StageRecord<unknown>[] = [];
  const total = store.recordCount();
  let done = 0;
  for (const entry of store.scanRecords()) {
    if ("problem" in entry) damagedRecords.push({ key: entry.key, problem: entry.problem.problem });
    else sound.push(entry.record);
    onProgress("records", ++done, total);
  }

  const droppedRecords: ScanReport["droppedRecords"] = [];
  const named = new Set<Digest>();
  for (const r of sound) {
    const missing = Object.values(r.outputs)
      .filter((o) => sizes.get(o.digest) !== o.size)
      .map((o) => o.digest);
    if (missing.length)
      droppedRecords.push({
        key: r.key,
        stage: `${r.provenance.pipeline}/${r.provenance.stage}`,
        missing: [...new Set(missing)],
      });
    else for (const o of Object.values(r.outputs)) named.add(o.digest);
  }
  const damagedAux = store.scanAux();
  onProgress("other tables", 1, 1);
  const orphans = [...sizes]
    .filter(([d]) => !named.has(d))
    .map(([digest, size]) => ({ digest, size }));
  return {
    blobsChecked: digests.length,
    bytesChecked,
    corrupt,
    recordsChecked: done,
    damagedRecords,
    droppedRecords,
    orphans,
    damagedAux,
  };
}
