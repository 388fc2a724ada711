import { spawn } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../core/diagnostic.js";
import { NODE_FLAGS } from "../core/node-flags.js";
import type { StageKey } from "../core/digest.js";
import type { OutputCheck } from "./record.js";
import { FAULTS_ENV, type WorkerFaults } from "./salvage-faults.js";
import { scan, type ScanProgress, type ScanReport } from "./scan.js";
import { CacheDamagedError, CacheStore, checkHeader } from "./store.js";

/**
 * Verify and repair for a cache that may be damaged. LMDB trusts its file, and a flipped byte in a
 * page can crash the reading process outright (SIGSEGV, SIGABRT), which no try/catch survives. So
 * both read the damaged environment in child processes (salvage-worker.ts) and survive their death:
 *   verify: a child reads everything (every blob hashed, every record decoded and checked against
 *     its key); if it comes back, damaged records, corrupt blobs, records naming them and blobs no
 *     record names are dropped here; if it dies, the damage is beyond LMDB, and repair is the way.
 *   repair: children copy the environment table by table, key by key, into a new one; a child that
 *     dies on a value loses that value, one that dies moving on from a key is restarted past it
 *     (further each time), so everything readable is kept. The copy is then verified, and replaces
 *     the damaged file, which is kept beside it.
 */
export interface VerifyReport extends ScanReport {
  /** With `deep`: outputs that do not decode to what their records say. */
  deep?: { checked: number; failed: { key: StageKey; stage: string; problem: string }[] };
  /** Set when the cache could not be read at all (the scan died, or LMDB cannot open it). */
  unreadable?: string;
}

export interface VerifyOptions {
  /** Also decode every output and compare it with its record (`cache verify --deep`). */
  deep?: boolean;
  check?: OutputCheck;
  onProgress?: ScanProgress;
  /** Kill a child that reports nothing for this long (a damaged page can also loop). */
  stallMs?: number;
  /** Check only; drop nothing. */
  dryRun?: boolean;
  /** For tests: make the children die where a damaged page would make them (see salvage-worker.ts). */
  faults?: WorkerFaults;
}

const STALL_MS = 120_000;

/** The command that starts the worker: the compiled one, or under tsx (tests) the source. */
function workerArgv(): string[] {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith(".ts");
  const worker = join(dirname(here), `salvage-worker.${ts ? "ts" : "js"}`);
  return [...NODE_FLAGS, ...(ts ? ["--import", "tsx", worker] : [worker])];
}

/** This process's environment, with the worker's faults only when a test asks for them. */
function workerEnv(faults?: WorkerFaults): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[FAULTS_ENV];
  if (faults) env[FAULTS_ENV] = JSON.stringify(faults);
  return env;
}

interface ChildEnd {
  lines: string[];
  /** The signal or exit code of a child that did not end well, as words. */
  death?: string;
}

/** Runs the worker; `onLine` sees each line as it comes. Never rejects. */
function runWorker(
  args: string[],
  opts: Pick<VerifyOptions, "stallMs" | "faults">,
  onLine: (line: string) => void = () => {},
  input?: string,
): Promise<ChildEnd> {
  const stallMs = opts.stallMs ?? STALL_MS;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...workerArgv(), ...args], {
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: workerEnv(opts.faults),
    });
    child.stdin?.on("error", () => {}).end(input);
    const lines: string[] = [];
    let partial = "";
    let stderr = "";
    let stalled = false;
    let timer = setTimeout(stall, stallMs);
    function stall() {
      stalled = true;
      child.kill("SIGKILL");
    }
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      clearTimeout(timer);
      timer = setTimeout(stall, stallMs);
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        onLine(line);
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ lines, death: `could not start: ${e.message}` });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (partial) lines.push(partial);
      const death = stalled
        ? `stopped after ${Math.round(stallMs / 1000)} s without progress`
        : signal
          ? `died with ${signal}`
          : code !== 0
            ? `exited with code ${code}${stderr ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`
            : undefined;
      resolve({ lines, ...(death ? { death } : {}) });
    });
  });
}

/** A full read of the cache in a child process: its report, or why it could not finish. */
export async function scanInChild(
  dir: string,
  opts: Pick<VerifyOptions, "onProgress" | "stallMs" | "faults"> = {},
): Promise<{ report: ScanReport } | { unreadable: string }> {
  let report: ScanReport | undefined;
  let error: string | undefined;
  let phase = "opening";
  const end = await runWorker(["scan", dir], opts, (line) => {
    const msg = JSON.parse(line) as {
      progress?: { phase: string; done: number; total: number; bytes?: number };
      report?: ScanReport;
      error?: string;
    };
    if (msg.progress) {
      phase = `reading ${msg.progress.phase} (${msg.progress.done} of ${msg.progress.total})`;
      opts.onProgress?.(
        msg.progress.phase,
        msg.progress.done,
        msg.progress.total,
        msg.progress.bytes,
      );
    }
    if (msg.report) report = msg.report;
    if (msg.error) error = msg.error;
  });
  if (report && !end.death) return { report };
  if (error) return { unreadable: error };
  return { unreadable: `LMDB could not read it: the scan ${end.death} while ${phase}` };
}

