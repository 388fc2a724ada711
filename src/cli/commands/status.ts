import { fromCwd, stdout, stderr } from "../io.js";
import { LockfileError, lockPathOf, readLockfile, type Lockfile } from "../../plan/lockfile.js";
import { short } from "../../core/digest.js";
import { digestsOf, type Planner } from "../../plan/planner.js";
import { explain, summarize, type Reason } from "../../plan/why.js";
import type { RemoteCache } from "../../cache/remote.js";
import { remoteFor, type RemoteFlags } from "../config.js";
import { oneStage } from "../stages.js";
import { describeDrift, workspaceDrift, type WorkspaceDrift } from "../../run/workspace.js";
import {
  EXIT,
  formatDuration,
  openPlan,
  printJson,
  table,
  type CommonOptions,
} from "../context.js";
import { mark } from "../../core/timing.js";

export interface StageStatusRow {
  name: string;
  kind: string;
  key: string | null;
  status: "fresh" | "stale";
  /** For fresh stages: in this machine's cache, or only in the remote one (a run would download it). */
  where?: "local" | "remote";
  durationMs: number | null;
  reason?: string;
  /** Files it writes into the working tree that differ from what it made (`run` restores them). */
  workspace?: WorkspaceDrift;
}

/**
 * Fresh/stale for every stage, with the reason for stale ones; nothing is executed. With a remote
 * cache, a local miss that the remote holds is fresh there (only its record is fetched, to key the
 * stages after it).
 */
export async function stageStatuses(
  planner: Planner,
  remote?: RemoteCache,
  lock: Lockfile | undefined = lockOf(planner),
): Promise<StageStatusRow[]> {
  const rows: StageStatusRow[] = [];
  for (const s of planner.order) {
    const res = planner.resolve(s.name);
    const key = res.state === "keyed" ? res.key : null;
    const base = { name: s.name, kind: s.kind.name, key };
    const drift = res.state === "keyed" && res.record ? workspaceDrift(planner, s) : undefined;
    if (drift) {
      rows.push({
        ...base,
        status: "stale",
        durationMs: null,
        reason: `${describeDrift(drift)} (run restores them from the cache)`,
        workspace: drift,
      });
      continue;
    }
    if (res.state === "keyed" && res.record) {
      rows.push({
        ...base,
        status: "fresh",
        where: "local",
        durationMs: res.record.provenance.durationMs,
      });
      continue;
    }
    const remoteRecord =
      res.state === "keyed" && remote ? await remote.getRecord(res.key) : undefined;
    if (remoteRecord) {
      planner.produced(s.name, digestsOf(remoteRecord));
      rows.push({
        ...base,
        status: "fresh",
        where: "remote",
        durationMs: remoteRecord.provenance.durationMs,
      });
    } else
      rows.push({
        ...base,
        status: "stale",
        durationMs: null,
        reason: summarize(explain(planner, s.name, 0, lock ? { lock } : {})),
      });
  }
  return rows;
}

/** The pipeline's lockfile, if it has a readable one: what `why` and `status` compare against. */
export function lockOf(planner: Planner): Lockfile | undefined {
  try {
    return readLockfile(fromCwd(lockPathOf(planner.ir.file)));
  } catch (e) {
    if (e instanceof LockfileError) {
      stderr().write(stderr().c.yellow(`warning: ${e.message}; comparing with the cache only\n`));
      return undefined;
    }
    throw e;
  }
}

export async function statusCommand(
  file: string | undefined,
  opts: CommonOptions & RemoteFlags & { json?: boolean; exitCode?: boolean; quiet?: boolean },
): Promise<number> {
  const planner = await openPlan(file, opts);
  const rows = await stageStatuses(
    planner,
    remoteFor(opts, (m) => stderr().write(stderr().c.yellow(`warning: ${m}\n`)), planner.ir.dir),
  );
  mark("stages");
  const stale = rows.filter((r) => r.status === "stale").length;
  const code = (opts.exitCode || opts.quiet) && stale ? EXIT.failed : EXIT.ok;
  if (opts.quiet) return code;
  if (opts.json) {
    printJson({ pipeline: planner.ir.name, file: planner.ir.file, stages: rows });
    return code;
  }
  stdout().write(
    table(
      rows.map((r) => [
        r.status === "fresh"
          ? stdout().c.green(r.where === "remote" ? "fresh (remote)" : "fresh")
          : stdout().c.yellow("stale"),
        r.name,
        stdout().c.dim(r.kind),
        r.status === "fresh"
          ? stdout().c.dim(`${short(r.key as never)}  ${formatDuration(r.durationMs ?? 0)}`)
          : (r.reason ?? ""),
      ]),
    ) + "\n",
  );
  const stages = (n: number) => `${n} stage${n === 1 ? "" : "s"}`;
  stdout().write(
    stdout().c.dim(
      stale
        ? `${stale} of ${stages(rows.length)} stale\n`
        : rows.length === 1
          ? "the stage is fresh\n"
          : `all ${rows.length} stages fresh\n`,
    ),
  );
  return code;
}

export async function whyCommand(
  stage: string,
  file: string | undefined,
  opts: CommonOptions & { json?: boolean },
): Promise<number> {
  const planner = await openPlan(file, opts);
  // Every upstream stage is keyed first, so explanations can compare inputs.
  stage = oneStage(planner, stage, "why");
  const lock = lockOf(planner);
  const e = explain(planner, stage, 0, lock ? { lock } : {});
  if (opts.json) {
    printJson({ stage, ...e });
    return EXIT.ok;
  }
  const headline: Record<typeof e.state, string> = {
    "up-to-date": stdout().c.green("up to date"),
    changed: stdout().c.yellow("stale"),
    new: stdout().c.yellow("never run"),
    waiting: stdout().c.yellow("stale (waits on upstream)"),
    invalid: stdout().c.red("cannot be planned"),
  };
  stdout().write(`${stage}: ${headline[e.state]}\n`);
  const print = (rs: Reason[], depth: number) => {
    for (const r of rs) {
      stdout().write(`${"  ".repeat(depth)}- ${r.text}\n`);
      if (r.because) print(r.because, depth + 1);
    }
  };
  if (e.state !== "new") print(e.reasons, 1);
  if (e.resume) stdout().write(`  ${e.resume}\n`);
  return EXIT.ok;
}
