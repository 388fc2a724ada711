import type { RemoteCache } from "../cache/remote.js";
import { LockfileError, lockPathOf, readLockfile, type Lockfile } from "../plan/lockfile.js";
import { digestsOf, type Planner } from "../plan/planner.js";
import { explain, summarize } from "../plan/why.js";
import { describeDrift, workspaceDrift, type WorkspaceDrift } from "../run/workspace.js";
import { fromCwd, stderr } from "./io.js";

/**
 * Each stage's state (fresh here, fresh on the remote, stale and why) and the lockfile it is compared
 * with: what `status`, `why`, `dag` and `report` read.
 */

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