/**
 * `rnnp cache verify`: reads everything in a child process, then drops what is damaged, so that
 * those stages recompute. A cache the child could not read is reported, and left as it is.
 */
export async function verifyCache(dir: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  if (!existsSync(join(dir, "data.mdb"))) return emptyScan(); // no cache yet: nothing to check
  const scanned = await scanInChild(dir, opts);
  if ("unreadable" in scanned) return { ...emptyScan(), unreadable: scanned.unreadable };
  return dropDamage(dir, scanned.report, opts);
}

function emptyScan(): ScanReport {
  return {
    blobsChecked: 0,
    bytesChecked: 0,
    corrupt: [],
    recordsChecked: 0,
    damagedRecords: [],
    droppedRecords: [],
    orphans: [],
    damagedAux: [],
  };
}

/**
 * After a scan that came back: the deep check, if asked (reading what the scan read safely), then
 * one transaction dropping the damage, in a child too (a damaged free list can crash a writer).
 */
async function dropDamage(
  dir: string,
  report: ScanReport,
  opts: VerifyOptions,
): Promise<VerifyReport> {
  const out: VerifyReport = { ...report };
  const drop = new Set<StageKey>([
    ...report.damagedRecords.map((r) => r.key),
    ...report.droppedRecords.map((r) => r.key),
  ]);
  if (opts.deep && opts.check) {
    const store = CacheStore.open(dir);
    try {
      out.deep = deepCheck(store, drop, opts.check, opts.onProgress);
    } finally {
      await store.close();
    }
    for (const f of out.deep.failed) drop.add(f.key);
  }
  const nothing =
    !drop.size && !report.corrupt.length && !report.orphans.length && !report.damagedAux.length;
  if (opts.dryRun || nothing) return out;
  let swept: ScanReport["orphans"] | undefined;
  const end = await runWorker(
    ["drop", dir],
    opts,
    (line) => {
      swept = (JSON.parse(line) as { swept: ScanReport["orphans"] }).swept;
    },
    JSON.stringify({ records: [...drop], blobs: report.corrupt, aux: report.damagedAux }),
  );
  if (!swept || end.death)
    return { ...out, unreadable: `LMDB could not write to it: dropping the damage ${end.death}` };
  // What was swept is what is orphaned now: the scan's orphans and the blobs of dropped records.
  out.orphans = swept;
  return out;
}

/** Decodes every output of every sound record and checks it against the record. */
function deepCheck(
  store: CacheStore,
  skip: ReadonlySet<StageKey>,
  check: OutputCheck,
  onProgress?: ScanProgress,
): NonNullable<VerifyReport["deep"]> {
  const failed: NonNullable<VerifyReport["deep"]>["failed"] = [];
  const records = [...store.allRecords()].filter((r) => !skip.has(r.key));
  let checked = 0;
  records.forEach((r, i) => {
    for (const [name, ref] of Object.entries(r.outputs)) {
      const bytes = store.getIntactBlob(ref.digest);
      if (!bytes) continue; // the scan saw it intact; another process may have dropped it since
      checked++;
      const problem = check(bytes, ref);
      if (problem)
        failed.push({
          key: r.key,
          stage: `${r.provenance.pipeline}/${r.provenance.stage}`,
          problem: `output ${JSON.stringify(name)} ${problem}`,
        });
    }
    onProgress?.("decoding", i + 1, records.length);
  });
  return { checked, failed };
}

export interface RepairReport {
  /** Per table: entries copied, and entries lost (values that crashed the reader, ranges skipped). */
  tables: {
    name: string;
    copied: number;
    lost: number;
    skippedRanges: number;
    unreadable?: string;
  }[];
  /** The repaired cache, verified. */
  verify: VerifyReport;
  /** Where the damaged file was put. */
  damagedFile: string;
}

const TABLES = ["blobs", "records", "history", "stat", "checks"];
/** Restarts of the copy of one table before the rest of it is given up. */
const MAX_RESTARTS = 64;

/**
 * `rnnp cache repair`: copies what is readable into a new environment, verifies it, and puts it in
 * place of the damaged one (kept as `damaged-<time>/data.mdb`). Run it when no other rnnp process
 * uses the cache.
 */
