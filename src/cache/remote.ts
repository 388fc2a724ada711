import { UserError } from "../core/diagnostic.js";
import { createHash } from "node:crypto";
import type { Digest, StageKey } from "../core/digest.js";
import {
  depthOf,
  MAX_RECORD_DEPTH,
  parseRecord,
  type OutputCheck,
  type RecordCheck,
  type StageRecord,
} from "./record.js";
import { sign, verified, type SignedRecord } from "./signing.js";
import { MAX_BLOB_BYTES } from "./store.js";

/**
 * A remote cache over plain HTTP(S): `GET/HEAD/PUT <url>/records/<key>.json` and `<url>/blobs/<digest>`,
 * so nginx with WebDAV PUT, or any object store, can serve it. What the server says is checked as a
 * bundle is: a record must be well formed, filed under the digest of its manifest and (with a key)
 * signed; a blob is streamed through SHA-256 into a buffer of the size its record gives (a server
 * that sends more is cut off) and must match its digest, and, given a check, decode to the artifact
 * its record describes. Anything else is not used: the stage is computed here instead. Requests
 * time out and are retried; a server that cannot be reached turns the remote off for the rest of the
 * run with one warning, and the run goes on with the local cache alone.
 */
export interface RemoteOptions {
  url: string;
  /** read: fetch only (laptops); readwrite: also upload what this machine builds (CI). */
  mode: "read" | "readwrite";
  /** RNNP_CACHE_KEY: sign uploaded records, and accept only records signed with it. */
  key?: string;
  /** RNNP_REMOTE_TOKEN: sent as `Authorization: Bearer <token>`; never printed. */
  token?: string;
  timeoutMs?: number;
  retries?: number;
  /** Transfers in flight at once. */
  concurrency?: number;
  warn?: (message: string) => void;
}

export class PoisonedBlob extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "remote", hint });
  }
}

const MAX_RECORD_BYTES = 16 << 20;

export interface RemoteStats {
  downloadedBytes: number;
  uploadedBytes: number;
  hits: number;
}

export class RemoteCache {
  private down = false;
  /** Blobs the server was found to hold wrongly: uploads replace them even though they "exist". */
  private readonly poisoned = new Set<Digest>();
  private warned = new Set<string>();
  private active = 0;
  private readonly queue: (() => void)[] = [];
  readonly stats: RemoteStats = { downloadedBytes: 0, uploadedBytes: 0, hits: 0 };
  private readonly base: string;
  private readonly auth: Record<string, string>;
  /** Requests the server answered with an error, or that could not be sent: `cache push` fails on any. */
  failures = 0;

  constructor(private readonly o: RemoteOptions) {
    // fetch() refuses URLs with credentials, and messages must never show them: a `user:pass@` in
    // the URL becomes a Basic Authorization header, and the URL is kept (and printed) without it.
    const { url, user, password } = splitCredentials(o.url);
    this.base = url.replace(/\/+$/, "");
    this.auth = o.token
      ? { authorization: `Bearer ${o.token}` }
      : user !== undefined
        ? {
            authorization: `Basic ${Buffer.from(`${user}:${password ?? ""}`).toString("base64")}`,
          }
        : {};
  }

  get writable(): boolean {
    return this.o.mode === "readwrite";
  }

  get url(): string {
    return this.base;
  }

