// A worker for the multi-process folder test: hashes one folder into a cache (with a clock ahead, so
// that its entry is written at once) and writes the digest to a file.
import { writeFileSync } from "node:fs";
import { CacheStore } from "../../src/cache/store.js";
import { FileHasher, RACY_NS } from "../../src/plan/files.js";

const [dir, folder, out] = process.argv.slice(2) as [string, string, string];
const store = CacheStore.open(dir);
const digest = new FileHasher(store, () => BigInt(Date.now()) * 1_000_000n + 10n * RACY_NS).digest(
  folder,
);
writeFileSync(out, digest);
await store.close();
