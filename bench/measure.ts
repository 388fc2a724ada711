import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";

/**
 * Wall time of a whole process, in ms: median and minimum over `runs` runs after one warm-up. `argv`
 * may depend on the run's number (e.g. a fresh cache directory each time).
 */
export function timeProcess(
  argv: string[] | ((run: number) => string[]),
  cwd: string,
  runs = 15,
): { median: number; min: number } {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const a = typeof argv === "function" ? argv(i) : argv;
    const t = performance.now();
    const r = spawnSync(a[0]!, a.slice(1), { cwd, stdio: ["ignore", "ignore", "pipe"] });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`${a.join(" ")} exited ${r.status}: ${r.stderr}`);
    if (i > 0) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]! };
}

/** Best throughput of `fn` over a few repetitions, as units per second. */
export function rate(units: number, fn: () => void, reps = 5): number {
  return units / (bestMs(fn, reps) / 1000);
}

/** The shortest time of `fn` over a few repetitions, in ms. */
export function bestMs(fn: () => void, reps = 5): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

export interface Row {
  suite: string;
  measure: string;
  value: string;
  baseline: string;
  ratio: string;
}

export function printTable(rows: Row[]): void {
  const head: Row = {
    suite: "suite",
    measure: "measure",
    value: "value",
    baseline: "baseline (same run)",
    ratio: "ratio",
  };
  const all = [head, ...rows];
  const keys = Object.keys(head) as (keyof Row)[];
  const w = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  for (const [i, r] of all.entries()) {
    process.stdout.write(
      keys
        .map((k, j) => r[k].padEnd(w[j]!))
        .join("  ")
        .trimEnd() + "\n",
    );
    if (i === 0) process.stdout.write(w.map((n) => "-".repeat(n)).join("  ") + "\n");
  }
}
