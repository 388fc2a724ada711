// A process on one cache (for the open-during-commit stress test): `committer.ts DIR writer [MS]`
// commits records, MS ms apart (15 by default), until DIR.stop exists (DIR.started once it is
// committing) and prints how many;
// `committer.ts DIR opener` opens the cache, reads it and closes it; `... count` prints its records.
import { existsSync, writeFileSync } from "node:fs";
import { CacheStore } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";
import { fakeRecord } from "./records.js";

const [dir, role, pause = "15"] = process.argv.slice(2) as [string, string, string?];
const store = CacheStore.open(dir);
if (role === "writer") {
  let commits = 0;
  for (; !existsSync(`${dir}.stop`); commits++) {
    if (commits === 1) writeFileSync(`${dir}.started`, "");
    const id = `${process.pid}-${commits}`;
    const bytes = Buffer.from(id);
    store.commit(fakeRecord(id, { o: bytes }), new Map([[digestOf(bytes), bytes]]));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(pause));
  }
  process.stdout.write(String(commits));
} else if (role === "count") process.stdout.write(String(store.recordCount()));
else store.recordCount();
await store.close();
