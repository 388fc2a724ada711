import { hostname } from "node:os";
import { UserError } from "../../core/diagnostic.js";
import { fetchPackage, startWorker, type QueuedJob } from "../../run/executors/bullmq.js";
import { jobArgs, resultOfChild } from "../../run/executors/processes.js";
import { rnnpChild } from "../child.js";
import { remoteFor, type RemoteFlags } from "../config.js";
import { findProjectRoot } from "../../project/root.js";
import { cacheDir, EXIT, type CommonOptions } from "../context.js";
import { io, stderr, verbosity } from "../io.js";
import { workerThreads } from "./run.js";

export interface WorkerOptions extends CommonOptions, RemoteFlags {
  queue?: string;
  queueName?: string;
  concurrency?: number;
  /** Seconds a worker that stops answering keeps its job before BullMQ gives it to another. */
  lease?: number;
}

/**
 * `rnnp worker`: takes stage jobs from the BullMQ queue in Redis, `concurrency` at a time, each in
 * its own `rnnp run --job` process (the same code path as any run) against this worker's cache and
 * the shared remote cache, where it finds the pipeline and inputs and leaves the outputs. A stage
 * that fails is reported once with its error (it would fail again); a worker killed mid-job loses
 * its lease and BullMQ gives the job to another; an unreachable Redis is an error at once.
 */
export async function workerCommand(opts: WorkerOptions): Promise<number> {
  const config = findProjectRoot(io().cwd).config;
  const url = opts.queue ?? io().env.RNNP_QUEUE ?? config.queue?.url;
  if (!url)
    throw new UserError("rnnp worker needs a queue", {
      code: "queue",
      hint: 'give --queue redis://HOST:PORT (or RNNP_QUEUE, or "queue": { "url" } in rnnp.config.json)',
    });
  const say = (m: string) => stderr().write(`${m}\n`);
  const remote = remoteFor(
    opts,
    (m) => say(stderr().c.yellow(`warning: ${m}`)),
    io().cwd,
    "readwrite",
  );
  if (!remote)
    throw new UserError("rnnp worker needs the remote cache the coordinator uses", {
      code: "queue",
      hint: "give --remote URL (or RNNP_REMOTE), writable: workers upload what they compute",
    });
  const cache = cacheDir(opts);
  const concurrency = opts.concurrency ?? 1;
  const me = `${hostname()}:${process.pid}`;
  const { UnrecoverableError } = await import("bullmq");
  const processJob = async (job: QueuedJob) => {
    const { file, pkg } = await fetchPackage(remote, job.pipeline, `${cache}.pipelines`);
    const child = await rnnpChild(
      jobArgs(file, job, [
        "--cache",
        cache,
        ...(opts.remote ? ["--remote", opts.remote] : []),
        "--remote-write",
        ...pkg.overrides.flatMap((p) => ["-P", p]),
        ...(pkg.backend ? ["--backend", pkg.backend] : []),
        ...(pkg.kernels ? ["--kernels", pkg.kernels] : []),
      ]),
      { NO_COLOR: "1", RNNP_THREADS: workerThreads(concurrency) },
      // The job's lines as they come, prefixed by its stage (jobs run side by side).
      verbosity() === "quiet"
        ? undefined
        : (line) => {
            if (line.trim()) say(`${stderr().c.dim(`[${job.stage}]`)} ${line}`);
          },
    );
    const r = resultOfChild(job, child);
    if (r.status === "ran" || r.status === "cached")
      return { status: r.status, durationMs: Math.round(r.durationMs), worker: me };
    const output = `worker ${me}:\n${r.workerOutput ?? ""}`;
    // A process that did not finish (killed, crashed), or an input the remote did not serve, may
    // succeed on a retry; a stage's own error or a refusal would only repeat.
    if (child.code !== 1 || /error\[(worker|remote)\]/.test(output)) throw new Error(output);
    throw new UnrecoverableError(output);
  };
  const { worker, conn } = await startWorker({
    url,
    name: opts.queueName ?? config.queue?.name ?? "rnnp",
    concurrency,
    leaseMs: (opts.lease ?? 30) * 1000,
    process: processJob,
    onEvent: (e) => {
      const c = stderr().c;
      if (e.type === "active") say(`→ ${e.stage} (job ${e.id})`);
      else if (e.type === "completed") say(`${c.green("✔")} ${e.stage} (job ${e.id})`);
      else if (e.type === "stalled")
        say(c.yellow(`job ${e.id} stalled (its worker stopped answering): queued again`));
      else
        say(
          `${c.red("✖")} ${e.stage} (job ${e.id}): ${e.message?.split("\n").slice(1, 4).join(" ").trim()}`,
        );
    },
  });
  say(
    `rnnp worker ${me}: taking jobs from ${conn.url} (queue ${opts.queueName ?? "rnnp"}), ${concurrency} at a time; cache ${cache}; remote ${remote.url}`,
  );
  try {
    await conn.lost;
  } catch (e) {
    await worker.close(true).catch(() => {});
    await conn.closeAll();
    throw e;
  }
  return EXIT.ok;
}
