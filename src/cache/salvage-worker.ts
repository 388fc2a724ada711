/**
 * The child process of `cache verify` and `cache repair` (see salvage.ts). LMDB trusts its file: a
 * damaged page can crash the process that reads it (SIGSEGV, SIGABRT), so reading a cache that may
 * be damaged happens here, and the parent survives to report. It writes one line per step to stdout
 * (synchronously, so a crash loses none):
 *   scan DIR                  checks LMDB's pages (layout.ts), then reads everything: {"progress": ...}
 *                             lines, then {"report": ScanReport} or {"error": message}
 *   drop DIR                  reads {records, blobs, aux} (JSON) on stdin, removes them and every
 *                             blob no record names, in one transaction; then {"swept": [...]}
 *   copy SRC DST DB FROM|-    "open", then "at KEY" before reading each value and "ok KEY" after
 *                             copying it, or "miss KEY" when a lookup does not find it (keys in
 *                             hex), "listed" at the listing's end, "ok KEY" for each missed value a
 *                             cursor then found, then "done"; FROM is "after:HEX" or "from:HEX"
 */
import { readFileSync, writeSync } from "node:fs";
import { type Database, open } from "lmdb";
import { checkLayoutOfLiveCache, describeLayout } from "./layout.js";
import { crash, faultsFromEnv } from "./salvage-faults.js";
import { type ScanReport, scan } from "./scan.js";
import { type AuxEntry, CacheDamagedError, CacheStore, lockCache } from "./store.js";
import type { Digest, StageKey } from "../core/digest.js";

const say = (line: string): void => {
  writeSync(1, `${line}\n`);
};

const faults = faultsFromEnv();

function scanCommand(dir: string): void {
  if (faults.scan) crash();
  // The pages first, with plain reads: LMDB would crash on some of what this finds, and never reads
  // the free-page table read-only (a damaged one breaks the next commit).
  const layout = checkLayoutOfLiveCache(dir);
  if (layout.problems.length) {
    say(JSON.stringify({ error: describeLayout(layout) }));
    return;
  }
  let store: CacheStore;
  try {
    store = CacheStore.open(dir, { readOnly: true });
  } catch (e) {
    say(
      JSON.stringify({ error: e instanceof CacheDamagedError ? e.detail : (e as Error).message }),
    );
    return;
  }
  let report: ScanReport;
  try {
    report = scan(store, (phase, done, total, bytes) =>
      say(JSON.stringify({ progress: { phase, done, total, bytes } })),
    );
  } catch (e) {
    // A table whose lookups miss what its listing has: repair copies by listing, into a new tree.
    if (!(e instanceof CacheDamagedError)) throw e;
    say(JSON.stringify({ error: e.detail }));
    return;
  }
  say(JSON.stringify({ report }));
}

function dropCommand(dir: string): void {
  const { records, blobs, aux } = JSON.parse(readFileSync(0, "utf8")) as {
    records: StageKey[];
    blobs: Digest[];
    aux: AuxEntry[];
  };
  const store = CacheStore.open(dir);
  say(JSON.stringify({ swept: store.removeAndSweep(records, blobs, aux) }));
}

function copyCommand(src: string, dst: string, name: string, from: string): void {
  const dirs = { noSubdir: false, maxDbs: 8, compression: false } as const;
  // Opened under the cache lock, as every open is (see lockCache in store.ts).
  const release = lockCache(src);
  let source: ReturnType<typeof open>;
  try {
    source = open({ path: src, ...dirs, readOnly: true });
  } finally {
    release();
  }
  const target = open({ path: dst, ...dirs, noSync: true });
  const raw = { encoding: "binary", keyEncoding: "binary" } as const;
  const db = source.openDB<Buffer, Buffer>({ name, ...raw });
  // A read-only environment has no handle for a table it does not hold.
  if (!db) {
    say("done");
    return;
  }
  const out = target.openDB<Buffer, Buffer>({ name, ...raw });
  say("open");
  const [mode, hex] = from === "-" ? ["from", ""] : (from.split(":") as [string, string]);
  const start = Buffer.from(hex, "hex");
  const hurt = faults.table === name;
  const missed = new Set<string>();
  for (const key of db.getKeys(hex ? { start } : {})) {
    if (mode === "after" && start.equals(key)) continue;
    const k = key.toString("hex");
    if (hurt && faults.range && k > faults.range[0] && k <= faults.range[1]) crash();
    say(`at ${k}`);
    if (hurt && faults.read === k) crash();
    const value = db.getBinary(key);
    if (value === undefined) {
      missed.add(k);
      say(`miss ${k}`);
      continue;
    }
    out.putSync(key, value);
    say(`ok ${k}`);
  }
  say("listed");
  copyMissed(db, out, missed);
  say("done");
}

/**
 * Keys the listing gave but a lookup missed (a damaged branch separator sends lookups astray, while
 * a cursor walks the leaves in order): their values as the cursor reads them beside their keys. What
 * this copies is checked like everything else (records' seals, blobs' digests) before it is kept.
 */
function copyMissed(
  db: Database<Buffer, Buffer>,
  out: Database<Buffer, Buffer>,
  missed: Set<string>,
): void {
  if (missed.size === 0) return;
  for (const { key, value } of db.getRange({})) {
    const k = key.toString("hex");
    if (!missed.delete(k)) continue;
    out.putSync(key, value);
    say(`ok ${k}`);
    if (missed.size === 0) return;
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === "scan") scanCommand(args[0]!);
else if (command === "drop") dropCommand(args[0]!);
else if (command === "copy") copyCommand(args[0]!, args[1]!, args[2]!, args[3]!);
else {
  process.stderr.write(`salvage-worker: unknown command ${command}\n`);
  process.exitCode = 2;
}
