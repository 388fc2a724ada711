import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { tempBeside } from "../core/atomic-write.js";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import tar from "tar-stream";

type Entry = ReturnType<typeof tar.extract> extends AsyncIterable<infer E> ? E : never;
import { UserError } from "../core/diagnostic.js";
import { isDigest, sha256, short, type Digest, type StageKey } from "../core/digest.js";
import {
  BadRecordError,
  depthOf,
  MAX_RECORD_DEPTH,
  parseRecord,
  type OutputCheck,
  type OutputRef,
  type RecordCheck,
  type StageRecord,
} from "./record.js";
import {
  sign,
  SignatureError,
  signatureOf,
  signObject,
  verified,
  type SignedRecord,
} from "./signing.js";
import { MAX_BLOB_BYTES, type CacheStore } from "./store.js";

/**
 * Cache bundles: the records and blobs that rebuild some pipelines, in one tar archive (gzipped on
 * request), for moving cached stages to CI or a colleague. Layout, in this order:
 *   rnnp-bundle.json        the table of contents: format, version, and every record file's SHA-256
 *                           and every blob's size (signed, with the records, when a key is set)
 *   records/<key>.json      stage records
 *   blobs/<digest>          artifact bytes
 * Records come before blobs so that a blob no record names, or of another size than its records
 * say, is refused from its header, before its bytes are read. Import checks everything before it
 * stores anything: entry names, types and sizes, the table of contents against the entries (nothing
 * missing, extra or repeated), every record file against its listed digest, every record's shape,
 * key (the digest of its manifest) and signature, every blob's digest, and that every output's
 * bytes decode to the artifact its record describes. Anything wrong refuses the whole bundle.
 */
export const BUNDLE_FORMAT = "rnnp-bundle";
export const BUNDLE_VERSION = 2;
const MANIFEST = "rnnp-bundle.json";
const BLOB = /^blobs\/([0-9a-f]{64})$/;
const RECORD = /^records\/([0-9a-f]{64})\.json$/;
const MAX_RECORD_BYTES = 16 << 20;
const MAX_MANIFEST_BYTES = 256 << 20;
/**
 * Entries larger than this are refused unless --max-entry-size says otherwise; it is also the most
 * the cache can store (MAX_BLOB_BYTES). Importing an entry of n bytes peaks near 2n of memory (the
 * blob read back from its staging file, and LMDB's copy of it until its transaction commits), so
 * 4 GiB at most on a 24 GB machine.
 */
export const DEFAULT_MAX_ENTRY_BYTES = MAX_BLOB_BYTES;

/** Progress of a long export or import, for a progress bar: bytes done of a total. */
export type OnProgress = (phase: string, done: number, total: number) => void;

interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  signed: boolean;
  /** Record key -> SHA-256 of its record file: a record changed after export (even its createdAt) is caught. */
  records: Record<string, string>;
  /** Blob digest -> size in bytes. */
  blobs: Record<string, number>;
  hmac?: string;
}

export class BundleError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "bundle", hint });
  }
}

export interface ExportReport {
  records: number;
  blobs: number;
  bytes: number;
}

/**
 * Writes a bundle of the given records and their blobs, atomically (to a temporary file renamed into
 * place). Every blob is verified against its digest and its records' sizes as it is written: a
 * corrupt cache entry is never exported.
 */
