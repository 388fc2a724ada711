import { sinceStart } from "../../core/clock.js";
import { mark } from "../../core/timing.js";
import { fromCwd, io, stderr, stdout } from "../io.js";
import { availableParallelism } from "node:os";
import { short } from "../../core/digest.js";
import type { Planner } from "../../plan/planner.js";
import { knownLock, rememberLock } from "../../plan/lock-memo.js";
import {
  lockIdentity,
  lockPathOf,
  LockfileError,
  readLockfile,
  updatedLock,
  writeLockfile,
  type Lockfile,
} from "../../plan/lockfile.js";
import { explain, summarize } from "../../plan/why.js";
import { verdictLine, type Report } from "../../artifacts/report.js";
import { readArtifact } from "../../run/artifacts.js";
import { LocalExecutor } from "../../run/executor.js";
import { Runner, type StageResult } from "../../run/runner.js";
import { parseRetention, type Retention } from "../../plan/checkpoints.js";
import { originOf, refusal, type Job } from "../../run/jobs.js";
import { readFileSync } from "node:fs";
import { executorFor } from "../executors.js";
import { EXIT, Exit, openPlan, printJson, type CommonOptions } from "../context.js";
import { remoteFor, type RemoteFlags } from "../config.js";
import { flatten, RunView, statusCounts } from "../run-view.js";
import { checkNames, splitList } from "../stages.js";
import type { RunOutcome } from "../../report/collect.js";

export interface RunCommandOptions extends CommonOptions, RemoteFlags {
  stage?: string[];
  force?: boolean;
  forceStage?: string[];
  dryRun?: boolean;
  json?: boolean;
  frozen?: boolean;
  lock?: boolean;
  jobs?: number;
  checkpoints?: string;
  executor?: string;
  queue?: string;
  queueName?: string;
  partition?: string;
  /** Hidden: run one job (JSON, or @file) made by a coordinator; see src/run/jobs.ts. */
  job?: string;
  /** Write the HTML report of the run to this file (`rnnp report`, with the run's outcomes). */
  report?: string;
}

/** How a stage ended, for the report. */
function outcomeOf(r: StageResult): RunOutcome {
  const because =
    r.status === "failed"
      ? r.diagnostics
          ?.map((d) => {
            const at =
              d.file && d.span ? ` (${d.file}:${d.span.start.line})` : d.file ? ` (${d.file})` : "";
            return `${d.message}${at}${d.hint ? `; hint: ${d.hint}` : ""}`;
          })
          .join("; ")
      : r.skippedBecause?.join(", ");
  return {
    status: r.status,
    ...(r.source === "remote" ? { remote: true } : {}),
    ...(because ? { because } : {}),
  };
}

