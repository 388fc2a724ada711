import { resolve } from "node:path";
import { UserError } from "../core/diagnostic.js";
import type { RemoteCache } from "../cache/remote.js";
import type { Planner } from "../plan/planner.js";
import type { JobExecutor } from "../run/jobs.js";
import { ProcessExecutor } from "../run/executors/processes.js";
import { rnnpChild } from "./child.js";
import { cacheDir, computeArgs, type CommonOptions } from "./context.js";
import { configFile, type RemoteFlags } from "./config.js";
import { io, stderr } from "./io.js";
import { workerThreads } from "./commands/run.js";

export const EXECUTORS = ["local"] as const;

export interface ExecutorFlags extends CommonOptions, RemoteFlags {
  executor?: string;
  jobs?: number;
  queue?: string;
  queueName?: string;
  partition?: string;
  frozen?: boolean;
}

/**
 * The executor a run asked for (--executor, else rnnp.config.json's "executor", else local), or
 * undefined for the local executor with one slot (every stage in this process). Queues and batch
 * systems are loaded only when asked for.
 */
export async function executorFor(
  planner: Planner,
  flags: ExecutorFlags,
  _remote: RemoteCache | undefined,
): Promise<JobExecutor | undefined> {
  const config = configFile()?.config;
  const name = flags.executor ?? io().env.RNNP_EXECUTOR ?? config?.executor ?? "local";
  const file = resolve(io().cwd, planner.ir.file);
  switch (name) {
    case "local": {
      const jobs = flags.jobs ?? 1;
      if (jobs <= 1) return undefined;
      const extra = [
        ...(flags.frozen ? ["--frozen"] : []),
        "--cache",
        cacheDir(flags),
        ...(flags.remote ? ["--remote", flags.remote] : []),
        ...(flags.remoteWrite ? ["--remote-write"] : []),
        ...computeArgs(flags),
      ];
      return new ProcessExecutor(jobs, file, (args) => rnnpChild(args, childEnv(jobs)), extra);
    }
    default:
      throw new UserError(`--executor ${name}: expected one of ${EXECUTORS.join(", ")}`, {
        code: "config",
      });
  }
}

function childEnv(jobs: number): Record<string, string> {
  return {
    NO_COLOR: stderr().c.isColorSupported ? "" : "1",
    RNNP_THREADS: workerThreads(jobs),
  };
}
