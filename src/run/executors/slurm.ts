import { sinceStart } from "../../core/clock.js";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../core/diagnostic.js";
import { ownPackageRoot } from "../../core/find-up.js";
import { NODE_FLAGS } from "../../core/node-flags.js";
import type { Job, JobContext, JobExecutor } from "../jobs.js";
import type { StageResult } from "../runner.js";
import { jobArgs, resultOfChild } from "./processes.js";

/** sbatch resources for a stage kind (or "*", every kind). */
export interface SlurmResources {
  cpus?: number;
  /** Memory per node, as sbatch takes it: "2G", "500M". */
  mem?: string;
  /** Time limit, as sbatch takes it: "30:00", "2-00:00:00". */
  time?: string;
}

export interface SlurmOptions {
  /** The pipeline file, on a file system the compute nodes share. */
  file: string;
  /** The cache, shared too: jobs commit to it, as `--jobs` workers do. */
  cacheDir: string;
  partition?: string;
  resources: Record<string, SlurmResources>;
  /** The stage kind of a stage, for its resources. */
  kindOf(stage: string): string;
  /** Arguments every job's rnnp gets (--remote, --backend, -P ...). */
  extra: string[];
  env: Record<string, string>;
  cwd: string;
  pollMs?: number;
}

/** Slurm job states after which a job does not run again. */
const ENDED = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "OUT_OF_MEMORY",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
]);

/**
 * Each stage that must execute becomes one `sbatch` job running `rnnp run FILE --job ...` for that
 * stage, on a file system the nodes share (the pipeline, its data and the cache). Jobs are
 * submitted as their inputs complete rather than all at once with `--dependency=afterok` edges: a
 * stage's key is known only once its inputs' bytes are (content addressing), and a stage whose input
 * reran to the same bytes is found cached and never submitted, which a chain of afterok jobs cannot
 * express. States are polled with squeue, then scontrol (or sacct) for how a job ended; Ctrl-C (and
 * any exit) scancels what is still submitted; a failed job's log is shown with its stage's error.
 */
export class SlurmExecutor implements JobExecutor {
  readonly name = "slurm";
  /** The cluster, not this process, limits what runs at once. */
  readonly slots = 10_000;
  private readonly live = new Set<string>();
  private readonly dir: string;
  private readonly cancelAll = () => this.cancel();

  constructor(private readonly o: SlurmOptions) {
    this.dir = `${o.cacheDir}.slurm`;
    const probe = spawnSync("sbatch", ["--version"], { encoding: "utf8", env: o.env });
    if (probe.error)
      throw new UserError("--executor slurm needs Slurm's sbatch, which is not on PATH", {
        code: "slurm",
        hint: "run on a Slurm login node (or install slurm-client), or choose another --executor",
      });
    process.on("exit", this.cancelAll);
  }