export async function runCommand(
  file: string | undefined,
  opts: RunCommandOptions,
): Promise<number> {
  const planner = await openPlan(file, opts, { create: !opts.dryRun });
  const job = opts.job !== undefined ? readJob(opts.job) : undefined;
  if (job) {
    const refused = refusal(job.origin, originOf(planner.runtime));
    if (refused) throw refused;
    checkNames(planner, [job.stage], "--job");
  }
  const targets = job
    ? [job.stage]
    : opts.stage?.length
      ? checkNames(planner, opts.stage.flatMap(splitList), "--stage")
      : undefined;
  const force = job
    ? job.forced
      ? new Set([job.stage])
      : undefined
    : opts.force
      ? true
      : opts.forceStage?.length
        ? new Set(checkNames(planner, opts.forceStage.flatMap(splitList), "--force-stage"))
        : undefined;
  if (opts.dryRun) return dryRun(planner, targets, force, opts.json === true);
  const lockPath = lockPathOf(planner.ir.file);
  const lockAbs = fromCwd(lockPath);
  // A lock as this rnnp wrote it is not parsed unless needed (src/plan/lock-memo.ts).
  const known = opts.frozen ? undefined : knownLock(planner.store.dir, lockAbs);
  const previousLock = known ? undefined : readLock(lockAbs);
  if (opts.frozen && !previousLock)
    throw new Exit(
      EXIT.invalid,
      `--frozen needs ${lockPath}: run once without --frozen and commit the lockfile`,
    );

  const retention = retentionOf(opts.checkpoints);
  let view: RunView | undefined;
  const remote = remoteFor(
    opts,
    (m) => {
      view?.flush();
      view?.live.clear();
      stderr().write(stderr().c.yellow(`warning: ${m}\n`));
    },
    planner.ir.dir,
  );
  // A variant run (-P, --backend, --kernels) leaves the lock and the workspace as the pipeline writes them.
  const variantRun = !!(opts.param?.length || opts.backend || opts.kernels);
  const started = sinceStart();
  // A job runs here, in this process, whatever executor the project's config names: a worker
  // never hands its job on (it would queue it again).
  const executor = job ? undefined : await executorFor(planner, opts, remote);
  view = new RunView(planner, {
    json: opts.json === true,
    concurrent: (executor?.slots ?? 1) > 1,
    job: job !== undefined,
    forced: (s) => force === true || (force instanceof Set && force.has(s)),
    after: (r) => {
      if (!opts.json) printVerdict(planner, r, () => view?.flush());
    },
  });
  const results = await new Runner(planner, new LocalExecutor())
    .run({
      ...(targets ? { targets } : {}),
      ...(force ? { force } : {}),
      ...(opts.frozen ? { frozen: previousLock! } : {}),
      ...(remote ? { remote } : {}),
      ...(retention ? { retention } : {}),
      ...(executor ? { executor } : {}),
      ...(job ? { job } : {}),
      ...(variantRun ? { workspace: false } : {}),
      onEvent: (e) => view.event(e),
    })
    .finally(() => {
      view.flush();
      view.live.stop();
    });
  mark("stages");
  const counts = statusCounts(results);
  const elapsed = sinceStart() - started;
  // The lock records the pipeline as written: not variants (-P, --backend, --kernels), not a frozen
  // run, not one job of a coordinator's.
  const lockWritten = !opts.frozen && opts.lock !== false && !variantRun && !job;
  if (lockWritten) {
    const outcome = new Map(
      results.map((r) => [
        r.name,
        r.status === "ran" || r.status === "cached" ? r.status : ("failed" as const),
      ]),
    );
    const identity = lockIdentity(planner, outcome);
    // Unless the lock is already what this run would write: its bytes as remembered (read again:
    // another run may have written it meanwhile), same identity.
    const kept =
      identity !== undefined &&
      known?.identity === identity &&
      knownLock(planner.store.dir, lockAbs)?.identity === identity;
    if (!kept) {
      const previous = known ? readLock(lockAbs) : previousLock;
      const text = writeLockfile(lockAbs, updatedLock(planner, outcome, previous));
      if (identity !== undefined) rememberLock(planner.store.dir, lockAbs, identity, text);
      mark("lock written");
    } else mark("lock kept");
  }
  if (opts.json) {
    printJson({
      pipeline: planner.ir.name,
      file: planner.ir.file,
      stages: results.map((r) => ({
        name: r.name,
        kind: r.kind,
        key: r.key ?? null,
        status: r.status,
        durationMs: Math.round(r.durationMs),
        ...(r.source === "remote" ? { source: "remote" } : {}),
        ...(r.resumedFrom !== undefined ? { resumedFrom: r.resumedFrom } : {}),
        ...(r.diagnostics ? { error: r.diagnostics.map((d) => d.message).join("; ") } : {}),
        ...(r.frozen ? { error: flatten(r.frozen).join("; "), frozen: true } : {}),
      })),
      durationMs: Math.round(elapsed),
      ...(remote ? { remote: { url: remote.url, ...remote.stats } } : {}),
    });
  } else view.summary(results, elapsed);
  if (opts.report !== undefined) {
    const { writeReport } = await import("./report.js");
    await writeReport(
      await openPlan(file, opts),
      { ...opts, output: opts.report },
      {
        outcomes: new Map(results.map((r) => [r.name, outcomeOf(r)])),
      },
    );
  }
  if (results.some((r) => r.frozen)) return EXIT.frozen;
  return counts.failed + counts.skipped > 0 ? EXIT.failed : EXIT.ok;
}

