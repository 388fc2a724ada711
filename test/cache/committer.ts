// A process on one cache (for the open-during-commit stress test): `committer.ts DIR writer` commits
// records until DIR.stop exists (DIR.started once it is committing) and prints how many;
// `committer.ts DIR opener` opens the cache, reads it and closes it; `... count` prints its records.
import { existsSync, writeFileSync } from "node:fs";
import { keyOfManifest } from "../../src/cache/record.js";
import { CacheStore } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";

const [dir, role] = process.argv.slice(2) as [string, string];
const store = CacheStore.open(dir);
if (role === "writer") {
  let commits = 0;
  for (; !existsSync(`${dir}.stop`); commits++) {
    if (commits === 1) writeFileSync(`${dir}.started`, "");
    const id = `${process.pid}-${commits}`;
    const bytes = Buffer.from(id);
    const manifest = { kind: "test", id };
    store.commit(
      {
        key: keyOfManifest(manifest),
        kind: "test",
        outputs: { o: { digest: digestOf(bytes), size: bytes.length, type: "table", summary: "" } },
        manifest,
        inputsFrom: {},
        provenance: {
          pipeline: "p",
          file: "p.rnnp",
          stage: "s",
          createdAt: new Date().toISOString(),
          durationMs: 0,
          rnnpVersion: "test",
        },
      },
      new Map([[digestOf(bytes), bytes]]),
    );
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15);
  }
  process.stdout.write(String(commits));
} else if (role === "count") process.stdout.write(String(store.recordCount()));
else store.recordCount();
await store.close();
