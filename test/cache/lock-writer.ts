// A process that writes one pipeline's lockfile `count` times (for the concurrent-writers test):
// each write a lock of its own, so that a reader can tell whose it is.
import { writeLockfile, type Lockfile } from "../../src/plan/lockfile.js";

const [path, id, count] = process.argv.slice(2) as [string, string, string];
for (let i = 0; i < Number(count); i++) {
  const lock: Lockfile = {
    lockfileVersion: 1,
    pipeline: `writer ${id}`,
    rnnp: String(i),
    stages: {},
  };
  writeLockfile(path, lock);
}