/** --checkpoints: the retention policy of training's checkpoints. */
function retentionOf(text: string | undefined): Retention | undefined {
  if (text === undefined) return undefined;
  const r = parseRetention(text);
  if (!r)
    throw new Exit(
      EXIT.invalid,
      `--checkpoints ${text}: expected N (every Nth epoch and the last completed), N,nolast, or off`,
    );
  return r;
}

/** The job a coordinator sent: JSON on the command line, or `@file` (Slurm writes one per job). */
function readJob(spec: string): Job {
  try {
    const text = spec.startsWith("@") ? readFileSync(fromCwd(spec.slice(1)), "utf8") : spec;
    const job = JSON.parse(text) as Job;
    if (typeof job.stage !== "string" || typeof job.key !== "string" || !job.origin)
      throw new Error("it is not a job");
    return job;
  } catch (e) {
    throw new Exit(EXIT.invalid, `--job: ${(e as Error).message}`);
  }
}

/** Under an evaluate stage: whether the model beats its strongest baseline, in one line. */
function printVerdict(planner: Planner, r: StageResult, flush: () => void): void {
  if ((r.status !== "ran" && r.status !== "cached") || !r.key) return;
  // Only a kind that makes reports has a verdict: no record is read for the others.
  if (planner.stage(r.name).kind.outputType !== "report") return;
  const record = planner.store.getRecord(r.key);
  const out = record?.outputs.out;
  if (out?.type !== "report") return;
  const report = readArtifact(planner.store, out.digest) as Report;
  // Several sets: a line for each (the reference set first).
  const lines = report.sets
    ? report.sets.map((s) => ({ who: `${r.name} (${s.name})`, verdict: s.report.verdict }))
    : [{ who: r.name, verdict: report.verdict }];
  flush(); // the stage lines before it
  const c = stdout().c;
  for (const { who, verdict } of lines)
    if (verdict)
      stdout().write(
        `  ${(verdict.beats ? c.green : c.yellow)(`${who}: ${verdictLine(verdict)}`)}\n`,
      );
}

function readLock(path: string): Lockfile | undefined {
  try {
    return readLockfile(path);
  } catch (e) {
    if (e instanceof LockfileError) throw new Exit(EXIT.invalid, e.message);
    throw e;
  }
}

function dryRun(
  planner: Planner,
  targets: string[] | undefined,
  force: true | Set<string> | undefined,
  json: boolean,
): number {
  const stages = targets ? planner.closure(targets) : planner.order;
  const rows = stages.map((s) => {
    const res = planner.resolve(s.name);
    const forced = force === true || (force instanceof Set && force.has(s.name));
    const fresh = res.state === "keyed" && !!res.record && !forced;
    const reason = fresh
      ? undefined
      : forced && res.state === "keyed" && res.record
        ? "forced"
        : summarize(explain(planner, s.name));
    return {
      name: s.name,
      kind: s.kind.name,
      key: res.state === "keyed" ? res.key : null,
      status: fresh ? "fresh" : "stale",
      reason,
    };
  });
  if (json)
    printJson({
      pipeline: planner.ir.name,
      file: planner.ir.file,
      dryRun: true,
      stages: rows.map((r) => ({ ...r, durationMs: 0 })),
    });
  else
    for (const r of rows)
      stdout().write(
        `${r.status === "fresh" ? stdout().c.green("✔") : stdout().c.yellow("→")} ${r.name}  ${stdout().c.dim(r.kind)}  ${r.status === "fresh" ? `cached ${short(r.key!)}` : `would run: ${r.reason}`}\n`,
      );
  return EXIT.ok;
}

/**
 * Threads of the fused kernels in each of `jobs` workers: the cores shared out (at least one), unless
 * RNNP_THREADS says otherwise. The bytes do not depend on it; oversubscribed cores only cost time.
 */
export function workerThreads(
  jobs: number,
  cores = availableParallelism(),
  asked = io().env.RNNP_THREADS,
): string {
  return asked ?? String(Math.max(1, Math.floor(cores / jobs)));
}
