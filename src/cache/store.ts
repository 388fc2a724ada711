import { randomInt } from "node:crypto";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { open, type Database, type Key, type RootDatabase } from "lmdb";
import { UserError } from "../core/diagnostic.js";
import { digestOf, sha256, type Digest, type StageKey } from "../core/digest.js";
import { processAlive } from "../core/process.js";
import { LENT_OVER, releaseMappedPages } from "./pages.js";
import {
  BadRecordError,
  parseRecord,
  sealRecordText,
  type StageRecord,
  unsealRecordText,
} from "./record.js";

/**
 * The content-addressed cache: one LMDB environment holding
 *   blobs    digest -> artifact bytes (stored once, however many stages produce them)
 *   records  stage key -> StageRecord, as JSON text (exact: a key hashes the manifest it is filed with)
 *   history  [pipeline, stage] -> recent keys of that stage, newest first (for `why`)
 *   stat     absolute path -> stat + digest of a data file (to skip re-hashing unchanged files),
 *            and "folder:" + absolute path -> a folder input's listing digest + digest (one read)
 * LMDB gives multi-process safety (one writer at a time, readers never blocked) and crash safety.
 * Every record read is checked (decodes, well formed, filed under the digest of its manifest): a
 * damaged one is reported as such (BadRecordError), never served.
 */
export interface StatEntry {
  size: number;
  mtimeNs: string;
  /** Status change time: a rewrite that restores the old mtime (`cp -p`, `touch -r`) still moves it. */
  ctimeNs: string;
  ino: string;
  dev: string;
  digest: Digest;
  hashedAtNs: string;
}

/**
 * A stat-cache entry is believed for the digest of a file it does not read again: a digest changed
 * in the store (a flipped bit) would key every stage reading the file by bytes it never had. The
 * seal (the SHA-256 of the path and every field) makes such an entry a miss instead.
 */
type SealedStat = StatEntry & { seal?: unknown };

function statSeal(path: string, e: StatEntry): string {
  return sha256(
    JSON.stringify([path, e.size, e.mtimeNs, e.ctimeNs, e.ino, e.dev, e.digest, e.hashedAtNs]),
  );
}

/**
 * A folder input's stat-cache entry, so that a cached run reads one entry for a folder of 12,094
 * files instead of one per file (see FileHasher). It is written only when every file's digest was
 * settled (git's racy rule held for each), so an equal listing is all it takes to believe it.
 */
export interface FolderStatEntry {
  /** How many files the tree held. */
  files: number;
  /** SHA-256 of the files' relative paths and identities (size, mtime, ctime, inode, device). */
  listing: Digest;
  /** The folder's digest (of its files' relative paths and content digests). */
  digest: Digest;
}

type SealedFolder = FolderStatEntry & { seal?: unknown };

/** Folder entries share the stat table, under a key no absolute path has (see stat above). */
const FOLDER_KEY = "folder:";

function folderSeal(path: string, e: FolderStatEntry): string {
  return sha256(JSON.stringify(["folder", path, e.files, e.listing, e.digest]));
}

