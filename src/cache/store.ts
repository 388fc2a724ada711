import { mkdirSync } from "node:fs";
import { open, type Database, type RootDatabase } from "lmdb";
import { digestOf, type Digest, type StageKey } from "../core/digest.js";
import type { StageRecord } from "./record.js";

/**
 * The content-addressed cache: one LMDB environment holding
 *   blobs    digest -> artifact bytes (stored once, however many stages produce them)
 *   records  stage key -> StageRecord
 *   history  [pipeline, stage] -> recent keys of that stage, newest first (for `why`)
 *   stat     absolute path -> stat + digest of a data file (to skip re-hashing unchanged files)
 * LMDB gives multi-process safety (one writer at a time, readers never blocked) and crash safety.
 */
export interface StatEntry {
  size: number;
  mtimeNs: string;
  ino: string;
  dev: string;
  digest: Digest;
  hashedAtNs: string;
}

/** The last `rnnp check` of a record: whether rebuilding it in fresh processes gave the same bytes. */
export interface CheckResult {
  checkedAt: string;
  runs: number;
  identical: boolean;
  /** Outputs whose bytes differed. */
  differing: string[];
}

/** Who is computing a stage right now, so that another process waits instead of computing it too. */
export interface Lease {
  pid: number;
  host: string;
  token: string;
  expiresAt: number;
}

interface HistoryEntry {
  key: StageKey;
  at: string;
}

const HISTORY_LENGTH = 32;

export class CacheStore {
  private constructor(
    readonly dir: string,
    private readonly root: RootDatabase,
    private readonly blobs: Database<Buffer, string>,
    private readonly records: Database<StageRecord<unknown>, string>,
    private readonly history: Database<HistoryEntry[], string[]>,
    private readonly stats: Database<StatEntry, string>,
    private readonly leases: Database<Lease, string>,
    private readonly checks: Database<CheckResult, string>,
  ) {}

  static open(dir: string): CacheStore {
    mkdirSync(dir, { recursive: true });
    // A folder always (lmdb would take a name with a dot, such as mktemp's tmp.X, for a file).
    const root = open({ path: dir, maxDbs: 8, compression: false, noSubdir: false });
    return new CacheStore(
      dir,
      root,
      root.openDB<Buffer, string>({ name: "blobs", encoding: "binary" }),
      root.openDB<StageRecord<unknown>, string>({ name: "records", encoding: "msgpack" }),
      root.openDB<HistoryEntry[], string[]>({ name: "history", encoding: "msgpack" }),
      root.openDB<StatEntry, string>({ name: "stat", encoding: "msgpack" }),
      root.openDB<Lease, string>({ name: "leases", encoding: "msgpack" }),
      root.openDB<CheckResult, string>({ name: "checks", encoding: "msgpack" }),
    );
  }

  getRecord<M>(key: StageKey): StageRecord<M> | undefined {
    return this.records.get(key) as StageRecord<M> | undefined;
  }

  hasBlob(digest: Digest): boolean {
    return this.blobs.doesExist(digest);
  }

  /** The stored bytes, unverified; see readArtifact in run/ for the verified read. */
  getBlob(digest: Digest): Buffer | undefined {
    return this.blobs.getBinary(digest);
  }

