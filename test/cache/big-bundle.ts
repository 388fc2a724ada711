// Writes a gzipped bundle holding one record whose output is a table of `bytes` bytes (zeros: it
// compresses to almost nothing, as the hostile bundles of issue 10 did), for the memory test of
// `rnnp cache import`: node --import tsx big-bundle.ts OUT BYTES
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import type { Table } from "../../src/artifacts/table.js";
import { keyOfManifest } from "../../src/cache/record.js";
import { sha256 } from "../../src/core/digest.js";
import { encodeArtifact } from "../../src/run/artifacts.js";

const [out, size] = process.argv.slice(2) as [string, string];
const rows = Math.floor((Number(size) - 200) / 8);
const table: Table = {
  type: "table",
  columns: [{ name: "x", dtype: "number", values: new Float64Array(rows) }],
  roles: {},
};
const { bytes, ref } = encodeArtifact(table);
const manifest = {
  format: 1,
  kind: "load.csv",
  version: 1,
  params: { path: "big.csv" },
  inputs: {},
  files: { "big.csv": "0".repeat(64) },
};
const key = keyOfManifest(manifest);
const record = Buffer.from(
  JSON.stringify({
    key,
    kind: "load.csv",
    outputs: { out: ref },
    manifest,
    inputsFrom: {},
    provenance: {
      pipeline: "big",
      file: "big.rnnp",
      stage: "raw",
      createdAt: new Date().toISOString(),
      durationMs: 1,
      rnnpVersion: "test",
    },
  }),
);
const toc = Buffer.from(
  JSON.stringify({
    format: "rnnp-bundle",
    version: 2,
    signed: false,
    records: { [key]: sha256(record) },
    blobs: { [ref.digest]: ref.size },
  }),
);
const pack = tar.pack();
const done = pipeline(
  pack as unknown as Readable,
  createGzip({ level: 1 }),
  createWriteStream(out),
);
const entry = (name: string, body: Buffer) =>
  new Promise<void>((res, rej) =>
    pack.entry({ name, size: body.length }, body, (e) => (e ? rej(e) : res())),
  );
await entry("rnnp-bundle.json", toc);
await entry(`records/${key}.json`, record);
await entry(`blobs/${ref.digest}`, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
pack.finalize();
await done;
process.stdout.write(`${JSON.stringify({ entry: bytes.length, digest: ref.digest })}\n`);