export async function exportBundle(
  store: CacheStore,
  records: readonly StageRecord<unknown>[],
  out: string,
  opts: { gzip?: boolean; key?: string; onProgress?: OnProgress },
): Promise<ExportReport> {
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const files = new Map(sorted.map((r) => [r.key, Buffer.from(JSON.stringify(sign(r, opts.key)))]));
  const sizes = new Map<Digest, { size: number; by: StageRecord<unknown> }>();
  for (const r of sorted)
    for (const o of Object.values(r.outputs)) {
      const known = sizes.get(o.digest);
      if (known && known.size !== o.size)
        throw damaged(
          `records ${short(known.by.key)} and ${short(r.key)} give blob ${short(o.digest)} different sizes`,
        );
      sizes.set(o.digest, { size: o.size, by: r });
    }
  const digests = [...sizes.keys()].sort();
  const manifest = signObject<BundleManifest>(
    {
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      signed: Boolean(opts.key),
      records: Object.fromEntries([...files].map(([k, text]) => [k, sha256(text)])),
      blobs: Object.fromEntries(digests.map((d) => [d, sizes.get(d)!.size])),
    },
    opts.key,
  );
  const total = digests.reduce((a, d) => a + sizes.get(d)!.size, 0);

  const pack = tar.pack();
  const tmp = tempBeside(out);
  const sink = createWriteStream(tmp);
  const done = opts.gzip
    ? pipeline(pack as unknown as Readable, createGzip(), sink)
    : pipeline(pack as unknown as Readable, sink);
  done.catch(() => {});
  const entry = (name: string, body: Uint8Array) =>
    new Promise<void>((res, rej) =>
      pack.entry(
        { name, size: body.byteLength, mtime: new Date(0), mode: 0o644 },
        Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        (e) => (e ? rej(e) : res()),
      ),
    );
  let bytes = 0;
  try {
    await entry(MANIFEST, Buffer.from(JSON.stringify(manifest)));
    for (const [key, text] of files) await entry(`records/${key}.json`, text);
    for (const d of digests) {
      const { size, by } = sizes.get(d)!;
      const b = store.getBlob(d);
      if (!b) throw damaged(`blob ${short(d)} of record ${short(by.key)} is missing`);
      if (b.byteLength !== size || sha256(b) !== d)
        throw damaged(`blob ${short(d)} of record ${short(by.key)} is corrupt`);
      await entry(`blobs/${d}`, b);
      bytes += b.byteLength;
      opts.onProgress?.("export", bytes, total);
    }
    pack.finalize();
    await done;
    renameSync(tmp, out);
  } catch (e) {
    // The file goes once the streams writing it have stopped.
    pack.destroy();
    await done.catch(() => {});
    rmSync(tmp, { force: true });
    throw e;
  }
  return { records: sorted.length, blobs: digests.length, bytes };
}

function damaged(what: string): UserError {
  return new UserError(`cannot export: ${what} in the cache`, {
    code: "cache-corrupt",
    hint: "run `rnnp cache verify`: it drops damaged entries, and a run recomputes them",
  });
}

export interface ImportReport {
  records: { added: number; had: number };
  blobs: { added: number; had: number; bytes: number };
}

export interface ImportOptions {
  /** RNNP_CACHE_KEY: accept only records (and a table of contents) signed with it. */
  key?: string;
  maxEntryBytes?: number;
  /** Checks that an output's bytes decode to what its record says (type, summary); see OutputCheck. */
  check?: OutputCheck;
  /** Checks a record against its kind (output names and types); see RecordCheck. */
  checkRecord?: RecordCheck;
  onProgress?: OnProgress;
}

/**
 * Imports a bundle, all its records or none. Blobs are streamed through SHA-256 into staging files
 * inside the cache directory (never whole in memory while the archive is read), then stored one per
 * transaction, and the records last, in one transaction: a bundle refused at any point leaves the
 * cache as it was.
 */