  async run(job: Job, ctx: JobContext): Promise<StageResult> {
    const base = { name: job.stage, kind: this.o.kindOf(job.stage), key: job.key };
    mkdirSync(this.dir, { recursive: true });
    const stem = join(this.dir, `${job.key.slice(0, 16)}-${randomUUID().slice(0, 8)}`);
    writeFileSync(`${stem}.job.json`, JSON.stringify(job));
    const res = { ...(this.o.resources["*"] ?? {}), ...(this.o.resources[base.kind] ?? {}) };
    const root = ownPackageRoot(import.meta.url)!;
    const command = [
      process.execPath,
      ...NODE_FLAGS,
      join(root, "bin", "rnnp.js"),
      ...jobArgs(this.o.file, { ...job }, ["--cache", this.o.cacheDir, ...this.o.extra]),
    ].map(shellQuote);
    // The job reads itself from its file: no JSON in a shell command line.
    command[command.indexOf(shellQuote(JSON.stringify(job)))] = shellQuote(`@${stem}.job.json`);
    const sbatch = spawnSync(
      "sbatch",
      [
        "--parsable",
        `--job-name=rnnp:${job.stage}`,
        `--output=${stem}.out`,
        `--error=${stem}.log`,
        `--chdir=${this.o.cwd}`,
        ...(this.o.partition ? [`--partition=${this.o.partition}`] : []),
        ...(res.cpus ? [`--cpus-per-task=${res.cpus}`] : []),
        ...(res.mem ? [`--mem=${res.mem}`] : []),
        ...(res.time ? [`--time=${res.time}`] : []),
        `--export=ALL,RNNP_THREADS=${res.cpus ?? this.o.env.RNNP_THREADS ?? 1}`,
        `--wrap=${command.join(" ")}`,
      ],
      { encoding: "utf8", env: this.o.env, cwd: this.o.cwd },
    );
    if (sbatch.status !== 0) {
      return {
        ...base,
        status: "failed",
        durationMs: 0,
        diagnostics: [
          new UserError(
            `sbatch refused the job for \`${job.stage}\`: ${(sbatch.stderr || sbatch.error?.message || "").trim()}`,
            {
              code: "slurm",
              hint: 'check --partition and the resources for this kind ("slurm": { "resources" } in rnnp.config.json)',
            },
          ).toDiagnostic(),
        ],
      };
    }
    const id = sbatch.stdout.trim().split(";")[0]!;
    this.live.add(id);
    ctx.log(`submitted as Slurm job ${id}`);
    const started = sinceStart();
    try {
      const end = await this.until(id, ctx.signal);
      const child = {
        code: end.exit,
        stdout: read(`${stem}.out`),
        stderr: read(`${stem}.log`),
      };
      const r = resultOfChild(job, child);
      if (r.status === "failed")
        r.workerOutput = `Slurm job ${id} (${end.state}, exit ${end.exit ?? "?"}), log ${stem}.log:\n${tail(child.stderr, 40)}`;
      return { ...r, kind: base.kind, durationMs: r.durationMs || sinceStart() - started };
    } finally {
      this.live.delete(id);
      rmSync(`${stem}.job.json`, { force: true });
    }
  }

  /** Polls a job until it ends: its state and exit code. */
  private async until(
    id: string,
    signal: AbortSignal,
  ): Promise<{ state: string; exit: number | null }> {
    for (;;) {
      if (signal.aborted) {
        this.cancel();
        return { state: "CANCELLED", exit: null };
      }
      const q = spawnSync("squeue", ["-h", "-j", id, "-o", "%T"], {
        encoding: "utf8",
        env: this.o.env,
      });
      const state = q.status === 0 ? q.stdout.trim() : "";
      if (!state || ENDED.has(state)) {
        const ended = this.ended(id);
        if (ended) return ended;
      }
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 500));
    }
  }

  /** How a job ended, from scontrol (jobs it still remembers) or sacct; undefined while it has not. */
  private ended(id: string): { state: string; exit: number | null } | undefined {
    const s = spawnSync("scontrol", ["show", "job", "-o", id], {
      encoding: "utf8",
      env: this.o.env,
    });
    if (s.status === 0) {
      const state = /JobState=(\S+)/.exec(s.stdout)?.[1];
      const exit = /ExitCode=(\d+):/.exec(s.stdout)?.[1];
      if (state && ENDED.has(state))
        return { state, exit: exit !== undefined ? Number(exit) : null };
      return undefined;
    }
    const a = spawnSync("sacct", ["-n", "-X", "-P", "-j", id, "-o", "State,ExitCode"], {
      encoding: "utf8",
      env: this.o.env,
    });
    const [state, exit] = a.stdout.trim().split("\n")[0]?.split("|") ?? [];
    const word = state?.split(" ")[0];
    if (a.status === 0 && word && ENDED.has(word))
      return { state: word, exit: exit ? Number(exit.split(":")[0]) : null };
    if (a.status === 0 && word) return undefined;
    // Forgotten by both (no accounting, MinJobAge passed): its output says how it went.
    return { state: "UNKNOWN", exit: null };
  }

  /** scancel every job still submitted (synchronous: it runs on process exit, after Ctrl-C). */
  private cancel(): void {
    if (!this.live.size) return;
    spawnSync("scancel", [...this.live], { env: this.o.env, stdio: "ignore" });
    this.live.clear();
  }

  async close(): Promise<void> {
    this.cancel();
    process.off("exit", this.cancelAll);
  }
}

function read(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split("\n");
  return `${all.slice(-lines).join("\n")}\n`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
