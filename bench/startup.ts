import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fiftyStages } from "./engine.js";
import type { Row } from "./measure.js";

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "rnnp.js");
const TURBO = join(ROOT, "node_modules", ".bin", "turbo");

/**
 * Every contender's environment: the caller's, less what makes Node itself start slower on one
 * machine than on another. NODE_EXTRA_CA_CERTS (set where a proxy's certificate must be trusted)
 * has every Node process parse a certificate bundle before running anything: 40-50 ms with the
 * system's bundle, which would hide the differences measured here under one constant.
 */
const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== "NODE_EXTRA_CA_CERTS" && k !== "NODE_OPTIONS"),
);

/** Turborepo, quiet and offline: no telemetry, no update check. */
const TURBO_ENV = {
  ...BASE_ENV,
  TURBO_TELEMETRY_DISABLED: "1",
  DO_NOT_TRACK: "1",
  TURBO_NO_UPDATE_NOTIFIER: "1",
};

/**
 * A Turborepo workspace of 50 packages in a chain (each builds after the one before), each `build`
 * writing dist/: the counterpart of rnnp's 50-stage pipeline. dist and .turbo are ignored, as in
 * any real repository, or Turborepo would hash its own outputs and never hit its cache.
 */
export function turboChain(dir: string, n = 50): void {
  const json = (path: string, v: unknown) => writeFileSync(path, `${JSON.stringify(v, null, 2)}\n`);
  const workspaces = ["packages/*"];
  json(join(dir, "package.json"), {
    name: "chain",
    private: true,
    packageManager: "npm@10.8.2",
    workspaces,
  });
  json(join(dir, "turbo.json"), {
    tasks: { build: { dependsOn: ["^build"], outputs: ["dist/**"] } },
  });
  writeFileSync(join(dir, ".gitignore"), "node_modules\n.turbo\ndist\n");
  const lock: Record<string, unknown> = { "": { name: "chain", workspaces } };
  for (let i = 0; i < n; i++) {
    const pkg = join(dir, "packages", `p${i}`);
    mkdirSync(pkg, { recursive: true });
    const dependencies = i > 0 ? { [`p${i - 1}`]: "1.0.0" } : {};
    json(join(pkg, "package.json"), {
      name: `p${i}`,
      version: "1.0.0",
      private: true,
      scripts: { build: "node build.js" },
      dependencies,
    });
    writeFileSync(
      join(pkg, "build.js"),
      `const fs = require("node:fs");\nfs.mkdirSync("dist", { recursive: true });\nfs.writeFileSync("dist/out.txt", "p${i}\\n");\n`,
    );
    lock[`packages/p${i}`] = { name: `p${i}`, version: "1.0.0", dependencies };
    lock[`node_modules/p${i}`] = { resolved: `packages/p${i}`, link: true };
  }
  json(join(dir, "package-lock.json"), {
    name: "chain",
    lockfileVersion: 3,
    requires: true,
    packages: lock,
  });
}

interface Contender {
  name: string;
  argv: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Checked on the first run: the run was the fully cached one it is meant to be. */
  expect?: RegExp;
}

interface Times {
  all: number[];
  median: number;
  min: number;
  max: number;
}