  /** The record stored under a key, checked (shape, key, signature), or undefined on a miss, a bad record or when the server is down. */
  async getRecord(key: StageKey): Promise<StageRecord<unknown> | undefined> {
    const res = await this.request("GET", `records/${key}.json`);
    if (!res || res.status === 404) return drained(res);
    if (!res.ok) return this.fail(`GET record ${key.slice(0, 12)}: HTTP ${res.status}`, res.status);
    try {
      const body = Buffer.from(await res.arrayBuffer());
      if (body.length > MAX_RECORD_BYTES) throw new Error(`it is over ${MAX_RECORD_BYTES} bytes`);
      const json = JSON.parse(body.toString("utf8")) as SignedRecord;
      if (depthOf(json, MAX_RECORD_DEPTH) > MAX_RECORD_DEPTH)
        throw new Error(`it is nested deeper than ${MAX_RECORD_DEPTH} levels`);
      return parseRecord(verified(json, this.o.key), key);
    } catch (e) {
      this.warn(`ignoring remote record ${key.slice(0, 12)}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /**
   * A blob's bytes, streamed through SHA-256 into a buffer of the expected size; throws PoisonedBlob
   * when they are more or fewer bytes, or do not match the digest.
   */
  async getBlob(digest: Digest, size: number): Promise<Buffer | undefined> {
    const res = await this.request("GET", `blobs/${digest}`);
    if (!res || res.status === 404 || !res.body) return drained(res);
    if (!res.ok)
      return this.fail(`GET blob ${digest.slice(0, 12)}: HTTP ${res.status}`, res.status);
    const poisoned = (why: string) => {
      this.poisoned.add(digest);
      return new PoisonedBlob(
        `remote blob ${digest.slice(0, 12)} ${why} (corrupt or tampered on the server)`,
      );
    };
    if (size > MAX_BLOB_BYTES) throw poisoned(`is said to be ${size} bytes`);
    const hash = createHash("sha256");
    const bytes = Buffer.allocUnsafe(size);
    let at = 0;
    // Leaving the loop (a throw) cancels the download.
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (at + chunk.byteLength > size)
        throw poisoned(`is longer than the ${size} bytes its record says`);
      hash.update(chunk);
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    if (at !== size) throw poisoned(`is ${at} bytes, not the ${size} its record says`);
    if (hash.digest("hex") !== digest) throw poisoned("does not match its digest");
    this.stats.downloadedBytes += bytes.length;
    return bytes;
  }

  /**
   * A record and all its blobs, or undefined if any is missing or the blobs are not what the record
   * says (`check`: type and summary). Throws PoisonedBlob for a bad blob.
   */
  async fetchStage(
    key: StageKey,
    have: (d: Digest) => boolean,
    checks: { output?: OutputCheck; record?: RecordCheck } = {},
  ): Promise<{ record: StageRecord<unknown>; blobs: Map<Digest, Buffer> } | undefined> {
    const record = await this.getRecord(key);
    if (!record) return undefined;
    const wrong = checks.record?.(record);
    if (wrong) {
      this.warn(`ignoring remote record ${key.slice(0, 12)}: ${wrong}`);
      return undefined;
    }
    const sizes = new Map(Object.values(record.outputs).map((o) => [o.digest, o.size]));
    const wanted = [...sizes.keys()].filter((d) => !have(d));
    const got = await Promise.all(
      wanted.map((d) => this.getBlob(d, sizes.get(d)!).then((b) => [d, b] as const)),
    );
    if (got.some(([, b]) => !b)) return undefined;
    const blobs = new Map(got as [Digest, Buffer][]);
    for (const [name, ref] of Object.entries(record.outputs)) {
      const bytes = blobs.get(ref.digest);
      const problem = bytes && checks.output?.(bytes, ref);
      if (problem) {
        this.warn(
          `ignoring remote record ${key.slice(0, 12)}: output ${JSON.stringify(name)} ${problem}`,
        );
        return undefined;
      }
    }
    this.stats.hits++;
    return { record, blobs };
  }

  async hasRecord(key: StageKey): Promise<boolean> {
    const res = await this.request("HEAD", `records/${key}.json`);
    return res?.ok ?? false;
  }

  /** Uploads blobs (those the server lacks) and then the record, so no reader sees a record before its blobs. */
  async push(record: StageRecord<unknown>, blobs: ReadonlyMap<Digest, Uint8Array>): Promise<void> {
    if (!this.writable || this.down) return;
    await Promise.all(
      [...blobs].map(async ([d, bytes]) => {
        if (!this.poisoned.has(d)) {
          const head = await this.request("HEAD", `blobs/${d}`);
          if (head?.ok) return;
        }
        const res = await this.request("PUT", `blobs/${d}`, bytes);
        await drained(res);
        if (res && !res.ok) this.fail(`PUT blob ${d.slice(0, 12)}: HTTP ${res.status}`, res.status);
        else if (res) this.stats.uploadedBytes += bytes.byteLength;
      }),
    );
    if (this.down) return;
    const res = await this.request(
      "PUT",
      `records/${record.key}.json`,
      Buffer.from(JSON.stringify(sign(record, this.o.key))),
    );
    await drained(res);
    if (res && !res.ok)
      this.fail(`PUT record ${record.key.slice(0, 12)}: HTTP ${res.status}`, res.status);
  }

  private fail(message: string, status?: number): undefined {
    this.failures++;
    const hint =
      status === 401 || status === 403
        ? this.auth.authorization
          ? " (the server refused the credentials: check RNNP_REMOTE_TOKEN)"
          : " (the server wants credentials: set RNNP_REMOTE_TOKEN)"
        : "";
    this.warn(`remote cache ${this.base}: ${message}${hint}`);
    return undefined;
  }

  /** A document at `path` (JSON), or undefined when absent; checked by its caller. */
  async getDocument(path: string, maxBytes = MAX_RECORD_BYTES): Promise<Buffer | undefined> {
    const res = await this.request("GET", path);
    if (!res || res.status === 404) return drained(res);
    if (!res.ok) return this.fail(`GET ${path}: HTTP ${res.status}`, res.status);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > maxBytes) return this.fail(`GET ${path}: over ${maxBytes} bytes`);
    return body;
  }

  /** Stores a document or a blob (unless the server has it already); false if it could not. */
  async put(path: string, bytes: Uint8Array, unlessPresent = false): Promise<boolean> {
    if (unlessPresent) {
      const head = await this.request("HEAD", path);
      await drained(head);
      if (head?.ok) return true;
    }
    const res = await this.request("PUT", path, bytes);
    await drained(res);
    if (!res) return false;
    if (!res.ok) return this.fail(`PUT ${path}: HTTP ${res.status}`, res.status) ?? false;
    this.stats.uploadedBytes += bytes.byteLength;
    return true;
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.o.warn?.(message);
  }

  /** One HTTP request with a time-out and retries; undefined once the server is known to be down. */
  private async request(
    method: string,
    path: string,
    body?: Uint8Array,
  ): Promise<Response | undefined> {
    if (this.down) return undefined;
    await this.slot();
    try {
      const retries = this.o.retries ?? 2;
      for (let attempt = 0; ; attempt++) {
        const ms = this.o.timeoutMs ?? 30_000;
        // Until the response arrives, the time-out is a timer of our own, which keeps the process
        // alive: a fetch that never settled (the server stopped in the middle of it) left only
        // AbortSignal.timeout's timer, which does not, and the run ended unfinished (exit 13).
        const waiting = new AbortController();
        const timer = setTimeout(() => waiting.abort(new Error(`no answer in ${ms} ms`)), ms);
        try {
          const res = await fetch(`${this.base}/${path}`, {
            method,
            headers: body
              ? { ...this.auth, "content-type": "application/octet-stream" }
              : this.auth,
            ...(body ? { body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) } : {}),
            signal: AbortSignal.any([waiting.signal, AbortSignal.timeout(ms)]),
          }).finally(() => clearTimeout(timer));
          if (res.status >= 500 && attempt < retries) {
            await res.arrayBuffer().catch(() => undefined);
            await new Promise((r) => setTimeout(r, 100 * 4 ** attempt));
            continue;
          }
          return res;
        } catch (e) {
          if (attempt < retries) {
            await new Promise((r) => setTimeout(r, 100 * 4 ** attempt));
            continue;
          }
          // Concurrent requests fail together: say it once.
          if (!this.down) {
            this.down = true;
            this.failures++;
            const cause = (e as { cause?: { code?: string; message?: string } }).cause;
            this.o.warn?.(
              `remote cache ${this.base} is unreachable (${cause?.code ?? cause?.message ?? (e as Error).message}); going on with the local cache only`,
            );
          }
          return undefined;
        }
      }
    } finally {
      this.release();
    }
  }

  private slot(): Promise<void> {
    if (this.active < (this.o.concurrency ?? 8)) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((r) => this.queue.push(() => (this.active++, r())));
  }

  private release(): void {
    this.active--;
    this.queue.shift()?.();
  }
}

/** A URL without its `user:password@`, and them apart (undefined when absent). */
export function splitCredentials(raw: string): { url: string; user?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Not a URL: whatever sits between "//" and "@" is not shown.
    return { url: raw.replace(/\/\/[^/@]*@/, "//") };
  }
  if (!u.username && !u.password) return { url: raw };
  const user = decodeURIComponent(u.username);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = "";
  u.password = "";
  return { url: u.toString(), user, ...(password !== undefined ? { password } : {}) };
}

/** Reads and drops a response body, so its connection can be reused. */
async function drained(res: Response | undefined): Promise<undefined> {
  await res?.arrayBuffer().catch(() => undefined);
  return undefined;
}