/** Whether a stat table entry (a file's or a folder's) is whole: only such an entry is believed. */
function statIsSealed(key: unknown, value: unknown): boolean {
  if (typeof key !== "string" || typeof value !== "object" || value === null) return false;
  const seal = (value as { seal?: unknown }).seal;
  return key.startsWith(FOLDER_KEY)
    ? seal === folderSeal(key.slice(FOLDER_KEY.length), value as FolderStatEntry)
    : seal === statSeal(key, value as StatEntry);
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

/** The tables that only save work: an entry of theirs that does not decode is as good as absent. */
export type AuxTable = "history" | "stat" | "leases" | "checks";
export interface AuxEntry {
  table: AuxTable;
  key: Key;
}
type AnyTable = Database<unknown, Key>;

/**
 * The largest blob LMDB can store: it writes a value's overflow pages with one pwrite, which Linux
 * caps at 0x7ffff000 bytes (larger values fail with EIO). Rounded down to leave room for headers.
 */
export const MAX_BLOB_BYTES = 2 * 1024 ** 3 - 64 * 1024;

/** The LMDB environment cannot be read where it was asked to: damage LMDB reports (not a crash). */
export class CacheDamagedError extends UserError {
  /** What is wrong, without saying which cache. */
  readonly detail: string;
  constructor(dir: string, what: string, cause: unknown) {
    const detail = `${what} (${(cause as Error)?.message ?? cause})`;
    super(`the cache at ${dir} is damaged: ${detail}`, {
      code: "cache-corrupt",
      hint: "run `rnnp cache verify` (and `rnnp cache repair` if it says so)",
      cause,
    });
    this.detail = detail;
  }
}

/**
 * Blobs up to this size are checked for by reading them (see hasBlob): copying 256 KiB costs about
 * what a cursor's set-up does (measured: 50 blobs of 75 KiB, 0.3 ms read, 0.25-2.7 ms counted).
 */
const SMALL_BLOB = 256 * 1024;

/** Environment-level failures while several processes open one cache at once: worth a retry. */
const TRANSIENT_OPEN = /No transaction to renew|MDB_PROBLEM|MDB_BAD_TXN|MDB_READERS_FULL|EAGAIN/;
const OPEN_ATTEMPTS = 5;

export class CacheStore {
  /** Records this process has decoded and checked, with the exact text they were read from. */
  private readonly checked = new Map<string, { text: string; record: StageRecord<unknown> }>();

  private constructor(
    readonly dir: string,
    private readonly root: RootDatabase,
    private readonly blobs: Database<Buffer, string>,
    private readonly records: Database<Buffer, string>,
    /** The same table read with the msgpack encoding of caches written before records were JSON. */
    private readonly legacyRecords: Database<unknown, string>,
    private readonly history: Database<HistoryEntry[], string[]>,
    private readonly stats: Database<SealedStat | SealedFolder, string>,
    private readonly leases: Database<Lease, string>,
    private readonly checks: Database<CheckResult, string>,
  ) {}

  /**
   * Opens (creating) the cache. Several processes may open one fresh cache at the same moment; LMDB
   * can then fail a first transaction with an environment-level error, so opening ends with a read
   * and write probe and is retried a few times (after a random pause) before it gives up.
   */
  static open(
    dir: string,
    opts: {
      readOnly?: boolean /** For tests: LMDB's open, to inject failures. */;
      openEnv?: typeof open;
    } = {},
  ): CacheStore {
    if (!opts.readOnly) mkdirSync(dir, { recursive: true });
    checkHeader(dir);
    const openEnv = opts.openEnv ?? open;
    const release = lockCache(dir);
    try {
      return CacheStore.openLocked(dir, opts.readOnly ?? false, openEnv);
    } finally {
      release();
    }
  }

  private static openLocked(dir: string, readOnly: boolean, openEnv: typeof open): CacheStore {
    for (let attempt = 1; ; attempt++) {
      let root: RootDatabase | undefined;
      try {
        root = openEnv({
          path: dir,
          // A directory, even when its name has a dot (lmdb-js takes `cache.v2` for a file otherwise).
          noSubdir: false,
          maxDbs: 8,
          compression: false,
          ...(readOnly ? { readOnly: true } : {}),
        });
        const store = new CacheStore(
          dir,
          root,
          root.openDB<Buffer, string>({ name: "blobs", encoding: "binary" }),
          root.openDB<Buffer, string>({ name: "records", encoding: "binary" }),
          root.openDB<unknown, string>({ name: "records", encoding: "msgpack" }),
          root.openDB<HistoryEntry[], string[]>({ name: "history", encoding: "msgpack" }),
          root.openDB<SealedStat | SealedFolder, string>({ name: "stat", encoding: "msgpack" }),
          root.openDB<Lease, string>({ name: "leases", encoding: "msgpack" }),
          root.openDB<CheckResult, string>({ name: "checks", encoding: "msgpack" }),
        );
        store.records.doesExist("probe");
        return store;
      } catch (e) {
        void root?.close().catch(() => {});
        if (attempt < OPEN_ATTEMPTS && TRANSIENT_OPEN.test(String((e as Error)?.message)))
          // Jitter that spreads racing processes apart, from crypto: Math.random may be a stage's
          // seeded stream (training replaces it for dropout), and drawing from it would move its bytes.
          sleepSync(10 + randomInt(40 * attempt + 1));
        else throw new CacheDamagedError(dir, "LMDB cannot open it", e);
      }
    }
  }

  /**
   * The record filed under a key, if it may be served: it decodes, is well formed, its manifest
   * hashes to the key, and every blob it names is stored (a record whose blob is gone is a miss: the
   * stage reruns and its new record replaces this one). Throws BadRecordError for a damaged record.
   * `hashed`: the manifest the caller hashed to `key`, if it has one (see parseRecord).
   */
  getRecord<M>(key: StageKey, hashed?: M): StageRecord<M> | undefined {
    const record = this.readRecord(key, hashed);
    if (!record) return undefined;
    for (const o of Object.values(record.outputs))
      if (!this.hasBlob(o.digest, o.size)) return undefined;
    return record as StageRecord<M>;
  }

  /** A record as stored, checked but whether or not its blobs are there; throws BadRecordError. */
  readRecord(key: StageKey, hashed?: unknown): StageRecord<unknown> | undefined {
    // Read in place (no copy): LMDB's buffer is decoded to text before anything reads again.
    const raw = this.read("a record", () => this.records.getBinaryFast(key));
    if (raw === undefined) return undefined;
    // JSON text starts with "{"; anything else is a record of an older cache, in msgpack.
    if (raw[0] !== 0x7b) return this.decodeRecord(key, raw, hashed);
    const text = raw.toString("utf8");
    // A run reads a record several times (a stage that ran: the lock's identity, then its entry;
    // the verdict): the same stored text is checked once. Other text under the key (a rerun,
    // another process) is checked anew. The planner's reads (`hashed`) are not kept here: it keeps
    // the record itself, and 10,000 texts kept twice cost a cached run of 10,000 stages its GC.
    const seen = this.checked.get(key);
    if (seen?.text === text) return seen.record;
    const record = recordOfText(key, text, hashed);
    if (hashed === undefined) this.checked.set(key, { text, record });
    return record;
  }

  private decodeRecord(key: string, raw: Buffer, hashed?: unknown): StageRecord<unknown> {
    if (raw[0] === 0x7b) return recordOfText(key, raw.toString("utf8"), hashed);
    let value: unknown;
    try {
      value = this.legacyRecords.get(key);
    } catch (e) {
      throw new BadRecordError(key, `it does not decode: ${(e as Error).message}`);
    }
    return parseRecord(value, key, hashed);
  }

  /**
   * Whether a blob is stored. LMDB's doesExist reads the value into its buffer, which it grows to
   * twice a large value's size: a blob said (`size`) to be large is looked up by its key alone, with
   * a cursor (several times slower than a read for a small one). The cursor counts the keys from
   * the digest to itself instead of listing them: a listed key is decoded, and the first string
   * key decoded compiles ordered-binary's reader (`new Function`, about 3 ms of a cached run).
   */
  hasBlob(digest: Digest, size?: number): boolean {
    return this.read("a blob", () => {
      if (size === undefined || size <= SMALL_BLOB) return this.blobs.doesExist(digest);
      return this.blobs.getKeysCount({ start: digest, end: digest, inclusiveEnd: true }) === 1;
    });
  }

  /** The stored bytes, unverified; see readArtifact in run/ for the verified read. */
  getBlob(digest: Digest): Buffer | undefined {
    return this.read("a blob", () => this.blobs.getBinary(digest));
  }

  /**
   * The stored bytes lent to `use` in place, without the copy `getBlob` makes (for a large blob,
   * LMDB's mapped pages are then the only copy). They are valid only until the store is read
   * again: `use` must not read the store, and must copy whatever it keeps. Undefined if missing.
   * The pages of a large blob are given back once `use` is done (they stay in the page cache);
   * `use` may give back those before an offset earlier, as it goes (`giveBack(upTo)`).
   */
  withBlob<T>(
    digest: Digest,
    use: (bytes: Buffer, giveBack: (upTo: number) => void) => T,
  ): T | undefined {
    const bytes = this.read("a blob", () => this.blobs.getBinaryFast(digest));
    if (bytes === undefined) return undefined;
    // A small value comes in LMDB's shared buffer, its `length` property set to the value's: a view
    // of exactly that length, or native code (hashing) would read the whole buffer.
    const view = bytes.subarray(0, bytes.length);
    // Only a blob lmdb lends from its map has pages to give back.
    const giveBack =
      view.length > LENT_OVER
        ? (upTo: number) => void releaseMappedPages(view.subarray(0, upTo))
        : () => {};
    try {
      return use(view, giveBack);
    } finally {
      giveBack(view.length);
    }
  }

  /** The stored bytes if they hash to their digest; undefined if missing or corrupt. */
  getIntactBlob(digest: Digest): Buffer | undefined {
    const bytes = this.getBlob(digest);
    return bytes !== undefined && digestOf(bytes) === digest ? bytes : undefined;
  }

  /**
   * Stores a stage's blobs and its record in one synchronous LMDB transaction: either all of it is
   * committed or none (a throw inside rolls everything back; a crash leaves the previous state).
   * Blobs already present are not rewritten.
   */
  commit(
    record: StageRecord<unknown>,
    blobs: ReadonlyMap<Digest, Uint8Array>,
    /** Absent for records that are not a stage's latest result (train's checkpoints). */
    historyOf?: { pipeline: string; stage: string },
  ): void {
    const text = encodeRecord(record);
    for (const [digest, bytes] of blobs) checkBlobSize(digest, bytes.byteLength);
    this.write(() => {
      // Looked up by size (hasBlob): doesExist on a large blob copies it into a buffer of twice its
      // size, and a blob just put is read from the transaction's own pages.
      for (const [digest, bytes] of blobs) {
        if (!this.hasBlob(digest, bytes.byteLength))
          this.blobs.putSync(digest, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      for (const out of Object.values(record.outputs)) {
        if (!blobs.has(out.digest) && !this.hasBlob(out.digest, out.size))
          throw new Error(
            `record ${record.key} names blob ${out.digest}, which is neither given nor stored`,
          );
      }
      this.records.putSync(record.key, text);
      if (!historyOf) return;
      const hkey = [historyOf.pipeline, historyOf.stage];
      const prior = (this.tolerant(() => this.history.get(hkey)) ?? []).filter(
        (h) => h.key !== record.key,
      );
      this.history.putSync(
        hkey,
        [{ key: record.key, at: record.provenance.createdAt }, ...prior].slice(0, HISTORY_LENGTH),
      );
    });
  }

  /**
   * Stores one verified blob that arrived from elsewhere (an import), in a transaction of its own, so
   * that memory holds one blob at a time (LMDB keeps a transaction's new pages in memory until it
   * commits). Returns false if it was stored already. The records naming it follow with importRecords;
   * until then it is an orphan no stage sees.
   */
  importBlob(digest: Digest, bytes: Uint8Array): boolean {
    checkBlobSize(digest, bytes.byteLength);
    return this.write(() => this.putBlob(digest, bytes));
  }

  private putBlob(digest: Digest, bytes: Uint8Array): boolean {
    if (this.hasBlob(digest, bytes.byteLength)) return false;
    this.blobs.putSync(digest, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return true;
  }

  /**
   * Stores checked records from elsewhere (an import, a remote fetch) in one transaction, all or
   * nothing, once every blob they name is stored. History is not touched (these records were made
   * elsewhere). Returns how many were new.
   */
  importRecords(records: readonly StageRecord<unknown>[]): number {
    const texts = records.map((r) => [r, encodeRecord(r)] as const);
    return this.write(() => this.putRecords(texts));
  }

  private putRecords(texts: readonly (readonly [StageRecord<unknown>, Buffer])[]): number {
    let added = 0;
    for (const [r, text] of texts) {
      for (const o of Object.values(r.outputs))
        if (!this.hasBlob(o.digest, o.size))
          throw new Error(
            `record ${r.key} names blob ${o.digest}, which is neither given nor stored`,
          );
      if (!this.records.doesExist(r.key)) added++;
      this.records.putSync(r.key, text);
    }
    return added;
  }

  /** A record and its blobs from elsewhere (the remote cache), in one transaction. */
  importAll(
    records: readonly StageRecord<unknown>[],
    digests: Iterable<Digest>,
    blob: (d: Digest) => Uint8Array,
  ): { records: number; blobs: number; bytes: number } {
    const texts = records.map((r) => [r, encodeRecord(r)] as const);
    return this.write(() => {
      let blobs = 0;
      let bytes = 0;
      for (const d of digests) {
        const b = blob(d);
        checkBlobSize(d, b.byteLength);
        if (this.putBlob(d, b)) {
          blobs++;
          bytes += b.byteLength;
        }
      }
      return { records: this.putRecords(texts), blobs, bytes };
    });
  }

  hasRecord(key: StageKey): boolean {
    return this.read("a record", () => this.records.doesExist(key));
  }

  /** Keys this stage had before, newest first. */
  historyOf(pipeline: string, stage: string): StageKey[] {
    return (this.tolerant(() => this.history.get([pipeline, stage])) ?? []).map((h) => h.key);
  }

  /** Every record, checked; the first damaged one throws BadRecordError (see scanRecords). */
  *allRecords(): Generator<StageRecord<unknown>> {
    for (const entry of this.scanRecords()) {
      if ("problem" in entry) throw entry.problem;
      yield entry.record;
    }
  }

  /** Every record, or for a damaged one its key and what is wrong (for verify and ls). */
  *scanRecords(): Generator<
    { key: StageKey; record: StageRecord<unknown> } | { key: StageKey; problem: BadRecordError }
  > {
    for (const key of this.read("the records", () => [...this.records.getKeys()])) {
      const raw = this.read("a record", () => this.records.getBinary(key));
      if (raw === undefined) {
        this.lostByLookup("records", key);
        continue;
      }
      try {
        yield { key: key as StageKey, record: this.decodeRecord(key, raw) };
      } catch (e) {
        if (!(e instanceof BadRecordError)) throw e;
        yield { key: key as StageKey, problem: e };
      }
    }
  }

  recordCount(): number {
    return this.read("the records", () => this.records.getCount());
  }

  /** Every blob's digest and size. Each blob is read and let go in turn: memory holds one at a time. */
  *allBlobDigests(): Generator<{ digest: Digest; size: number }> {
    yield* this.read("the blobs", () => {
      const sizes: { digest: Digest; size: number }[] = [];
      for (const { key, value } of this.blobs.getRange())
        sizes.push({ digest: key as Digest, size: value.length });
      return sizes;
    });
  }

  /** Blob digests only, without reading their bytes. */
  /**
   * For a key a listing gave that a lookup then did not find: another process may have removed it
   * since (then a listing no longer has it either), or the table's tree is damaged, a separator of
   * a branch page sending the lookup elsewhere while the listing, leaf by leaf, still finds it.
   * Damage throws CacheDamagedError: skipping the key passed such a cache as intact while its
   * records were not checked and their blobs were swept as named by nothing.
   */
  lostByLookup(table: "blobs" | "records", key: string): void {
    const db = table === "blobs" ? this.blobs : this.records;
    const listed = this.read(`the ${table}`, () => [...db.getKeys({ start: key, limit: 1 })]);
    if (listed[0] === key)
      throw new CacheDamagedError(
        this.dir,
        `the ${table} table lists key ${key.slice(0, 12)}, which a lookup does not find`,
        "its tree is damaged",
      );
  }

  blobDigests(): Digest[] {
    return this.read("the blobs", () => [...this.blobs.getKeys()] as Digest[]);
  }

  /** Verifies one blob against its digest. */
  blobIsIntact(digest: Digest): boolean {
    return this.getIntactBlob(digest) !== undefined;
  }

  /** Removes records and blobs in one transaction. */
  remove(keys: Iterable<StageKey>, digests: Iterable<Digest>): void {
    this.write(() => {
      for (const k of keys) this.records.removeSync(k);
      for (const d of digests) this.blobs.removeSync(d);
    });
  }

  /**
   * Removes records (and blobs known to be corrupt), then every blob no remaining record names, in
   * one write transaction. The references are read inside it, so a record another process commits
   * meanwhile either lands before (and keeps its blobs) or after (and brings them). While an import
   * is storing blobs (whose records come last) nothing is swept: they would look unnamed.
   */
  removeAndSweep(
    keys: Iterable<StageKey>,
    corrupt: Iterable<Digest> = [],
    aux: readonly AuxEntry[] = [],
  ): { digest: Digest; size: number }[] {
    const importing = this.importsInProgress();
    return this.write(() => {
      for (const k of keys) this.records.removeSync(k);
      for (const d of corrupt) this.blobs.removeSync(d);
      for (const a of aux) this.auxTables()[a.table].removeSync(a.key);
      if (importing) return [];
      const named = new Set<string>();
      for (const entry of this.scanRecords())
        if ("record" in entry)
          for (const o of Object.values(entry.record.outputs)) named.add(o.digest);
      const swept: { digest: Digest; size: number }[] = [];
      for (const { key, value } of this.blobs.getRange()) {
        if (!named.has(key)) swept.push({ digest: key as Digest, size: value.length });
      }
      for (const b of swept) this.blobs.removeSync(b.digest);
      return swept;
    });
  }

  /**
   * Entries of the tables that only save work that do not decode, and stat entries (a file's or a
   * folder's) that are not whole, which are never believed (for verify, which drops them).
   */
  scanAux(): AuxEntry[] {
    const bad: AuxEntry[] = [];
    for (const [table, db] of Object.entries(this.auxTables()) as [AuxTable, AnyTable][])
      for (const key of this.read(`the ${table} table`, () => [...db.getKeys()]))
        try {
          const value = db.get(key);
          if (table === "stat" && !statIsSealed(key, value)) bad.push({ table, key });
        } catch {
          bad.push({ table, key });
        }
    return bad;
  }

  private auxTables(): Record<AuxTable, AnyTable> {
    return {
      history: this.history as unknown as AnyTable,
      stat: this.stats as unknown as AnyTable,
      leases: this.leases as unknown as AnyTable,
      checks: this.checks as unknown as AnyTable,
    };
  }

  /** A directory in the cache for an import's staging files, named by the importing process. */
  stagingDir(): string {
    return join(this.dir, `.import-${process.pid}-${randomBytes(4).toString("hex")}`);
  }

  /** Whether a live process is importing into this cache (its staging directory is there); removes dead ones' leftovers. */
  importsInProgress(): boolean {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return false;
    }
    let live = false;
    for (const n of names) {
      const pid = /^\.import-(\d+)-/.exec(n)?.[1];
      if (pid === undefined) continue;
      if (Number(pid) !== process.pid && processAlive(Number(pid))) live = true;
      else if (Number(pid) !== process.pid)
        rmSync(join(this.dir, n), { recursive: true, force: true });
    }
    return live;
  }

  /**
   * Takes the lease on a key unless a live holder has it. A holder is dead when its lease expired, or
   * when it ran on this host and its process is gone (a SIGKILL leaves no chance to release).
   * Returns the current holder when the lease is taken.
   */
  tryLease(key: StageKey, lease: Lease): Lease | undefined {
    return this.write(() => {
      const held = this.tolerant(() => this.leases.get(key));
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
    this.write(() => {
      if (this.tolerant(() => this.leases.get(key))?.token === lease.token)
        this.leases.putSync(key, lease);
    });
  }

  releaseLease(key: StageKey, token: string): void {
    this.write(() => {
      if (this.tolerant(() => this.leases.get(key))?.token === token) this.leases.removeSync(key);
    });
  }

  recordCheck(key: StageKey, result: CheckResult): void {
    this.write(() => this.checks.putSync(key, result));
  }

  getCheck(key: StageKey): CheckResult | undefined {
    return this.tolerant(() => this.checks.get(key));
  }

  /**
   * A data file's stat-cache entry, if it is whole: its seal must match (an entry of an older cache,
   * which has none, is a miss too, and the file is hashed once more).
   */
  getStat(path: string): StatEntry | undefined {
    const entry = this.tolerant(() => this.stats.get(path));
    return entry && statIsSealed(path, entry) ? (entry as StatEntry) : undefined;
  }

  /** A folder input's stat-cache entry, if it is whole (sealed as a file's is). */
  getFolderStat(path: string): FolderStatEntry | undefined {
    const key = FOLDER_KEY + path;
    const entry = this.tolerant(() => this.stats.get(key));
    return entry && statIsSealed(key, entry) ? (entry as FolderStatEntry) : undefined;
  }

  /**
   * Stat-cache entries of files, and of folders, in one commit: a commit per file costs a disk sync
   * each (seconds for a corpus of files).
   */
  putStats(
    entries: readonly (readonly [string, StatEntry])[],
    folders: readonly (readonly [string, FolderStatEntry])[] = [],
  ): void {
    if (!entries.length && !folders.length) return;
    this.write(() => {
      for (const [path, entry] of entries)
        this.stats.putSync(path, { ...entry, seal: statSeal(path, entry) });
      for (const [path, entry] of folders)
        this.stats.putSync(FOLDER_KEY + path, {
          files: entry.files,
          listing: entry.listing,
          digest: entry.digest,
          seal: folderSeal(path, entry),
        });
    });
  }

  /**
   * A write transaction, holding the cache lock (see lockCache): no process opens the environment
   * while this one commits.
   */
  private write<T>(fn: () => T): T {
    const release = lockCache(this.dir);
    try {
      return this.root.transactionSync(fn);
    } finally {
      release();
    }
  }

  /** Closes the environment (LMDB's last process to close tears its lock file down: see lockCache). */
  async close(): Promise<void> {
    const release = lockCache(this.dir);
    try {
      await this.root.close();
    } finally {
      release();
    }
  }

  /** A read of the tables that matter (blobs, records): an LMDB error there is damage to report. */
  private read<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new CacheDamagedError(this.dir, `LMDB cannot read ${what}`, e);
    }
  }

  /**
   * A read of a table that only saves work (stat cache, history, checks, leases): an entry that does
   * not decode is as good as absent, and is overwritten by the next write.
   */
  private tolerant<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch {
      return undefined;
    }
  }
}

/**
 * Refuses a data file whose first page is not an LMDB meta page, before LMDB is asked to open it:
 * lmdb-js 3.5 frees memory twice when opening fails (EnvWrap::openEnv), which crashes the process
 * later, so a damaged header must never reach it. These are the checks mdb_env_read_header makes.
 */
export function checkHeader(dir: string): void {
  let fd: number;
  try {
    fd = openSync(join(dir, "data.mdb"), "r");
  } catch {
    return; // a new cache: LMDB creates it
  }
  try {
    const head = Buffer.alloc(32);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n === 0) return;
    const problem =
      n < head.length
        ? "it is shorter than one page"
        : (head.readUInt16LE(18) & 0x08) === 0
          ? "its first page is not a meta page"
          : head.readUInt32LE(24) !== 0xbeefc0de
            ? "its first page lacks LMDB's magic number"
            : (head.readUInt32LE(28) & 0xffff) !== 2
              ? `its format version is ${head.readUInt32LE(28) & 0xffff}, not 2`
              : undefined;
    if (problem)
      throw new CacheDamagedError(dir, "data.mdb is not a readable LMDB file", new Error(problem));
  } finally {
    closeSync(fd);
  }
}

const CACHE_LOCK = "cache.lock";
/** Caches this process holds the lock of, and how many times (a write while a close awaits). */
const cacheLocksHeld = new Map<string, number>();

/**
 * Takes the cache lock, waiting while a live process holds it; returns its release. Opening,
 * closing and every write transaction hold it, so that no process opens the environment while
 * another commits. LMDB (lmdb-js 3.5's mdb.c, mdb_env_open2) sets the shared transaction counter in
 * lock.mdb (mti_txnid) to the txnid of the meta page it read when it started opening, whether or
 * not other processes have the environment open: a commit by another process in between moves the
 * counter back. The next writer then numbers its transaction with a txnid already used, bases it
 * on the meta page of that parity and writes its meta over a newer one: a committed record
 * vanished though every process exited 0 (2 rounds in 1,000 of 8 processes creating one fresh
 * cache), a writer met pages "from the future" (MDB_PROBLEM: mdb_page_touch), or a commit spun
 * forever waiting for the counter to match the newest meta (a hang). Open and close also serialise
 * LMDB's set-up and tear-down of lock.mdb (its mutexes) by the first and last process.
 * The lock is a file made with O_EXCL holding the pid; one left by a dead process (SIGKILL, Ctrl-C)
 * is taken over. Where it cannot be made (a read-only cache directory) nothing can write anyway.
 */
export function lockCache(dir: string): () => void {
  const held = cacheLocksHeld.get(dir) ?? 0;
  const release = () => {
    const n = (cacheLocksHeld.get(dir) ?? 1) - 1;
    if (n > 0) cacheLocksHeld.set(dir, n);
    else {
      cacheLocksHeld.delete(dir);
      removeIfThere(join(dir, CACHE_LOCK));
    }
  };
  if (held > 0) {
    cacheLocksHeld.set(dir, held + 1);
    return release;
  }
  const path = join(dir, CACHE_LOCK);
  for (let waited = 0; ; waited++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      cacheLocksHeld.set(dir, 1);
      return release;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EACCES" || code === "EROFS" || code === "EPERM")
        return () => {};
      if (code !== "EEXIST") throw e;
    }
    takeOverIfDead(path, waited);
    // crypto, not Math.random: that may be a stage's seeded stream (see openLocked).
    sleepSync(1 + randomInt(5));
  }
}

