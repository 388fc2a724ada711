// Hostile cache bundles, made from a good one: damaged archives, tampered records, tricks with
// entries. Shared by test/cache/bundle.test.ts (every case, in process) and test/stress (through the
// CLI, and random damage on top).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { exportBundle, importBundle, type ImportOptions } from "../../src/cache/bundle.js";
import { keyOfManifest } from "../../src/cache/record.js";
import { signObject } from "../../src/cache/signing.js";
import { CacheStore } from "../../src/cache/store.js";
import { recordFitsKind } from "../../src/cli/commands/cache.js";
import { UserError } from "../../src/core/diagnostic.js";
import { kinds } from "../../src/kinds/registry.js";
import { checkOutputBytes } from "../../src/run/artifacts.js";
import { NAMES_CSV, runIn, tempDir, writeFiles } from "../helpers.js";

export interface TarEntry {
  name: string;
  body: Buffer;
  type?: "file" | "symlink" | "link" | "directory" | "character-device" | "fifo";
  linkname?: string;
}

export interface Hostile {
  name: string;
  bytes: Buffer;
  /** What the refusal must say. */
  reason: RegExp;
}

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

export async function readTar(bytes: Buffer): Promise<TarEntry[]> {
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  const out: TarEntry[] = [];
  for await (const e of extract) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.push({ name: e.header.name, body: Buffer.concat(chunks) });
  }
  return out;
}

