// A process that opens a cache (maybe at the same moment as others open it, fresh), commits one
// record with a blob, and reads it back: for the concurrent-open tests. `opener.ts DIR ID [START]`:
// with START (ms since the epoch) it waits until then, so that every process of a round, started
// and loaded, opens the fresh cache at the same moment.
import { keyOfManifest } from "../../src/cache/record.js";
import { CacheStore } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";

const [dir, id, start] = process.argv.slice(2) as [string, string, string?];
const wait = start === undefined ? 0 : Number(start) - Date.now();
if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
const store = CacheStore.open(dir);
const bytes = Buffer.from(`opener ${id}`);
const manifest = { kind: "test", opener: id };
const key = keyOfManifest(manifest);
store.commit(
  {
    key,
    kind: "test",
    outputs: { out: { digest: digestOf(bytes), size: bytes.length, type: "table", summary: "" } },
    manifest,
    inputsFrom: {},
    provenance: {
      pipeline: "p",
      file: "p.rnnp",
      stage: `o${id}`,
      createdAt: new Date().toISOString(),
      durationMs: 0,
      rnnpVersion: "test",
    },
  },
  new Map([[digestOf(bytes), bytes]]),
  { pipeline: "p", stage: `o${id}` },
);
if (!store.getRecord(key)) throw new Error("the record just committed is not there");
await store.close();
