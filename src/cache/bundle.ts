import { UserError } from "../core/diagnostic.js";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable, Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import tar from "tar-stream";
import type { Digest, StageKey } from "../core/digest.js";
import { validateRecord, type StageRecord } from "./record.js";
import { sign, verified, type SignedRecord } from "./signing.js";
import type { CacheStore } from "./store.js";

/**
 * Cache bundles: the records and blobs that rebuild some pipelines, in one tar archive (gzipped on
 * request), for moving cached stages to CI or a colleague. Layout:
 *   rnnp-bundle.json        format and counts (first)
 *   blobs/<digest>          artifact bytes
 *   records/<key>.json      stage records (after the blobs they name; signed when a key is set)
 * Import checks everything before it commits anything: entry names and types, sizes, the format, every
 * blob's digest, every record's shape and signature, and that every blob a record names is there.
 */
export const BUNDLE_FORMAT = "rnnp-bundle";
export const BUNDLE_VERSION = 1;
const MANIFEST = "rnnp-bundle.json";
const BLOB = /^blobs\/([0-9a-f]{64})$/;
const RECORD = /^records\/([0-9a-f]{64})\.json$/;
const MAX_RECORD_BYTES = 16 << 20;
export const DEFAULT_MAX_ENTRY_BYTES = 8 * 1024 ** 3;
const MEMORY_BUDGET = 1024 ** 3;

export interface ExportReport {
  records: number;
  blobs: number;
  bytes: number;
}

export async function exportBundle(
  store: CacheStore,
  records: readonly StageRecord<unknown>[],
  out: string,
  opts: { gzip?: boolean; key?: string },
): Promise<ExportReport> {
  const digests = [
    ...new Set(records.flatMap((r) => Object.values(r.outputs).map((o) => o.digest))),
  ].sort();
  const pack = tar.pack();
  const tmp = `${out}.tmp`;
  const sink = createWriteStream(tmp);
  const done = opts.gzip
    ? pipeline(pack as unknown as Readable, createGzip(), sink)
    : pipeline(pack as unknown as Readable, sink);
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
    await entry(
      MANIFEST,
      Buffer.from(
        JSON.stringify({
          format: BUNDLE_FORMAT,
          version: BUNDLE_VERSION,
          records: records.length,
          blobs: digests.length,
          signed: Boolean(opts.key),
        }),
      ),
    );
    for (const d of digests) {
      const b = store.getBlob(d as Digest);
      if (!b) throw new Error(`blob ${d} is missing from the cache; run \`rnnp cache verify\``);
      bytes += b.byteLength;
      await entry(`blobs/${d}`, b);
    }
    for (const r of [...records].sort((a, b) => (a.key < b.key ? -1 : 1)))
      await entry(`records/${r.key}.json`, Buffer.from(JSON.stringify(sign(r, opts.key))));
    pack.finalize();
    await done;
    renameSync(tmp, out);
  } catch (e) {
    pack.destroy();
    rmSync(tmp, { force: true });
    throw e;
  }
  return { records: records.length, blobs: digests.length, bytes };
}

export class BundleError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "bundle", hint });
  }
}

export interface ImportReport {
  records: { added: number; had: number };
  blobs: { added: number; had: number; bytes: number };
}

export async function importBundle(
  store: CacheStore,
  file: string,
  opts: { key?: string; maxEntryBytes?: number } = {},
): Promise<ImportReport> {
  const maxEntry = opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  const staging = mkdtempSync(join(tmpdir(), "rnnp-import-"));
  const blobs = new Set<Digest>();
  const records: StageRecord<unknown>[] = [];
  const inMemory = new Map<Digest, Buffer>();
  let held = 0;
  let manifest: { format?: string; version?: number } | undefined;
  try {
    const head = Buffer.alloc(2);
    const fd = openSync(file, "r");
    readSync(fd, head, 0, 2, 0);
    closeSync(fd);
    const gz = head[0] === 0x1f && head[1] === 0x8b;
    const extract = tar.extract();
    const source = createReadStream(file, { highWaterMark: 1 << 20 });
    const reading = gz
      ? pipeline(source, createGunzip(), extract as unknown as Writable)
      : pipeline(source, extract as unknown as Writable);
    // Leaving the loop early (a refused entry) closes the stream: that rejection is expected, not an error.
    reading.catch(() => {});
    for await (const e of extract) {
      const h = e.header;
      const name = h.name;
      const fail = (why: string): never => {
        throw new BundleError(`refusing ${file}: entry "${name}" ${why}`);
      };
      if (h.type !== "file") fail(`is a ${h.type}; bundles hold regular files only`);
      if ((h.size ?? 0) > maxEntry)
        fail(`is ${h.size} bytes, over the ${maxEntry}-byte limit (--max-entry-size)`);
      if (name === MANIFEST) {
        manifest = JSON.parse(
          (await collect(e, MAX_RECORD_BYTES, fail)).toString("utf8"),
        ) as typeof manifest;
        if (manifest?.format !== BUNDLE_FORMAT || manifest.version !== BUNDLE_VERSION) {
          throw new BundleError(
            `refusing ${file}: unknown format ${JSON.stringify(manifest?.format)} version ${String(manifest?.version)} (this rnnp reads ${BUNDLE_FORMAT} ${BUNDLE_VERSION})`,
          );
        }
        continue;
      }
      if (!manifest) fail(`comes before ${MANIFEST}: not an rnnp bundle`);
      const blob = BLOB.exec(name);
      const rec = RECORD.exec(name);
      if (blob) {
        const digest = blob[1] as Digest;
        const hash = createHash("sha256");
        const path = join(staging, digest);
        const chunks: Buffer[] = [];
        for await (const chunk of e as AsyncIterable<Buffer>) {
          hash.update(chunk);
          chunks.push(chunk);
        }
        if (hash.digest("hex") !== digest) fail("does not hash to its name: the blob is corrupt");
        // Held in memory up to a budget, staged on disk beyond it: big bundles need not fit in RAM.
        const bytes = Buffer.concat(chunks);
        if (held + bytes.length <= MEMORY_BUDGET) {
          inMemory.set(digest, bytes);
          held += bytes.length;
        } else writeFileSync(path, bytes);
        blobs.add(digest);
      } else if (rec) {
        const body = (await collect(e, MAX_RECORD_BYTES, fail)).toString("utf8");
        let json: SignedRecord;
        try {
          json = JSON.parse(body) as SignedRecord;
        } catch {
          return fail("is not valid JSON");
        }
        records.push(validateRecord(verified(json, opts.key, file), rec[1]!, file));
      } else {
        fail("is not part of the bundle format (path tricks are refused)");
      }
    }
    await reading;
    if (!manifest) throw new BundleError(`refusing ${file}: no ${MANIFEST}: not an rnnp bundle`);
    for (const r of records) {
      for (const o of Object.values(r.outputs)) {
        if (!blobs.has(o.digest) && !store.hasBlob(o.digest))
          throw new BundleError(
            `refusing ${file}: record ${r.key.slice(0, 12)} names blob ${o.digest.slice(0, 12)}, which the bundle does not hold`,
          );
      }
    }
    const hadRecords = records.filter((r) => store.hasRecord(r.key as StageKey)).length;
    const hadBlobs = [...blobs].filter((d) => store.hasBlob(d)).length;
    const added = store.importAll(
      records,
      blobs,
      (d) => inMemory.get(d) ?? readFileSync(join(staging, d)),
    );
    return {
      records: { added: added.records, had: hadRecords },
      blobs: { added: added.blobs, had: hadBlobs, bytes: added.bytes },
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
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