  /**
   * Stores a stage's blobs and its record in one synchronous LMDB transaction: either all of it is
   * committed or none (a throw inside rolls everything back; a crash leaves the previous state).
   * Blobs already present are not rewritten.
   */
  commit(
    record: StageRecord<unknown>,
    blobs: ReadonlyMap<Digest, Uint8Array>,
    historyOf: { pipeline: string; stage: string },
  ): void {
    this.root.transactionSync(() => {
      for (const [digest, bytes] of blobs) {
        if (!this.blobs.doesExist(digest))
          this.blobs.putSync(digest, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      for (const out of Object.values(record.outputs)) {
        if (!this.blobs.doesExist(out.digest))
          throw new Error(
            `record ${record.key} names blob ${out.digest}, which is neither given nor stored`,
          );
      }
      this.records.putSync(record.key, record);
      const hkey = [historyOf.pipeline, historyOf.stage];
      const prior = (this.history.get(hkey) ?? []).filter((h) => h.key !== record.key);
      this.history.putSync(
        hkey,
        [{ key: record.key, at: record.provenance.createdAt }, ...prior].slice(0, HISTORY_LENGTH),
      );
    });
  }

  /**
   * Stores many records and blobs at once (an import, a remote fetch), all or nothing. Blobs come from
   * `blob(digest)`, asked only for those not stored yet; history is not touched (these records were
   * made elsewhere). Returns how many records and blobs were new.
   */
  importAll(
    records: readonly StageRecord<unknown>[],
    digests: Iterable<Digest>,
    blob: (d: Digest) => Uint8Array,
  ): { records: number; blobs: number; bytes: number } {
    return this.root.transactionSync(() => {
      let blobs = 0;
      let bytes = 0;
      for (const d of digests) {
        if (this.blobs.doesExist(d)) continue;
        const b = blob(d);
        this.blobs.putSync(d, Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        blobs++;
        bytes += b.byteLength;
      }
      let added = 0;
      for (const r of records) {
        for (const o of Object.values(r.outputs))
          if (!this.blobs.doesExist(o.digest))
            throw new Error(
              `record ${r.key} names blob ${o.digest}, which is neither given nor stored`,
            );
        if (!this.records.doesExist(r.key)) added++;
        this.records.putSync(r.key, r);
      }
      return { records: added, blobs, bytes };
    });
  }

  hasRecord(key: StageKey): boolean {
    return this.records.doesExist(key);
  }

  /** Keys this stage had before, newest first. */
  historyOf(pipeline: string, stage: string): StageKey[] {
    return (this.history.get([pipeline, stage]) ?? []).map((h) => h.key);
  }

  *allRecords(): Generator<StageRecord<unknown>> {
    for (const { value } of this.records.getRange()) yield value;
  }

  *allBlobDigests(): Generator<{ digest: Digest; size: number }> {
    for (const { key, value } of this.blobs.getRange())
      yield { digest: key as Digest, size: value.length };
  }

  /** Verifies one blob against its digest. */
  blobIsIntact(digest: Digest): boolean {
    const bytes = this.blobs.getBinary(digest);
    return bytes !== undefined && digestOf(bytes) === digest;
  }

  /** Removes records and blobs in one transaction. */
  remove(keys: Iterable<StageKey>, digests: Iterable<Digest>): void {
    this.root.transactionSync(() => {
      for (const k of keys) this.records.removeSync(k);
      for (const d of digests) this.blobs.removeSync(d);
    });
  }

  /**
   * Removes records, then every blob no remaining record names, in one write transaction. The
   * references are read inside it, so a record another process commits meanwhile either lands
   * before (and keeps its blobs) or after (and brings them).
   */
  removeAndSweep(keys: Iterable<StageKey>): { digest: Digest; size: number }[] {
    return this.root.transactionSync(() => {
      for (const k of keys) this.records.removeSync(k);
      const referenced = new Set<string>();
      for (const { value } of this.records.getRange())
        for (const o of Object.values(value.outputs)) referenced.add(o.digest);
      const swept: { digest: Digest; size: number }[] = [];
      for (const { key, value } of this.blobs.getRange()) {
        if (!referenced.has(key)) swept.push({ digest: key as Digest, size: value.length });
      }
      for (const b of swept) this.blobs.removeSync(b.digest);
      return swept;
    });
  }

  /**
   * Takes the lease on a key unless a live holder has it. A holder is dead when its lease expired, or
   * when it ran on this host and its process is gone (a SIGKILL leaves no chance to release).
   * Returns the current holder when the lease is taken.
   */
  tryLease(key: StageKey, lease: Lease): Lease | undefined {
    return this.root.transactionSync(() => {
      const held = this.leases.get(key);
      if (
        held &&
        held.token !== lease.token &&
        held.expiresAt > Date.now() &&
        !(held.host === lease.host && !processAlive(held.pid))
      )
        return held;
      this.leases.putSync(key, lease);
      return undefined;
    });
  }

  /** Extends or drops a lease this holder owns (a lease taken over by another process is left alone). */
  renewLease(key: StageKey, lease: Lease): void {
    this.root.transactionSync(() => {
      if (this.leases.get(key)?.token === lease.token) this.leases.putSync(key, lease);
    });
  }

  releaseLease(key: StageKey, token: string): void {
    this.root.transactionSync(() => {
      if (this.leases.get(key)?.token === token) this.leases.removeSync(key);
    });
  }

  recordCheck(key: StageKey, result: CheckResult): void {
    this.checks.putSync(key, result);
  }

  getCheck(key: StageKey): CheckResult | undefined {
    return this.checks.get(key);
  }

  getStat(path: string): StatEntry | undefined {
    return this.stats.get(path);
  }

  /** Stat-cache entries in one commit: a commit per file costs a disk sync each (seconds for a corpus of files). */
  putStats(entries: readonly (readonly [string, StatEntry])[]): void {
    if (!entries.length) return;
    this.root.transactionSync(() => {
      for (const [path, entry] of entries) this.stats.putSync(path, entry);
    });
  }

  close(): Promise<void> {
    return this.root.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
