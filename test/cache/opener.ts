// A process that opens a cache (maybe at the same moment as others open it, fresh), commits one
// record with a blob, and reads it back: for the concurrent-open test.
import { keyOfManifest } from "../../src/cache/record.js";
import { CacheStore } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";

const [dir, id] = process.argv.slice(2) as [string, string];
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
