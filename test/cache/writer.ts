// A worker for the multi-process cache test: commits `count` records, each with one private blob and
// one of 10 blobs that every worker writes too.
import { digestOf } from "../../src/core/digest.js";
import { keyOfManifest } from "../../src/cache/record.js";
import { CacheStore } from "../../src/cache/store.js";

const [dir, id, count] = process.argv.slice(2) as [string, string, string];
const store = CacheStore.open(dir);
for (let i = 0; i < Number(count); i++) {
  const own = Buffer.from(`worker ${id} record ${i} `.repeat(50));
  const shared = Buffer.from(`shared ${i % 10} `.repeat(200));
  const manifest = { kind: "test", writer: id, i };
  const key = keyOfManifest(manifest);
  store.commit(
    {
      key,
      kind: "test",
      outputs: {
        a: { digest: digestOf(own), size: own.length, type: "table", summary: "" },
        b: { digest: digestOf(shared), size: shared.length, type: "table", summary: "" },
      },
      manifest,
      inputsFrom: {},
      provenance: {
        pipeline: "p",
        file: "p",
        stage: `w${id}`,
        createdAt: new Date().toISOString(),
        durationMs: 0,
        rnnpVersion: "test",
      },
    },
    new Map([
      [digestOf(own), own],
      [digestOf(shared), shared],
    ]),
    { pipeline: "p", stage: `w${id}` },
  );
}
await store.close();