/** unlink, but gone already is fine (rmSync would load Node's rimraf for it: a ms every command). */
function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/** Removes a cache lock whose holder is dead (or, written by nobody, after a second of waiting). */
function takeOverIfDead(path: string, waited: number): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return;
  }
  const pid = Number(text);
  const dead = text === "" ? waited > 300 : !processAlive(pid);
  if (!dead) return;
  // Renamed aside first, then checked: a live lock renamed by a racing taker is put back.
  const aside = `${path}.${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  let taken = "";
  try {
    taken = readFileSync(aside, "utf8");
  } catch {}
  if (taken !== text) {
    try {
      renameSync(aside, path);
    } catch {}
  }
  rmSync(aside, { force: true });
}

/** A record's JSON text, parsed; BadRecordError when it is not JSON. */
/** A stored record's text as a checked record: its seal, its JSON, then its fields and key. */
export function recordOfText(key: string, text: string, hashed?: unknown): StageRecord<unknown> {
  const json = unsealRecordText(key, text);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new BadRecordError(key, `it does not decode: ${(e as Error).message}`);
  }
  return parseRecord(value, key, hashed);
}

/**
 * The stored form of a record: its JSON text, checked first (so nothing malformed is ever stored),
 * and sealed (record.ts: a byte changed anywhere in it is found when it is read).
 */
function encodeRecord(record: StageRecord<unknown>): Buffer {
  const clean = parseRecord(record, record.key);
  return Buffer.from(sealRecordText(JSON.stringify(clean)), "utf8");
}

function checkBlobSize(digest: Digest, size: number): void {
  if (size > MAX_BLOB_BYTES)
    throw new UserError(
      `artifact ${digest.slice(0, 12)} is ${size} bytes; the cache stores artifacts of up to ${MAX_BLOB_BYTES} bytes`,
      { code: "too-large", hint: "make the stage's output smaller (fewer rows, a smaller model)" },
    );
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