export async function repairCache(
  dir: string,
  opts: VerifyOptions & { onTable?: (name: string) => void } = {},
): Promise<RepairReport> {
  const data = join(dir, "data.mdb");
  if (!existsSync(data))
    throw new UserError(`there is no cache at ${dir} (no data.mdb)`, { code: "cache-corrupt" });
  const fresh = join(dir, `.repair-${process.pid}`);
  rmSync(fresh, { recursive: true, force: true });
  mkdirSync(fresh, { recursive: true });
  const tables: RepairReport["tables"] = [];
  let header: string | undefined;
  try {
    checkHeader(dir);
  } catch (e) {
    header = e instanceof CacheDamagedError ? e.detail : String(e);
  }
  for (const name of TABLES) {
    opts.onTable?.(name);
    tables.push(
      header === undefined
        ? await copyTable(dir, fresh, name, opts)
        : { name, copied: 0, lost: 0, skippedRanges: 0, unreadable: header },
    );
  }
  const repaired = CacheStore.open(fresh);
  let report: ScanReport;
  try {
    report = scan(repaired, opts.onProgress);
  } finally {
    await repaired.close();
  }
  const verify = await dropDamage(fresh, report, opts);
  const damagedDir = join(dir, `damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(damagedDir, { recursive: true });
  renameSync(data, join(damagedDir, "data.mdb"));
  renameSync(join(fresh, "data.mdb"), data);
  rmSync(join(dir, "lock.mdb"), { force: true });
  rmSync(fresh, { recursive: true, force: true });
  return { tables, verify, damagedFile: join(damagedDir, "data.mdb") };
}

/** Copies one table key by key in children, restarting past whatever kills them. */
async function copyTable(
  src: string,
  dst: string,
  name: string,
  opts: Pick<VerifyOptions, "stallMs" | "faults">,
): Promise<RepairReport["tables"][number]> {
  const result: RepairReport["tables"][number] = { name, copied: 0, lost: 0, skippedRanges: 0 };
  let from = "-";
  /** How far past a key the next restart jumps, after restarts that made no progress. */
  let jump = 0;
  let lastOk: string | undefined;
  for (let restarts = 0; ; restarts++) {
    let opened = false;
    let at: string | undefined;
    let progressed = false;
    let listed = false;
    let done = false;
    const missed = new Set<string>();
    const end = await runWorker(["copy", src, dst, name, from], opts, (line) => {
      if (line === "open") opened = true;
      else if (line === "done") done = true;
      else if (line === "listed") listed = true;
      else if (line.startsWith("at ")) at = line.slice(3);
      else if (line.startsWith("miss ")) {
        lastOk = line.slice(5);
        missed.add(lastOk);
        at = undefined;
        progressed = true;
      } else if (line.startsWith("ok ")) {
        const key = line.slice(3);
        if (listed) missed.delete(key);
        else lastOk = key;
        at = undefined;
        progressed = true;
        result.copied++;
      }
    });
    // A key whose lookup missed and that the cursor after the listing did not find is lost (also
    // when the copy died looking for them: the listing itself was whole, nothing to restart).
    result.lost += missed.size;
    if (listed || (done && !end.death)) return result;
    if (!opened) {
      result.unreadable = `LMDB cannot open it: the copy ${end.death ?? "ended early"}`;
      return result;
    }
    if (restarts >= MAX_RESTARTS) {
      result.unreadable = `gave up after ${MAX_RESTARTS} restarts`;
      return result;
    }
    if (at !== undefined) {
      // It died reading this value: lose it and go on after it.
      result.lost++;
      from = `after:${at}`;
      jump = 0;
      continue;
    }
    // It died moving on from the last key it copied: start again further on each time.
    if (progressed) jump = 0;
    const base = lastOk ?? (from === "-" ? "" : from.slice(from.indexOf(":") + 1));
    const next = beyond(base, jump++);
    if (next === undefined) return result; // nothing left past it
    result.skippedRanges++;
    from = `from:${next}`;
  }
}

/**
 * A key past `hex` (a key's bytes): just after it at first (jump 0), then past every key sharing its
 * whole length, half of it, a quarter... down to its first byte, to step over a damaged page whose
 * keys are unknown. Undefined when no shorter prefix is left, or no key can follow.
 */
export function beyond(hex: string, jump: number): string | undefined {
  const bytes = Buffer.from(hex, "hex");
  if (jump === 0) return Buffer.concat([bytes, Buffer.from([0])]).toString("hex");
  const lengths: number[] = [];
  for (let n = bytes.length; n >= 1; n >>= 1) lengths.push(n);
  const length = lengths[jump - 1];
  if (length === undefined) return undefined;
  const prefix = Buffer.from(bytes.subarray(0, length));
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      prefix[i]!++;
      return prefix.subarray(0, i + 1).toString("hex");
    }
  }
  return undefined;
}
