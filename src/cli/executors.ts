import { resolve } from "node:path";
import { UserError } from "../core/diagnostic.js";
import type { RemoteCache } from "../cache/remote.js";
import type { Planner } from "../plan/planner.js";
import type { JobExecutor } from "../run/jobs.js";
import { ProcessExecutor } from "../run/executors/processes.js";
import type { SlurmResources } from "../run/executors/slurm.js";
import { rnnpChild } from "./child.js";
import { cacheDir, computeArgs, type CommonOptions } from "./context.js";
import { configFile, type RemoteFlags } from "./config.js";
import { io, onEnd, stderr } from "./io.js";
import { workerThreads } from "./commands/run.js";

export const EXECUTORS = ["local", "bullmq", "slurm"] as const;

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
  remote: RemoteCache | undefined,
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
    case "bullmq": {
      const queue = flags.queue ?? io().env.RNNP_QUEUE ?? config?.queue?.url;
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
        name: flags.queueName ?? config?.queue?.name ?? "rnnp",
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
        ...((flags.partition ?? config?.slurm?.partition)
          ? { partition: (flags.partition ?? config?.slurm?.partition)! }
          : {}),
        resources: checkedResources(config?.slurm?.resources),
        kindOf: (stage) => planner.stage(stage).kind.name,
        extra: [
          ...(flags.frozen ? ["--frozen"] : []),
          ...(flags.remote ? ["--remote", flags.remote] : []),
          ...(flags.remoteWrite ? ["--remote-write"] : []),
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

/** Each sbatch resource: whether a value is acceptable, and what is expected. */
const RESOURCES: Record<string, [ok: (v: unknown) => boolean, expected: string]> = {
  cpus: [(v) => Number.isInteger(v) && (v as number) > 0, "a whole number above 0"],
  mem: [(v) => typeof v === "string" && /^\d+[KMGT]?$/i.test(v), 'a size such as "8G"'],
  time: [(v) => typeof v === "string" && /^[\d:-]+$/.test(v), 'a time such as "2:00:00"'],
};

/** rnnp.config.json's slurm.resources, checked: kind (or "*") -> { cpus, mem, time }. */
function checkedResources(given: unknown): Record<string, SlurmResources> {
  const out: Record<string, SlurmResources> = Object.create(null);
  if (given === undefined) return out;
  const bad = (why: string) =>
    new UserError(`rnnp.config.json: slurm.resources${why}`, {
      code: "config",
      hint: 'for example "resources": { "train": { "cpus": 4, "mem": "8G", "time": "2:00:00" }, "*": { "time": "10:00" } }',
    });
  if (typeof given !== "object" || given === null || Array.isArray(given))
    throw bad(" must be an object of stage kinds");
  for (const [kind, r] of Object.entries(given)) {
    if (typeof r !== "object" || r === null) throw bad(`.${kind} must be an object`);
    for (const [name, v] of Object.entries(r)) {
      const check = Object.hasOwn(RESOURCES, name) ? RESOURCES[name] : undefined;
      if (!check) throw bad(`.${kind}.${name}: unknown (expected cpus, mem or time)`);
      if (!check[0](v)) throw bad(`.${kind}.${name} is ${JSON.stringify(v)}: expected ${check[1]}`);
    }
    out[kind] = r as SlurmResources;
  }
  return out;
}