export async function importBundle(
  store: CacheStore,
  file: string,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const staging = store.stagingDir();
  const reading = new BundleReader(store, file, opts, staging);
  try {
    await reading.read();
    reading.checkComplete();
    reading.checkOutputs();
    return reading.store();
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** One import in progress: what has been read and checked so far. */
class BundleReader {
  private manifest: BundleManifest | undefined;
  private readonly listedRecords = new Map<string, string>();
  private readonly listedBlobs = new Map<Digest, number>();
  private readonly seen = new Set<string>();
  private readonly records = new Map<StageKey, StageRecord<unknown>>();
  /** Blob digest -> the outputs that name it (across records). */
  private readonly named = new Map<Digest, { record: StageRecord<unknown>; ref: OutputRef }[]>();
  /** Blobs read from the bundle: staged here (new to this cache) or only verified (already stored). */
  private readonly staged = new Map<Digest, number>();
  private readonly verifiedStored = new Set<Digest>();
  private readonly maxEntry: number;
  private bytesRead = 0;
  private blobsStarted = false;

  constructor(
    private readonly cache: CacheStore,
    private readonly file: string,
    private readonly opts: ImportOptions,
    private readonly staging: string,
  ) {
    this.maxEntry = Math.min(opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES, MAX_BLOB_BYTES);
  }

  private refuse(why: string, hint?: string): never {
    throw new BundleError(`refusing ${this.file}: ${why}`, hint);
  }

  /** Reads the archive entry by entry, checking each as it comes; nothing is stored yet. */
  async read(): Promise<void> {
    const source = this.open();
    const extract = tar.extract();
    const stream = source.gzip
      ? pipeline(source.stream, createGunzip(), extract as unknown as Writable)
      : pipeline(source.stream, extract as unknown as Writable);
    // Leaving the loop early (a refused entry) closes the stream: that rejection is expected.
    stream.catch(() => {});
    try {
      for await (const e of extract) await this.entry(e);
      await stream;
    } catch (e) {
      if (e instanceof UserError) throw e;
      this.refuse(streamProblem(e as NodeJS.ErrnoException, source.gzip));
    }
    if (!this.manifest) this.refuse(`it holds no ${MANIFEST}: not an rnnp bundle`);
  }

  private open(): { stream: Readable; gzip: boolean } {
    let fd: number;
    try {
      fd = openSync(this.file, "r");
    } catch (e) {
      throw new BundleError(
        `cannot read ${this.file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
      );
    }
    try {
      if (!fstatSync(fd).isFile()) this.refuse("it is not a regular file");
      const head = Buffer.alloc(2);
      const n = readSync(fd, head, 0, 2, 0);
      if (n === 0) this.refuse("it is empty: not an rnnp bundle");
      return {
        stream: createReadStream("", { fd, start: 0, highWaterMark: 1 << 20 }),
        gzip: n === 2 && head[0] === 0x1f && head[1] === 0x8b,
      };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  private async entry(e: Entry): Promise<void> {
    const { name, type, size = 0 } = e.header;
    const fail = (why: string, hint?: string): never =>
      this.refuse(`entry ${JSON.stringify(name)} ${why}`, hint);
    if (this.seen.has(name)) fail("appears twice");
    this.seen.add(name);
    if (type !== "file") fail(`is a ${type}; bundles hold regular files only`);
    if (size > this.maxEntry)
      fail(
        `is ${size} bytes, over the ${this.maxEntry}-byte limit`,
        this.maxEntry < MAX_BLOB_BYTES
          ? "raise it with --max-entry-size if you trust this bundle"
          : undefined,
      );
    if (!this.manifest) {
      if (name !== MANIFEST) fail(`comes before ${MANIFEST}: not an rnnp bundle`);
      this.readManifest(await collect(e, MAX_MANIFEST_BYTES, fail));
      return;
    }
    const record = RECORD.exec(name);
    const blob = BLOB.exec(name);
    if (record) {
      if (this.blobsStarted) fail("comes after the blobs: records come first");
      this.readRecord(record[1] as StageKey, await collect(e, MAX_RECORD_BYTES, fail), fail);
    } else if (blob) await this.readBlob(blob[1] as Digest, size, e, fail);
    else fail("is not part of the bundle format (path tricks are refused)");
  }

  private readManifest(bytes: Buffer): void {
    const m = parseJson(bytes, (why) => this.refuse(`${MANIFEST} ${why}`)) as Partial<
      Omit<BundleManifest, "version"> & { version: number }
    >;
    if (m === null || typeof m !== "object" || m.format !== BUNDLE_FORMAT)
      this.refuse(`${MANIFEST} is not an rnnp bundle's (format ${JSON.stringify(m?.format)})`);
    if (m.version === 1)
      this.refuse(
        "it is a version-1 bundle (made by an earlier rnnp), whose table of contents lists no record digests",
        "export it again with this rnnp",
      );
    if (m.version !== BUNDLE_VERSION)
      this.refuse(
        `unknown format ${JSON.stringify(m.format)} version ${String(m.version)} (this rnnp reads ${BUNDLE_FORMAT} ${BUNDLE_VERSION})`,
      );
    if (this.opts.key) {
      const sig = signatureOf(m, this.opts.key);
      if (sig !== "valid")
        throw new SignatureError(
          `refusing ${this.file}: its table of contents ${sig === "unsigned" ? "is not signed, and RNNP_CACHE_KEY requires signed bundles" : "has a wrong signature (another key, or tampered)"}`,
        );
    }
    const records = entriesOf(m.records);
    const blobs = entriesOf(m.blobs);
    if (!records || !blobs) this.refuse(`${MANIFEST} lacks its lists of records and blobs`);
    for (const [key, digest] of records)
      if (!isDigest(key) || typeof digest !== "string" || !isDigest(digest))
        this.refuse(`${MANIFEST} lists a record malformed: ${JSON.stringify(key).slice(0, 80)}`);
      else this.listedRecords.set(key, digest);
    for (const [digest, size] of blobs)
      if (!isDigest(digest) || !Number.isSafeInteger(size) || (size as number) < 0)
        this.refuse(`${MANIFEST} lists a blob malformed: ${JSON.stringify(digest).slice(0, 80)}`);
      else if ((size as number) > this.maxEntry)
        this.refuse(
          `blob ${short(digest)} is ${size} bytes, over the ${this.maxEntry}-byte limit`,
          this.maxEntry < MAX_BLOB_BYTES
            ? "raise it with --max-entry-size if you trust this bundle"
            : undefined,
        );
      else this.listedBlobs.set(digest, size as number);
    this.manifest = m as BundleManifest;
    this.checkDiskSpace();
  }

  /** Staging and storing need about twice the new blobs' size on the cache's disk: refuse early if it is not there. */
  private checkDiskSpace(): void {
    let needed = 0;
    for (const [d, size] of this.listedBlobs) if (!this.cache.hasBlob(d, size)) needed += size;
    let free: number;
    try {
      const fs = statfsSync(this.cache.dir);
      free = fs.bavail * fs.bsize;
    } catch {
      return;
    }
    if (2 * needed > free)
      this.refuse(
        `its ${needed} bytes of new blobs need about ${2 * needed} bytes free in ${this.cache.dir}, which has ${free}`,
      );
  }

  private readRecord(key: StageKey, bytes: Buffer, fail: (why: string) => never): void {
    const listed = this.listedRecords.get(key);
    if (listed === undefined) fail(`is not listed in ${MANIFEST}`);
    if (sha256(bytes) !== listed)
      fail(
        `does not match the digest ${MANIFEST} lists for it: the record was changed after export`,
      );
    const json = parseJson(bytes, (why) => fail(why)) as SignedRecord;
    let record: StageRecord<unknown>;
    try {
      record = parseRecord(verified(json, this.opts.key), key);
    } catch (e) {
      if (e instanceof BadRecordError) fail(`is not a valid record: ${e.problem}`);
      if (e instanceof SignatureError)
        throw new SignatureError(`refusing ${this.file}: ${e.message}`, e.hint);
      throw e;
    }
    const problem = this.opts.checkRecord?.(record);
    if (problem !== undefined) fail(`is not a valid record: ${problem}`);
    for (const [name, ref] of Object.entries(record.outputs)) {
      const listedSize = this.listedBlobs.get(ref.digest);
      if (listedSize === undefined && !this.cache.hasBlob(ref.digest, ref.size))
        this.refuse(
          `record ${short(key)} names blob ${short(ref.digest)}, which the bundle does not hold`,
        );
      if (listedSize !== undefined && listedSize !== ref.size)
        this.refuse(
          `record ${short(key)} says output ${JSON.stringify(name)} is ${ref.size} bytes; ${MANIFEST} lists blob ${short(ref.digest)} as ${listedSize}`,
        );
      const users = this.named.get(ref.digest) ?? [];
      users.push({ record, ref });
      this.named.set(ref.digest, users);
    }
    this.records.set(key, record);
  }

  private async readBlob(
    digest: Digest,
    size: number,
    e: Entry,
    fail: (why: string) => never,
  ): Promise<void> {
    if (!this.blobsStarted) {
      this.blobsStarted = true;
      this.recordsDone("is missing or comes after the blobs (records come first)");
    }
    const listed = this.listedBlobs.get(digest);
    if (listed === undefined) fail(`is not listed in ${MANIFEST}`);
    if (!this.named.has(digest)) fail("is named by no record: an orphan");
    if (size !== listed) fail(`is ${size} bytes; ${MANIFEST} lists ${listed}`);
    const hash = createHash("sha256");
    const have = this.cache.hasBlob(digest, size);
    if (!have) mkdirSync(this.staging, { recursive: true });
    const fd = have ? undefined : openSync(join(this.staging, digest), "w");
    let n = 0;
    try {
      for await (const chunk of e as AsyncIterable<Buffer>) {
        n += chunk.length;
        if (n > size) fail(`holds more than the ${size} bytes its header says`);
        hash.update(chunk);
        if (fd !== undefined) writeSync(fd, chunk);
        this.bytesRead += chunk.length;
        this.opts.onProgress?.("read", this.bytesRead, this.totalListed());
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (n !== size) fail(`ends after ${n} of its ${size} bytes`);
    if (hash.digest("hex") !== digest) fail("does not hash to its name: the blob is corrupt");
    if (have) this.verifiedStored.add(digest);
    else this.staged.set(digest, size);
  }

  private totalListed(): number {
    let t = 0;
    for (const s of this.listedBlobs.values()) t += s;
    return t;
  }

  /** Every listed record was read, and every listed blob is named by one: no orphan comes in. */
  private recordsDone(missing: string): void {
    for (const key of this.listedRecords.keys())
      if (!this.records.has(key as StageKey))
        this.refuse(`records/${key}.json, which ${MANIFEST} lists, ${missing}`);
    for (const d of this.listedBlobs.keys())
      if (!this.named.has(d))
        this.refuse(`blob ${short(d)}, which ${MANIFEST} lists, is named by no record: an orphan`);
  }

  /** Everything the table of contents lists was read. */
  checkComplete(): void {
    if (!this.blobsStarted) this.recordsDone("is missing");
    for (const d of this.listedBlobs.keys())
      if (!this.staged.has(d) && !this.verifiedStored.has(d))
        this.refuse(`blobs/${d}, which ${MANIFEST} lists, is missing`);
  }

  /** Every output's bytes (staged, or already in the cache) are what its record says: size, type, summary. */
  checkOutputs(): void {
    let done = 0;
    for (const [digest, users] of this.named) {
      const bytes = this.staged.has(digest)
        ? readFileSync(join(this.staging, digest))
        : this.cache.getIntactBlob(digest);
      if (!bytes)
        this.refuse(
          `record ${short(users[0]!.record.key)} names blob ${short(digest)}, which this cache holds corrupt`,
          "run `rnnp cache verify`, then import again",
        );
      for (const { record, ref } of users) {
        const where = `record ${short(record.key)}: output ${short(digest)}`;
        if (bytes.byteLength !== ref.size)
          this.refuse(`${where} is ${bytes.byteLength} bytes, the record says ${ref.size}`);
        const problem = this.opts.check?.(bytes, ref);
        if (problem !== undefined) this.refuse(`${where} ${problem}`);
      }
      this.opts.onProgress?.("check", ++done, this.named.size);
    }
  }

  /** Stores the staged blobs (one transaction each), then every record in one transaction. */
  store(): ImportReport {
    const records = [...this.records.values()];
    const had = records.filter((r) => this.cache.hasRecord(r.key)).length;
    const added: Digest[] = [];
    let bytes = 0;
    try {
      for (const [digest, size] of this.staged) {
        if (this.cache.importBlob(digest, readFileSync(join(this.staging, digest)))) {
          added.push(digest);
          bytes += size;
        }
        this.opts.onProgress?.("store", added.length, this.staged.size);
      }
      const addedRecords = this.cache.importRecords(records);
      return {
        records: { added: addedRecords, had },
        blobs: { added: added.length, had: this.listedBlobs.size - added.length, bytes },
      };
    } catch (e) {
      // Blobs stored before the failure are named by no record: take them back out.
      this.cache.remove([], added);
      throw e;
    }
  }
}

async function collect(
  stream: AsyncIterable<unknown>,
  max: number,
  fail: (why: string) => never,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) fail(`is larger than ${max} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** JSON from outside: parsed (JSON.parse keeps "__proto__" as data), and refused when nested absurdly deep. */
function parseJson(bytes: Buffer, fail: (why: string) => never): unknown {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    return fail(`is not JSON (${(e as Error).message})`);
  }
  if (depthOf(value, MAX_RECORD_DEPTH) > MAX_RECORD_DEPTH)
    fail(`is nested deeper than ${MAX_RECORD_DEPTH} levels`);
  return value;
}

function entriesOf(v: unknown): [string, unknown][] | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v)
    ? Object.entries(v as object)
    : undefined;
}

/** What a failure of the gzip or tar decoder says about the file. */
function streamProblem(e: NodeJS.ErrnoException, gzip: boolean): string {
  const message = e?.message ?? String(e);
  if (e?.code === "Z_BUF_ERROR" || /unexpected end of file/i.test(message))
    return "the gzip stream is truncated";
  if (typeof e?.code === "string" && e.code.startsWith("Z_"))
    return `the gzip stream is damaged (${message})`;
  if (/Unexpected end of data/.test(message))
    return `it is truncated: the archive ends inside an entry${gzip ? "" : " (or it is not a tar archive)"}`;
  if (/Invalid tar header/.test(message))
    return "it is not a tar archive, or a damaged one (an invalid tar header, which may be trailing garbage)";
  return `it cannot be read as a tar archive (${message})`;
}