export async function writeTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? "file";
    await new Promise<void>((res, rej) => {
      pack.entry(
        {
          name: e.name,
          type,
          ...(e.linkname ? { linkname: e.linkname } : {}),
          ...(type === "file" ? { size: e.body.length } : {}),
        },
        type === "file" ? e.body : Buffer.alloc(0),
        (err) => (err ? rej(err) : res()),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A ustar header for an entry declaring `size`, followed by `body` (no end blocks): a tar that lies. */
function rawHeader(name: string, size: number, body: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  // Sizes over 8 GiB do not fit 11 octal digits: the base-256 form GNU tar uses.
  if (size >= 0o77777777777) {
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 124 + 4);
  } else h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write("0", 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return Buffer.concat([h, body]);
}

interface Parts {
  manifest: Record<string, unknown> & {
    records: Record<string, string>;
    blobs: Record<string, number>;
  };
  records: { key: string; json: Record<string, unknown> & Rec }[];
  blobs: { digest: string; body: Buffer }[];
}
interface Rec {
  key: string;
  kind: string;
  manifest: Record<string, unknown>;
  outputs: Record<string, { digest: string; size: number; type: string; summary: string }>;
  provenance: Record<string, unknown>;
  inputsFrom: Record<string, unknown>;
}

function parse(entries: TarEntry[]): Parts {
  const manifest = JSON.parse(entries[0]!.body.toString()) as Parts["manifest"];
  const records = entries
    .filter((e) => e.name.startsWith("records/"))
    .map((e) => ({
      key: e.name.slice(8, -5),
      json: JSON.parse(e.body.toString()) as Parts["records"][number]["json"],
    }));
  const blobs = entries
    .filter((e) => e.name.startsWith("blobs/"))
    .map((e) => ({ digest: e.name.slice(6), body: e.body }));
  return { manifest, records, blobs };
}

/** Entries from parts, with the table of contents listing what is there (as an honest exporter would). */
function assemble(p: Parts, opts: { relist?: boolean; key?: string } = {}): TarEntry[] {
  const files = p.records.map((r) => ({
    name: `records/${r.key}.json`,
    body: Buffer.from(JSON.stringify(r.json)),
  }));
  let manifest = p.manifest;
  if (opts.relist !== false) {
    const { hmac: _drop, ...m } = p.manifest;
    manifest = {
      ...m,
      records: Object.fromEntries(files.map((f) => [f.name.slice(8, -5), sha(f.body)])),
      blobs: Object.fromEntries(p.blobs.map((b) => [b.digest, b.body.length])),
    };
    if (opts.key) manifest = signObject(manifest, opts.key);
  }
  return [
    { name: "rnnp-bundle.json", body: Buffer.from(JSON.stringify(manifest)) },
    ...files,
    ...p.blobs.map((b) => ({ name: `blobs/${b.digest}`, body: b.body })),
  ];
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * Every hostile variant of a good, unsigned bundle (an uncompressed tar from `rnnp cache export`, of
 * a pipeline with records of several kinds, one of them a vocabulary), with what its refusal must say.
 */
export async function hostileBundles(good: Buffer): Promise<Hostile[]> {
  const entries = await readTar(good);
  const p = parse(entries);
  const out: Hostile[] = [];
  const add = (name: string, bytes: Buffer, reason: RegExp) => out.push({ name, bytes, reason });
  const tarOf = async (parts: Parts, opts?: Parameters<typeof assemble>[1]) =>
    writeTar(assemble(parts, opts));
  const edit = async (
    name: string,
    reason: RegExp,
    change: (q: Parts) => void,
    opts?: Parameters<typeof assemble>[1],
  ) => {
    const q = clone(p);
    change(q);
    add(name, await tarOf(q, opts), reason);
  };
  const gz = gzipSync(good);
  const [first, second] = p.records;
  if (!first || !second || p.blobs.length < 2) throw new Error("the good bundle is too small");
  const recordEntry = entries.findIndex((e) => e.name.startsWith("records/"));
  const blobEntry = entries.findIndex((e) => e.name.startsWith("blobs/"));
  const offsetOf = (i: number) =>
    entries.slice(0, i).reduce((a, e) => a + 512 + Math.ceil(e.body.length / 512) * 512, 0);

  // ---- the archive itself ----------------------------------------------------------------------
  for (const [what, at] of [
    ["inside the first header", 100],
    ["inside the table of contents", 600],
    ["inside a record", offsetOf(recordEntry) + 700],
    ["inside a blob", offsetOf(blobEntry) + 520],
    ["at an entry boundary (records missing)", offsetOf(recordEntry)],
    ["at an entry boundary (blobs missing)", offsetOf(blobEntry)],
    ["inside the last blob", good.length - 1024 - 100],
  ] as const)
    add(
      `tar truncated ${what}`,
      good.subarray(0, at),
      /truncated|(records|blobs)\/[0-9a-f]+(\.json)?, which rnnp-bundle\.json lists, is missing|holds no rnnp-bundle\.json/,
    );
  for (const at of [10, 100, Math.floor(gz.length / 2), gz.length - 4])
    add(`gzip truncated at ${at}`, gz.subarray(0, at), /gzip stream is (truncated|damaged)/);
  const badCrc = Buffer.from(gz);
  badCrc[badCrc.length - 6]! ^= 0xff;
  add("gzip with a bad CRC", badCrc, /gzip stream is damaged/);
  const badDeflate = Buffer.from(gz);
  badDeflate[20]! ^= 0x55;
  badDeflate[21]! ^= 0xaa;
  add("gzip with damaged data", badDeflate, /gzip stream is damaged|not a tar|truncated/);
  const badHeader = Buffer.from(good);
  badHeader[offsetOf(recordEntry) + 3]! ^= 0x20;
  add("a tar header with a bad checksum", badHeader, /invalid tar header/);
  add(
    "not a tar (text)",
    Buffer.from("just some text, not an archive\n".repeat(40)),
    /not a tar archive/,
  );
  add("not a tar (random bytes)", createHash("sha512").update("x").digest(), /not a tar|truncated/);
  add("an empty file", Buffer.alloc(0), /it is empty/);
  add("an empty archive", Buffer.alloc(1024), /holds no rnnp-bundle\.json/);
  add("a gzipped non-tar", gzipSync(Buffer.from("plain text\n".repeat(100))), /not a tar/);
  add(
    "trailing garbage after the tar",
    Buffer.concat([good, Buffer.from("garbage".repeat(200))]),
    /trailing garbage|invalid tar header/,
  );
  add(
    "trailing garbage after the gzip stream",
    Buffer.concat([gz, Buffer.from("garbage!".repeat(64))]),
    /gzip stream is damaged|trailing garbage/,
  );
  add(
    "a second gzip member holding another archive",
    Buffer.concat([gz, gzipSync(await writeTar([{ name: "x", body: Buffer.from("y") }]))]),
    /appears twice|not part of the bundle format|invalid tar header|trailing/,
  );

  // ---- entries -----------------------------------------------------------------------------------
  const withEntries = async (name: string, reason: RegExp, f: (es: TarEntry[]) => TarEntry[]) =>
    add(name, await writeTar(f(assemble(clone(p)))), reason);
  await withEntries("path traversal", /path tricks are refused/, (es) => [
    ...es,
    { name: "../../evil", body: Buffer.from("x") },
  ]);
  await withEntries("an absolute path", /path tricks are refused/, (es) => [
    ...es.slice(0, 1),
    { name: "/etc/passwd", body: Buffer.from("x") },
    ...es.slice(1),
  ]);
  await withEntries("a symlink", /is a symlink; bundles hold regular files only/, (es) => [
    ...es.slice(0, 1),
    {
      name: `blobs/${p.blobs[0]!.digest}`,
      body: Buffer.alloc(0),
      type: "symlink",
      linkname: "/etc/passwd",
    },
  ]);
  await withEntries("a hard link", /is a link; bundles hold regular files only/, (es) => [
    ...es.slice(0, 1),
    {
      name: `blobs/${p.blobs[0]!.digest}`,
      body: Buffer.alloc(0),
      type: "link",
      linkname: "/etc/passwd",
    },
  ]);
  await withEntries("a directory", /is a directory/, (es) => [
    ...es.slice(0, 1),
    { name: "records/", body: Buffer.alloc(0), type: "directory" },
  ]);
  await withEntries("a device", /is a character-device/, (es) => [
    ...es.slice(0, 1),
    { name: "records/x", body: Buffer.alloc(0), type: "character-device" },
  ]);
  await withEntries("a duplicate blob", /appears twice/, (es) => [...es, es.at(-1)!]);
  await withEntries("a duplicate record", /appears twice/, (es) => [
    ...es.slice(0, 2),
    es[1]!,
    ...es.slice(2),
  ]);
  await withEntries("a second table of contents", /appears twice/, (es) => [es[0]!, ...es]);
  await withEntries("two different records under one key", /appears twice/, (es) => {
    const other = Buffer.from(
      es[1]!.body
        .toString()
        .replace(/"createdAt":"[^"]*"/, '"createdAt":"2001-01-01T00:00:00.000Z"'),
    );
    return [...es.slice(0, 2), { name: es[1]!.name, body: other }, ...es.slice(2)];
  });
  await withEntries("records after the blobs", /is missing or comes after the blobs/, (es) => [
    es[0]!,
    ...es.filter((e) => e.name.startsWith("blobs/")),
    ...es.filter((e) => e.name.startsWith("records/")),
  ]);
  await withEntries("no table of contents first", /comes before rnnp-bundle\.json/, (es) =>
    es.slice(1),
  );
  await withEntries("an unlisted blob (orphan)", /is not listed in rnnp-bundle\.json/, (es) => [
    ...es,
    { name: `blobs/${sha("orphan")}`, body: Buffer.from("orphan") },
  ]);
  await withEntries("an unlisted record", /is not listed in rnnp-bundle\.json/, (es) => {
    const text = es[1]!.body.toString();
    return [es[0]!, { name: `records/${sha("x")}.json`, body: Buffer.from(text) }, ...es.slice(1)];
  });
  await withEntries(
    "a listed record missing",
    /records\/[0-9a-f]+\.json, which rnnp-bundle\.json lists, is missing/,
    (es) => es.filter((e) => e.name !== es[1]!.name),
  );
  await withEntries(
    "a listed blob missing",
    /blobs\/[0-9a-f]+, which rnnp-bundle\.json lists, is missing/,
    (es) => es.slice(0, -1),
  );
  add(
    "a 7 GB declared entry",
    rawHeader(`blobs/${p.blobs[0]!.digest}`, 7e9, Buffer.alloc(1024)),
    /over the \d+-byte limit|comes before rnnp-bundle\.json/,
  );
  add(
    "a 7 GB declared entry after the table of contents",
    Buffer.concat([
      (await writeTar(assemble(clone(p)).slice(0, 1 + p.records.length))).subarray(0, -1024),
      rawHeader(`blobs/${p.blobs[0]!.digest}`, 7e9, Buffer.alloc(1024)),
    ]),
    /over the \d+-byte limit/,
  );

  // ---- the table of contents ----------------------------------------------------------------------
  const withManifest = async (name: string, reason: RegExp, body: string) =>
    add(
      name,
      await writeTar([
        { name: "rnnp-bundle.json", body: Buffer.from(body) },
        ...assemble(clone(p)).slice(1),
      ]),
      reason,
    );
  await withManifest(
    "a table of contents that is not JSON",
    /rnnp-bundle\.json is not JSON/,
    "{format:",
  );
  await withManifest(
    "a deeply nested table of contents",
    /rnnp-bundle\.json is nested deeper than 64 levels/,
    `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
  );
  await withManifest(
    "a version-1 bundle",
    /version-1 bundle/,
    JSON.stringify({ ...p.manifest, version: 1 }),
  );
  await withManifest(
    "an unknown version",
    /unknown format "rnnp-bundle" version 99/,
    JSON.stringify({ ...p.manifest, version: 99 }),
  );
  await withManifest(
    "another format",
    /not an rnnp bundle's/,
    JSON.stringify({ ...p.manifest, format: "zip" }),
  );
  await withManifest(
    "no lists",
    /lacks its lists of records and blobs/,
    JSON.stringify({ format: "rnnp-bundle", version: 2 }),
  );
  await withManifest(
    "a blob declared at 7 GB",
    /over the \d+-byte limit/,
    JSON.stringify({ ...p.manifest, blobs: { ...p.manifest.blobs, [p.blobs[0]!.digest]: 7e9 } }),
  );
  await withManifest(
    "a blob listed with a negative size",
    /lists a blob malformed/,
    JSON.stringify({ ...p.manifest, blobs: { ...p.manifest.blobs, [p.blobs[0]!.digest]: -1 } }),
  );
  await withManifest(
    "a record listed under a malformed key",
    /lists a record malformed/,
    JSON.stringify({ ...p.manifest, records: { ...p.manifest.records, "../x": sha("x") } }),
  );
  await withManifest(
    "a listed blob of another size than its entry",
    /bytes; rnnp-bundle\.json lists|says output .* is \d+ bytes; rnnp-bundle\.json lists/,
    JSON.stringify({
      ...p.manifest,
      blobs: { ...p.manifest.blobs, [p.blobs[0]!.digest]: p.blobs[0]!.body.length + 1 },
    }),
  );
  await withManifest(
    "a listed orphan blob",
    /is named by no record: an orphan/,
    JSON.stringify({ ...p.manifest, blobs: { [sha("orphan")]: 6, ...p.manifest.blobs } }),
  );

  // ---- records ------------------------------------------------------------------------------------
  const param = (m: Record<string, unknown>) => m.params as Record<string, unknown>;
  await edit(
    "a parameter changed, the listing not updated",
    /does not match the digest rnnp-bundle\.json lists for it: the record was changed after export/,
    (q) => {
      q.records[0]!.json.manifest.params = { ...param(q.records[0]!.json.manifest), tampered: 1 };
    },
    { relist: false },
  );
  await edit(
    "a parameter changed, the listing updated (the key no longer matches)",
    /its manifest hashes to [0-9a-f]{12}: changed after it was keyed/,
    (q) => {
      q.records[0]!.json.manifest.params = { ...param(q.records[0]!.json.manifest), tampered: 1 };
    },
  );
  await edit(
    "createdAt changed, the listing not updated",
    /changed after export/,
    (q) => {
      q.records[0]!.json.provenance.createdAt = "2001-01-01T00:00:00.000Z";
    },
    { relist: false },
  );
  await edit("createdAt not a time", /provenance\.createdAt is not a UTC timestamp/, (q) => {
    q.records[0]!.json.provenance.createdAt = "yesterday";
  });
  await edit("a negative duration", /provenance\.durationMs is not a duration/, (q) => {
    q.records[0]!.json.provenance.durationMs = -5;
  });
  await edit("provenance missing", /no provenance/, (q) => {
    delete (q.records[0]!.json as Partial<Rec>).provenance;
  });
  await edit("inputsFrom malformed", /inputsFrom\.\w+ is malformed|no inputsFrom/, (q) => {
    q.records[0]!.json.inputsFrom = { data: { stage: 1, key: "nope" } };
  });
  await edit("the record names another key", /it names key/, (q) => {
    q.records[0]!.json.key = q.records[1]!.key;
  });
  await edit("the file is named for another key", /it names key|is not listed/, (q) => {
    q.records[0]!.key = sha("elsewhere");
  });
  await edit("a kind that does not match the manifest", /its manifest is of kind/, (q) => {
    q.records[0]!.json.kind = "evaluate";
  });
  await edit("an unknown field", /unknown field "extra"/, (q) => {
    (q.records[0]!.json as Record<string, unknown>).extra = true;
  });
  await edit("`__proto__` at the top of a record", /unknown field "__proto__"/, (q) => {
    q.records[0] = {
      key: q.records[0]!.key,
      json: JSON.parse(
        `{"__proto__":{"polluted":true},${JSON.stringify(q.records[0]!.json).slice(1)}`,
      ),
    };
  });
  await edit("an output named `__proto__`", /outputs are|malformed|bytes/, (q) => {
    const outs = q.records[0]!.json.outputs;
    const [name] = Object.keys(outs);
    q.records[0]!.json.outputs = JSON.parse(
      JSON.stringify(outs).replace(JSON.stringify(name), '"__proto__"'),
    );
  });
  await edit(
    "`__proto__` in the manifest, the key not recomputed",
    /its manifest hashes to/,
    (q) => {
      q.records[0]!.json.manifest = JSON.parse(
        `{"__proto__":{"polluted":true},${JSON.stringify(q.records[0]!.json.manifest).slice(1)}`,
      );
    },
  );
  await edit("a deeply nested record", /nested deeper than 64 levels/, (q) => {
    q.records[0]!.json.manifest.params = JSON.parse(`${"[".repeat(200)}${"]".repeat(200)}`);
  });
  await edit(
    "an output size changed",
    /says output .* is \d+ bytes; rnnp-bundle\.json lists|bytes, the record says/,
    (q) => {
      const o = Object.values(q.records[0]!.json.outputs)[0]!;
      o.size += 1;
    },
  );
  await edit("an output summary changed", /is described as .*; its record says/, (q) => {
    const o = Object.values(q.records[0]!.json.outputs)[0]!;
    o.summary = "table, 1 rows x 1 columns: nothing to see";
  });
  await edit("an output type changed", /is a .* artifact; its record says|makes/, (q) => {
    const o = Object.values(q.records[0]!.json.outputs)[0]!;
    o.type = "report";
  });
  await edit(
    "another stage's artifact served as this one's (type and summary to match)",
    /makes|outputs are/,
    (q) => {
      const a = q.records.find((r) => r.json.kind === "vocabulary") ?? q.records[1]!;
      const b = q.records.find((r) => r !== a && r.json.kind !== a.json.kind)!;
      b.json.outputs = clone(a.json.outputs);
    },
  );
  await edit("an output naming a blob the bundle lacks", /which the bundle does not hold/, (q) => {
    Object.values(q.records[0]!.json.outputs)[0]!.digest = sha("absent");
  });
  await edit(
    "a blob whose bytes are corrupt",
    /does not hash to its name: the blob is corrupt/,
    (q) => {
      const b = q.blobs[0]!;
      b.body = Buffer.from(b.body);
      b.body[b.body.length >> 1]! ^= 1;
    },
  );
  await edit("a blob that is not an artifact", /does not decode as an artifact/, (q) => {
    const junk = Buffer.from("not an artifact at all");
    const d = sha(junk);
    const r = q.records[0]!;
    const o = Object.values(r.json.outputs)[0]!;
    q.blobs = q.blobs.filter(
      (b) =>
        q.records.some(
          (x) => x !== r && Object.values(x.json.outputs).some((y) => y.digest === b.digest),
        ) || b.digest !== o.digest,
    );
    q.blobs.push({ digest: d, body: junk });
    o.digest = d;
    o.size = junk.length;
  });
  await edit("a record of a kind this rnnp does not have", /which this rnnp does not have/, (q) => {
    const r = q.records[0]!;
    r.json.kind = "mystery";
    r.json.manifest.kind = "mystery";
    const oldKey = r.key;
    r.key = keyOfManifest(r.json.manifest);
    r.json.key = r.key;
    void oldKey;
  });
  return out;
}

/** Variants of a bundle signed with `key` that an importer holding `key` must refuse. */
export async function hostileSigned(
  signed: Buffer,
  unsigned: Buffer,
  key: string,
): Promise<Hostile[]> {
  const p = parse(await readTar(signed));
  const out: Hostile[] = [];
  out.push({
    name: "unsigned, when a key is set",
    bytes: unsigned,
    reason: /is not signed, and RNNP_CACHE_KEY requires signed/,
  });
  const wrongToc = clone(p);
  out.push({
    name: "a table of contents signed with another key",
    bytes: await writeTar(assemble(wrongToc, { key: `${key}-other` })),
    reason: /table of contents has a wrong signature/,
  });
  const changed = clone(p);
  changed.records[0]!.json.provenance.createdAt = "2001-01-01T00:00:00.000Z";
  out.push({
    name: "a record changed, the table of contents re-listed and re-signed, the record's own signature stale",
    bytes: await writeTar(assemble(changed, { key })),
    reason: /has a wrong signature \(another key, or tampered\)/,
  });
  const stripped = clone(p);
  delete (stripped.records[0]!.json as { hmac?: string }).hmac;
  out.push({
    name: "a record's signature removed",
    bytes: await writeTar(assemble(stripped, { key })),
    reason: /is not signed, and RNNP_CACHE_KEY requires signed records/,
  });
  return out;
}

export const BUNDLE_PIPELINE = `pipeline b {
  seed 2
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.6, val: 0.2, test: 0.2)
  stage vocab = vocabulary(parts.train, level: "char")
  stage h = head(parts, n: 2)
}
`;

/** The checks `rnnp cache import` makes. */
export const IMPORT_CHECKS: ImportOptions = {
  check: checkOutputBytes,
  checkRecord: (r) => recordFitsKind(r, kinds),
};

/** A cache with the pipeline built, and its bundle (unsigned, and signed with `key`). */
export async function goodBundles(key = "k1"): Promise<{ plain: Buffer; signed: Buffer }> {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": NAMES_CSV });
  const { store } = await runIn(BUNDLE_PIPELINE, join(dir, "b.rnnp"), join(dir, "cache"));
  const records = [...store.allRecords()];
  await exportBundle(store, records, join(dir, "plain.tar"), {});
  await exportBundle(store, records, join(dir, "signed.tar"), { key });
  await store.close();
  return {
    plain: readFileSync(join(dir, "plain.tar")),
    signed: readFileSync(join(dir, "signed.tar")),
  };
}

/**
 * Imports a hostile bundle into an empty cache: it must be refused as a user error saying "refusing"
 * and why, and leave the cache empty (no record, no blob, no staging file). Returns the message.
 */
export async function refused(h: Hostile, opts: ImportOptions = {}): Promise<string> {
  const dir = tempDir("rnnp-hostile-");
  const file = join(dir, "bundle");
  writeFileSync(file, h.bytes);
  const store = CacheStore.open(join(dir, "cache"));
  try {
    let error: unknown;
    try {
      await importBundle(store, file, { ...IMPORT_CHECKS, ...opts });
    } catch (e) {
      error = e;
    }
    assert.ok(
      error instanceof UserError,
      `${h.name}: not refused as a user error: ${String(error)}`,
    );
    assert.match(error.message, /^refusing /, `${h.name}: ${error.message}`);
    assert.match(error.message, h.reason, `${h.name}: ${error.message}`);
    assert.equal(store.recordCount(), 0, `${h.name}: a record was imported`);
    assert.deepEqual(store.blobDigests(), [], `${h.name}: a blob was imported`);
    assert.deepEqual(
      readdirSync(join(dir, "cache")).filter((n) => n.startsWith(".import")),
      [],
      `${h.name}: staging left behind`,
    );
    return error.message;
  } finally {
    await store.close();
  }
}
