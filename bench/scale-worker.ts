import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parse } from "../grammar/api.js";
import { CacheStore } from "../src/cache/store.js";
import { keyOfManifest, type StageRecord } from "../src/cache/record.js";
import { digestOf, type Digest } from "../src/core/digest.js";
import { check } from "../src/lang/check.js";
import { loadPipeline } from "../src/lang/load.js";
import { lockPathOf, updatedLock, writeLockfile } from "../src/plan/lockfile.js";
import { Planner } from "../src/plan/planner.js";
import { LocalExecutor } from "../src/run/executor.js";
import { Runner } from "../src/run/runner.js";

/**
 * One measurement of the scale suite in a fresh process of its own, so that its peak memory
 * (`process.resourceUsage().maxRSS`) is its own. Prints one line of JSON: phase times in ms and the
 * peak RSS in KiB.
 *
 *   plan <file>            parse, check and plan (the DAG, its order and closure), no cache
 *   cached <file> <cache>  a fully cached run, in-process, phase by phase as `rnnp run` does them
 *   stage <file> <cache> <name>  one stage executed (forced) with its inputs cached
 *   fill <cache> <n> <from> records n records (each with a 1 KiB blob of its own) through the store API
 */
const [mode, ...args] = process.argv.slice(2);

const wall: Record<string, number> = {};
/** Mode-specific facts (a stage's key, the memory before it ran). */
const extra: Record<string, unknown> = {};
/** CPU time (user + system) of each phase, in ms: what load on a shared machine changes least. */
const cpu: Record<string, number> = {};

function phase<T>(name: string, fn: () => T): T {
  const t = performance.now();
  const c = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(c);
  wall[name] = performance.now() - t;
  cpu[name] = (used.user + used.system) / 1000;
  return value;
}

async function asyncPhase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const c = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(c);
  wall[name] = performance.now() - t;
  cpu[name] = (used.user + used.system) / 1000;
  return value;
}

async function main(): Promise<number> {
  if (mode === "plan") {
    const [file] = args as [string];
    const parsed = phase("parse", () => parse(readFileSync(file, "utf8"), file));
    const ast = parsed.ast ?? fail(`${file} does not parse`);
    const checked = phase("check", () => check(ast, file, []));
    const ir = checked.ir ?? fail(`${file} does not check: ${checked.diagnostics[0]?.message}`);
    phase("plan", () => {
      const planner = new Planner(ir, {} as CacheStore);
      planner.closure(planner.order.map((s) => s.name));
    });
    return ir.stages.length;
  }
  if (mode === "cached") {
    const [file, cache] = args as [string, string];
    const loaded = phase("parse + check", () => loadPipeline(file));
    const ir = loaded.ir ?? fail(`${file} does not check`);
    const store = phase("open cache", () => CacheStore.open(cache));
    const planner = phase("keys + cache reads", () => {
      const p = new Planner(ir, store);
      for (const s of p.order) p.resolve(s.name);
      return p;
    });
    const results = await asyncPhase("runner", () =>
      new Runner(planner, new LocalExecutor()).run({}),
    );
    const stale = results.filter((r) => r.status !== "cached");
    if (stale.length) fail(`${stale.length} stages were not cached (${stale[0]!.name})`);
    phase("lockfile", () => {
      const outcome = new Map(results.map((r) => [r.name, "cached" as const]));
      writeLockfile(`${lockPathOf(file)}.bench`, updatedLock(planner, outcome));
    });
    await store.close();
    return results.length;
  }
  if (mode === "stage") {
    // One stage executed (forced), its inputs cached: its CPU time, and its peak memory above the
    // process's resident memory just before it.
    const [file, cache, name] = args as [string, string, string];
    const ir = loadPipeline(file).ir ?? fail(`${file} does not check`);
    const store = CacheStore.open(cache);
    const planner = new Planner(ir, store);
    global.gc?.();
    extra.rssBeforeKiB = process.memoryUsage().rss / 1024;
    const [result] = (
      await asyncPhase("stage", () =>
        new Runner(planner, new LocalExecutor()).run({ targets: [name], force: new Set([name]) }),
      )
    ).filter((r) => r.name === name);
    if (result?.status !== "ran")
      fail(`${name}: ${result?.status} ${result?.diagnostics?.[0]?.message}`);
    extra.key = result.key;
    await store.close();
    return 1;
  }
  if (mode === "fill") {
    const [cache, n, from] = args.map((a, i) => (i ? Number(a) : a)) as [string, number, number];
    const store = CacheStore.open(cache);
    phase("fill", () => fill(store, from, n));
    await store.close();
    return n;
  }
  return fail(`unknown mode ${mode}`);
}

/** `n` records numbered from `from`, each naming a 1 KiB blob of its own, in batches of 5,000. */
function fill(store: CacheStore, from: number, n: number): void {
  const createdAt = new Date().toISOString();
  for (let start = from; start < from + n; start += 5000) {
    const records: StageRecord<unknown>[] = [];
    const blobs = new Map<Digest, Buffer>();
    for (let i = start; i < Math.min(from + n, start + 5000); i++) {
      const bytes = Buffer.alloc(1024, `blob ${i} `);
      const digest = digestOf(bytes);
      blobs.set(digest, bytes);
      const manifest = { format: 1, kind: "head", version: 1, params: { n: i }, inputs: {} };
      records.push({
        key: keyOfManifest(manifest),
        kind: "head",
        outputs: { out: { digest, size: bytes.length, type: "table", summary: `record ${i}` } },
        manifest,
        inputsFrom: {},
        provenance: {
          pipeline: "scale",
          file: "scale.rnnp",
          stage: `s${i}`,
          createdAt,
          durationMs: 1,
          rnnpVersion: "0.1.0",
        },
      });
    }
    store.importAll(records, blobs.keys(), (d) => blobs.get(d)!);
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const count = await main();
process.stdout.write(
  `${JSON.stringify({ count, wall, cpu, ...extra, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
);
