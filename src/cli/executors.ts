import { resolve } from "node:path";
import { UserError } from "../core/diagnostic.js";
import type { RemoteCache } from "../cache/remote.js";
import type { Planner } from "../plan/planner.js";
import type { JobExecutor } from "../run/jobs.js";
import { ProcessExecutor } from "../run/executors/processes.js";
import { rnnpChild } from "./child.js";
import { cacheDir, computeArgs, type CommonOptions } from "./context.js";
import type { RemoteFlags } from "./config.js";
import { findProjectRoot } from "../project/root.js";
import { io, onEnd, stderr, verbosity } from "./io.js";
import { workerThreads } from "./commands/run.js";

export const EXECUTORS = ["local", "bullmq", "slurm"] as const;

export interface ExecutorFlags extends CommonOptions, RemoteFlags {
  executor?: string;
  jobs?: number;
  queue?: string;
  queueName?: string;
  partition?: string;
  frozen?: boolean;
  /** --checkpoints: a job's process keeps training's checkpoints as the coordinator would. */
  checkpoints?: string;
}

/**
 * The executor a run asked for (--executor, else rnnp.config.json's "executor", else local), or
 * undefined for the local executor with one slot (every stage in this process). Queues and batch
 * systems are loaded only when asked for.
 */
export async function executorFor(
  planner: Planner,
  flags: ExecutorFlags,
  remote: RemoteCache | undefined,
): Promise<JobExecutor | undefined> {
  const config = findProjectRoot(io().cwd).config;
  const name = flags.executor ?? io().env.RNNP_EXECUTOR ?? config.executor ?? "local";
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
        ...(flags.checkpoints ? ["--checkpoints", flags.checkpoints] : []),
        ...computeArgs(flags),
      ];
      return new ProcessExecutor(
        jobs,
        file,
        // --quiet: no live lines; a failed worker's output is then printed with its failure.
        (args, onLine) =>
          rnnpChild(args, childEnv(jobs), verbosity() === "quiet" ? undefined : onLine),
        extra,
      );
    }
    case "bullmq": {
      const queue = flags.queue ?? io().env.RNNP_QUEUE ?? config.queue?.url;
      if (!queue)
        throw new UserError("--executor bullmq needs a queue", {
          code: "queue",
          hint: 'give --queue redis://HOST:PORT (or RNNP_QUEUE, or "queue": { "url" } in rnnp.config.json)',
        });
      if (!remote)
        throw new UserError(
          "--executor bullmq needs a remote cache: workers read inputs and write outputs there",
          {
            code: "queue",
            hint: "give --remote URL (or RNNP_REMOTE), the same URL the workers use",
          },
        );
      const { BullmqExecutor } = await import("../run/executors/bullmq.js");
      const executor = await BullmqExecutor.connect({
        url: queue,
        name: flags.queueName ?? config.queue?.name ?? "rnnp",
        planner,
        remote,
        overrides: flags.param ?? [],
        ...(flags.backend ? { backend: flags.backend } : {}),
        ...(flags.kernels ? { kernels: flags.kernels } : {}),
      });
      onEnd(() => executor.close());
      return executor;
    }
    case "slurm": {
      const { SlurmExecutor } = await import("../run/executors/slurm.js");
      const executor = new SlurmExecutor({
        file,
        cacheDir: cacheDir(flags),
        ...((flags.partition ?? config.slurm?.partition)
          ? { partition: (flags.partition ?? config.slurm?.partition)! }
          : {}),
        resources: config.slurm?.resources ?? {},
        kindOf: (stage) => planner.stage(stage).kind.name,
        extra: [
          ...(flags.frozen ? ["--frozen"] : []),
          ...(flags.remote ? ["--remote", flags.remote] : []),
          ...(flags.remoteWrite ? ["--remote-write"] : []),
          ...(flags.checkpoints ? ["--checkpoints", flags.checkpoints] : []),
          ...computeArgs(flags),
        ],
        env: { ...definedOnly(io().env), ...childEnv(1) },
        cwd: io().cwd,
      });
      onEnd(() => executor.close());
      return executor;
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

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}
