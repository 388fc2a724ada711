// A process that takes a cache's lock (store.ts lockCache), says "held" on stdout, and keeps it
// until it is killed: for the tests of holders killed by SIGKILL or Ctrl-C (SIGINT).
import { lockCache } from "../../src/cache/store.js";

const [dir] = process.argv.slice(2) as [string];
lockCache(dir);
process.stdout.write("held\n");
setInterval(() => {}, 1000);