function stats(all: number[]): Times {
  const s = [...all].sort((a, b) => a - b);
  return { all: s, median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
}

function once(c: Contender): { ms: number; stdout: string; stderr: string } {
  const t = performance.now();
  const r = spawnSync(c.argv[0]!, c.argv.slice(1), {
    cwd: c.cwd,
    env: c.env ?? BASE_ENV,
    encoding: "utf8",
  });
  const ms = performance.now() - t;
  if (r.status !== 0)
    throw new Error(`${c.argv.join(" ")} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Whole-process wall times of the contenders, alternating back to back (one run of each per
 * round, in turn), so that a busy moment of a shared machine falls on every side alike.
 */
function alternate(contenders: Contender[], rounds: number): Times[] {
  for (const c of contenders) {
    const first = once(c); // warm-up: file cache, and the check that the run is the cached one
    if (c.expect && !c.expect.test(first.stdout + first.stderr))
      throw new Error(`${c.name}: not fully cached: ${first.stdout}${first.stderr}`);
  }
  const times = contenders.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) contenders.forEach((c, i) => times[i]!.push(once(c).ms));
  return times.map(stats);
}

/** The phases of a cached `rnnp run`, from its RNNP_TIMING marks: medians over `runs` runs. */
function breakdown(c: Contender, runs: number): { phase: string; ms: number }[] {
  const phases: [string, (at: Map<string, number>) => number][] = [
    ["Node start (to bin/rnnp.js)", (at) => at.get("node started")!],
    [
      "module load (CLI, then the verb's modules)",
      (at) =>
        at.get("cli loaded")! -
        at.get("node started")! +
        (at.get("command loaded")! - at.get("main")!),
    ],
    [
      "parse and check (or the cached checked IR)",
      (at) => at.get("parsed")! - at.get("command loaded")!,
    ],
    ["plan (open the cache, build the DAG)", (at) => at.get("planned")! - at.get("parsed")!],
    ["cache reads (keys, records) and their lines", (at) => at.get("stages")! - at.get("planned")!],
    ["output, lockfile and exit", (at) => at.get("exit")! - at.get("stages")!],
  ];
  const samples = phases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    const r = once({ ...c, env: { ...(c.env ?? BASE_ENV), RNNP_TIMING: "1" } });
    const line = r.stderr.split("\n").find((l) => l.startsWith("rnnp-timing "));
    if (!line) throw new Error(`${c.name}: no timing line on stderr`);
    const at = new Map(
      (JSON.parse(line.slice("rnnp-timing ".length)) as { name: string; at: number }[]).map((m) => [
        m.name,
        m.at,
      ]),
    );
    phases.forEach(([, of], j) => samples[j]!.push(of(at)));
  }
  return phases.map(([phase], j) => ({ phase, ms: stats(samples[j]!).median }));
}

/**
 * Start-up against Turborepo (issue 17.1): a fully cached 50-stage `rnnp run` and `rnnp status`
 * against Turborepo's fully cached 50-task chain, `node -e ''` as the floor, alternating, and the
 * breakdown of the cached run.
 */
export function startupBench(rounds = 15, before?: string): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "rnnp-startup-"));
  try {
    const pipeline = join(dir, "fifty.rnnp");
    writeFileSync(pipeline, fiftyStages());
    const cache = ["--cache", join(dir, "cache")];
    const chain = join(dir, "chain");
    mkdirSync(chain);
    turboChain(chain);
    once({ name: "fill", argv: [BIN, "run", pipeline, ...cache], cwd: dir });
    once({ name: "fill", argv: [TURBO, "run", "build"], cwd: chain, env: TURBO_ENV });
    const contenders: Contender[] = [
      // The `node` on the PATH, as the installed command starts it.
      { name: "node", argv: ["node", "-e", ""], cwd: dir },
      {
        name: "run",
        argv: [BIN, "run", pipeline, ...cache],
        cwd: dir,
        expect: /50 stages: 50 cached/,
      },
      {
        name: "status",
        argv: [BIN, "status", pipeline, ...cache],
        cwd: dir,
        expect: /all 50 stages fresh/,
      },
      {
        name: "turbo",
        argv: [TURBO, "run", "build"],
        cwd: chain,
        env: TURBO_ENV,
        expect: /50 cached, 50 total/,
      },
    ];
    // Another build of rnnp (its checkout's bin/rnnp.js), alternated with the others, on a copy
    // of its own: sharing the pipeline's folder, the two builds rewrote each other's lock stamp
    // and kept checked IR, and each run paid for the other's (60 ms more per run, measured).
    if (before) {
      const own = join(dir, "before");
      mkdirSync(own);
      const copy = join(own, "fifty.rnnp");
      writeFileSync(copy, fiftyStages());
      const ownCache = ["--cache", join(own, "cache")];
      const bin = join(resolve(before), "bin", "rnnp.js");
      once({ name: "fill", argv: [bin, "run", copy, ...ownCache], cwd: own });
      contenders.push({
        name: "before",
        argv: [bin, "run", copy, ...ownCache],
        cwd: own,
        expect: /50 stages: 50 cached/,
      });
    }
    const load = loadavg()[0]!;
    const [bare, run, status, turbo, earlier] = alternate(contenders, rounds) as [
      Times,
      Times,
      Times,
      Times,
      Times | undefined,
    ];
    const ms = (t: Times) =>
      `${t.median.toFixed(0)} ms (best ${t.min.toFixed(0)}, ${t.min.toFixed(0)}-${t.max.toFixed(0)})`;
    const vs = `turbo run build: ${ms(turbo)}`;
    const ratio = (t: Times) =>
      `${(t.median / turbo.median).toFixed(2)}x (best ${(t.min / turbo.min).toFixed(2)}x)`;
    const rows: Row[] = [
      {
        suite: "startup",
        measure: `\`rnnp run\`, 50 stages all cached (whole process, ${rounds} alternating runs)`,
        value: ms(run),
        baseline: vs,
        ratio: ratio(run),
      },
      {
        suite: "startup",
        measure: "`rnnp status`, 50 stages (whole process)",
        value: ms(status),
        baseline: vs,
        ratio: ratio(status),
      },
      {
        suite: "startup",
        measure: "Turborepo, 50-task chain all cached (`turbo run build`, whole process)",
        value: ms(turbo),
        baseline: `node -e '': ${ms(bare)}`,
        ratio: `${(turbo.median / bare.median).toFixed(2)}x`,
      },
      {
        suite: "startup",
        measure: "`rnnp run` above starting Node (difference of medians)",
        value: `${(run.median - bare.median).toFixed(0)} ms`,
        baseline: `turbo above Node: ${(turbo.median - bare.median).toFixed(0)} ms`,
        ratio: `${((run.median - bare.median) / (turbo.median - bare.median)).toFixed(2)}x`,
      },
    ];
    if (earlier)
      rows.push({
        suite: "startup",
        measure: `\`rnnp run\` of ${before} (the same cached run, alternated)`,
        value: ms(earlier),
        baseline: `this build: ${ms(run)}`,
        ratio: `${(run.median / earlier.median).toFixed(2)}x (best ${(run.min / earlier.min).toFixed(2)}x)`,
      });
    rows.push({
      suite: "startup",
      measure: "load average (1 min) before, after the alternation",
      value: `${load.toFixed(1)}, ${loadavg()[0]!.toFixed(1)}`,
      baseline: "",
      ratio: "",
    });
    for (const p of breakdown(contenders[1]!, rounds))
      rows.push({
        suite: "startup",
        measure: `  cached run: ${p.phase}`,
        value: `${p.ms.toFixed(1)} ms`,
        baseline: "",
        ratio: `${((p.ms / run.median) * 100).toFixed(0)}%`,
      });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
