// The writer of test/cache/concurrency.test.ts's open-during-commit test, step by step:
// `stepper.ts DIR K` opens (creating) the cache and commits a record, creates DIR.started, waits for
// DIR.held (another process is inside its open), commits K records (DIR.trying before them,
// DIR.committed after), waits for DIR.stop, commits one more, closes, and prints how many it
// committed.
import { existsSync, writeFileSync } from "node:fs";
import { CacheStore } from "../../src/cache/store.js";
import { digestOf } from "../../src/core/digest.js";
import { fakeRecord } from "./records.js";

const [dir, k] = process.argv.slice(2) as [string, string];

function waitFor(path: string): void {
  for (let i = 0; !existsSync(path); i++) {
    if (i > 15_000) throw new Error(`${path} never came`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
}

const store = CacheStore.open(dir);
let commits = 0;
const commit = () => {
  const bytes = Buffer.from(`${process.pid}-${commits++}`);
  store.commit(fakeRecord(bytes.toString(), { o: bytes }), new Map([[digestOf(bytes), bytes]]));
};
commit();
writeFileSync(`${dir}.started`, "");
waitFor(`${dir}.held`);
writeFileSync(`${dir}.trying`, "");
for (let i = 0; i < Number(k); i++) commit();
writeFileSync(`${dir}.committed`, "");
waitFor(`${dir}.stop`);
commit();
await store.close();
process.stdout.write(String(commits));
