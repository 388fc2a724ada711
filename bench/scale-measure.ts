import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { nodeArgsFor } from "../test/fixtures/node-args.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

/** How the scale suite measures: whole processes under /usr/bin/time, and its own worker. */
export const ROOT = resolve(import.meta.dirname, "..");
export const BIN = join(ROOT, "bin", "rnnp.js");
const WORKER = join(ROOT, "bench", "scale-worker.ts");
const TIME = "/usr/bin/time";

/** One process: wall time, CPU time (user + system) and peak resident memory. */
export interface ProcessCost {
  wallMs: number;
  cpuMs: number;
  maxRssKiB: number;
  stdout: string;
}

/** The environment of every child: the caller's RNNP_* settings and CI must not change a figure. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("RNNP_") && k !== "CI") env[k] = v;
  return env;
}

/**
 * Runs `argv` to completion and measures it. With GNU time (Debian's `time` package) CPU time and
 * peak RSS come from the kernel's rusage of the child; without it, only the wall time is known.
 */
export function measureProcess(argv: string[], cwd: string, tmp: string): ProcessCost {
  const report = join(tmp, `time-${process.pid}.txt`);
  const timed = existsSync(TIME);
  const full = timed ? [TIME, "-o", report, "-f", "%U %S %M", ...argv] : argv;
  const t = performance.now();
  const r = spawnSync(full[0]!, full.slice(1), {
    cwd,
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 1024 ** 3,
  });
  const wallMs = performance.now() - t;
  if (r.status !== 0)
    throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr.toString().slice(-2000)}`);
  let cpuMs = Number.NaN;
  let maxRssKiB = Number.NaN;
  if (timed) {
    const [user, sys, rss] = readFileSync(report, "utf8").trim().split(/\s+/).slice(-3).map(Number);
    cpuMs = (user! + sys!) * 1000;
    maxRssKiB = rss!;
    rmSync(report, { force: true });
  }
  return { wallMs, cpuMs, maxRssKiB, stdout: r.stdout.toString() };
}

/** What the worker (bench/scale-worker.ts) prints: phase times and its own peak memory. */
export interface WorkerResult {
  count: number;
  wall: Record<string, number>;
  cpu: Record<string, number>;
  maxRssKiB: number;
  /** Mode "stage": resident memory just before the stage ran, and its key. */
  rssBeforeKiB?: number;
  key?: string;
}

export function runWorker(args: string[]): WorkerResult {
  const r = spawnSync(
    process.execPath,
    [...NODE_FLAGS, "--expose-gc", ...nodeArgsFor(WORKER), ...args],
    {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  if (r.status !== 0)
    throw new Error(`scale worker ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString().trim().split("\n").pop()!) as WorkerResult;
}

/** The rnnp CLI as a measured process. */
export function rnnp(args: string[], cwd: string, tmp: string): ProcessCost {
  return measureProcess([process.execPath, ...NODE_FLAGS, BIN, ...args], cwd, tmp);
}

/** The smallest of each field over several measurements of one thing (best of n). */
export function bestOf<T extends Record<string, number>>(xs: readonly T[]): T {
  const out = {} as Record<string, number>;
  for (const k of Object.keys(xs[0]!)) out[k] = Math.min(...xs.map((x) => x[k]!));
  return out as T;
}

/** Spread of a sample: (max - min) / min, as a share. */
export function spread(xs: readonly number[]): number {
  const lo = Math.min(...xs);
  return lo > 0 ? (Math.max(...xs) - lo) / lo : 0;
}

/**
 * The least-squares slope of log(y) on log(x): 1 is linear, 2 quadratic, 0 constant. Undefined with
 * fewer than two distinct sizes.
 */
export function logLogSlope(points: readonly { x: number; y: number }[]): number | undefined {
  const ps = points.filter((p) => p.x > 0 && p.y > 0);
  if (new Set(ps.map((p) => p.x)).size < 2) return undefined;
  const lx = ps.map((p) => Math.log(p.x));
  const ly = ps.map((p) => Math.log(p.y));
  const mx = lx.reduce((a, b) => a + b, 0) / ps.length;
  const my = ly.reduce((a, b) => a + b, 0) / ps.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < ps.length; i++) {
    num += (lx[i]! - mx) * (ly[i]! - my);
    den += (lx[i]! - mx) ** 2;
  }
  return num / den;
}
