import { sinceStart } from "../../core/clock.js";
import { randomUUID } from "node:crypto";
import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Queue, QueueEvents, Worker } from "bullmq";
import type { Redis, RedisOptions } from "ioredis";
import type { RemoteCache } from "../../cache/remote.js";
import { UserError } from "../../core/diagnostic.js";
import type { Digest } from "../../core/digest.js";
import { hashFile } from "../../plan/files.js";
import type { Planner } from "../../plan/planner.js";
import { listFiles, resolveDataPath } from "../../project/paths.js";
import {
  pipelineDigest,
  type Job,
  type JobContext,
  type JobExecutor,
  type PipelinePackage,
} from "../jobs.js";
import type { StageResult } from "../runner.js";

/**
 * Stages as jobs on a BullMQ queue in Redis, run by `rnnp worker`s that share the remote cache.
 * BullMQ owns the queue, retries with backoff, worker locks and stalled-job detection (a worker that
 * dies loses its lock, and its job goes to another); rnnp keeps the DAG, the keys and the cache.
 * A job holds references only: the pipeline package's digest (its source and data files are in the
 * remote cache), the stage's key and its input digests.
 */
export type QueuedJob = Job & { pipeline: Digest };

/** What a worker reports for a job it finished. */
export interface JobReport {
  status: "ran" | "cached";
  durationMs: number;
  worker: string;
}

/** A job BullMQ tries this often before it fails for good (transient errors: a worker killed, the remote briefly down). */
export const ATTEMPTS = 4;

/** How long a connection may be lost before the run (or worker) gives up on Redis, and says so. */
const GIVE_UP_AFTER_MS = 5_000;

export interface Connection {
  /** The URL as given, for messages (without a password). */
  url: string;
  make(): Redis;
  /** Rejects with a clear UserError once any connection made here is lost for good. */
  lost: Promise<never>;
  closeAll(): Promise<void>;
}

/**
 * Connections to the Redis at `url`: checked at once (an unreachable Redis is a clear error, not a
 * hang), and given up after a few seconds of loss, so a run never waits forever on a dead queue.
 */
export async function connectRedis(url: string): Promise<Connection> {
  const shown = url.replace(/\/\/[^/@]*@/, "//");
  if (!/^rediss?:\/\//.test(url))
    throw new UserError(`--queue ${shown}: expected a redis:// URL`, {
      code: "queue",
      hint: "for example --queue redis://127.0.0.1:6379",
    });
  const { Redis } = await import("ioredis");
  const made: Redis[] = [];
  let fail: (e: UserError) => void = () => {};
  const lost = new Promise<never>((_, reject) => {
    fail = reject;
  });
  lost.catch(() => {}); // observed by whoever races it
  const options: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: 3_000,
    retryStrategy: (times) => (times * 250 > GIVE_UP_AFTER_MS ? null : 250),
  };
  const make = () => {
    const r = new Redis(url, options);
    let last = "";
    r.on("error", (e: NodeJS.ErrnoException) => {
      last = e.code ?? e.message;
    });
    r.on("end", () =>
      fail(
        new UserError(`lost the connection to Redis at ${shown}${last ? ` (${last})` : ""}`, {
          code: "queue",
          hint: "stages that finished are cached here and in the remote cache: when Redis is back, run again and only the rest executes",
        }),
      ),
    );
    made.push(r);
    return r;
  };
  const probe = new Redis(url, { ...options, retryStrategy: () => null });
  let cause: string | undefined;
  probe.on("error", (e: NodeJS.ErrnoException) => {
    cause ??= e.code ?? e.message;
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(`cannot reach Redis at ${shown}: ${cause ?? err.code ?? err.message}`, {
      code: "queue",
      hint: "start it (redis-server), or give the right --queue redis://HOST:PORT",
    });
  } finally {
    probe.disconnect();
  }
  return {
    url: shown,
    make,
    lost,
    closeAll: async () => {
      for (const r of made) r.disconnect();
    },
  };
}

/**
 * The pipeline as a worker needs it: its source, overrides and the data files its stages read, each
 * file named by its path relative to a root above the pipeline and every `../` it reaches, and by
 * its digest. npm: paths are shipped too, under node_modules/, where the worker's copy resolves them.
 */
export function packagePipeline(
  planner: Planner,
  opts: { overrides: string[]; backend?: string; kernels?: string },
): { pkg: PipelinePackage; paths: Map<Digest, string> } {
  const ir = planner.ir;
  // ir.file is as typed, relative to the command's directory (io().cwd, not always this process's).
  const file = join(ir.dir, basename(ir.file));
  const wanted: { abs: string; rel?: string }[] = [];
  for (const s of ir.stages)
    for (const p of s.kind.files?.(s.params as never) ?? []) {
      // An absolute path names a file on every machine's own disk: not shipped (if it differs on
      // a worker, the worker computes another key and refuses the job).
      if (isAbsolute(p)) continue;
      const abs = resolveDataPath(p, ir.dir);
      const npm = p.startsWith("npm:") ? join("node_modules", p.slice(4)) : undefined;
      const all = statSync(abs).isDirectory() ? listFiles(abs) : [abs];
      for (const f of all)
        wanted.push(npm ? { abs: f, rel: join(npm, relative(abs, f)) } : { abs: f });
    }
  // The root: the pipeline's folder, or the folder every relative data path stays under.
  let root = dirname(file);
  for (const w of wanted)
    if (!w.rel) while (relative(root, w.abs).startsWith(`..${sep}`)) root = dirname(root);
  const files: PipelinePackage["files"] = {};
  const paths = new Map<Digest, string>();
  for (const w of wanted) {
    const digest = hashFile(w.abs);
    files[(w.rel ?? relative(root, w.abs)).split(sep).join("/")] = {
      digest,
      size: statSync(w.abs).size,
    };
    paths.set(digest, w.abs);
  }
  const pkg: PipelinePackage = {
    format: 1,
    name: relative(root, file).split(sep).join("/"),
    source: readFileSync(file, "utf8"),
    overrides: opts.overrides,
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.kernels ? { kernels: opts.kernels } : {}),
    files,
  };
  return { pkg, paths };
}

/** Uploads the package's files and then the package, so a worker never sees one without the other. */
export async function uploadPackage(
  remote: RemoteCache,
  pkg: PipelinePackage,
  paths: Map<Digest, string>,
): Promise<Digest> {
  const digest = pipelineDigest(pkg);
  const before = remote.failures;
  for (const [d, abs] of paths) await remote.put(`blobs/${d}`, readFileSync(abs), true);
  await remote.put(`pipelines/${digest}.json`, Buffer.from(JSON.stringify(pkg)), true);
  if (remote.failures !== before)
    throw new UserError(`could not upload the pipeline to the remote cache ${remote.url}`, {
      code: "remote",
      hint: "workers read the pipeline and its data files from there: the coordinator needs write access (RNNP_REMOTE_TOKEN)",
    });
  return digest;
}

/**
 * The pipeline package `digest`, fetched from the remote cache and written (checked: the package by
 * its digest, every file by its own) into `<dir>/<digest>/`; the path of its pipeline file there.
 */
export async function fetchPackage(
  remote: RemoteCache,
  digest: Digest,
  dir: string,
): Promise<{ file: string; pkg: PipelinePackage }> {
  const home = join(dir, digest);
  const manifest = join(home, ".package.json");
  if (existsSync(manifest)) {
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as PipelinePackage;
    return { file: join(home, pkg.name), pkg };
  }
  const body = await remote.getDocument(`pipelines/${digest}.json`);
  if (!body)
    throw new Error(`the pipeline package ${digest.slice(0, 12)} is not in the remote cache`);
  const pkg = JSON.parse(body.toString("utf8")) as PipelinePackage;
  if (pipelineDigest(pkg) !== digest)
    throw new UserError(
      `the pipeline package ${digest.slice(0, 12)} in the remote cache does not match its digest`,
      {
        code: "remote",
      },
    );
  const staging = `${home}.${randomUUID()}`;
  try {
    for (const [path, f] of Object.entries(pkg.files)) {
      const target = resolve(staging, path);
      if (!target.startsWith(staging + sep))
        throw new UserError(`the pipeline package names a file outside itself: ${path}`, {
          code: "remote",
        });
      const bytes = await remote.getBlob(f.digest, f.size);
      if (!bytes)
        throw new Error(`data file ${path} (${f.digest.slice(0, 12)}) is not in the remote cache`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, bytes);
    }
    const main = resolve(staging, pkg.name);
    mkdirSync(dirname(main), { recursive: true });
    writeFileSync(main, pkg.source);
    writeFileSync(join(staging, ".package.json"), JSON.stringify(pkg));
    mkdirSync(dirname(home), { recursive: true });
    try {
      renameSync(staging, home);
    } catch (e) {
      // Another job of this worker wrote it first: the same bytes.
      if (!existsSync(manifest)) throw e;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { file: join(home, pkg.name), pkg };
}

export interface BullmqOptions {
  url: string;
  name: string;
  planner: Planner;
  remote: RemoteCache;
  overrides: string[];
  backend?: string;
  kernels?: string;
}

/** The coordinator's side: each job on the queue, awaited through BullMQ's queue events. */
export class BullmqExecutor implements JobExecutor {
  readonly name = "bullmq";
  /** The queue, not this process, limits what runs at once: every ready stage is enqueued. */
  readonly slots = 10_000;

  private constructor(
    private readonly conn: Connection,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly pipeline: Digest,
  ) {}

  static async connect(o: BullmqOptions): Promise<BullmqExecutor> {
    const conn = await connectRedis(o.url);
    const { Queue, QueueEvents } = await import("bullmq");
    const { pkg, paths } = packagePipeline(o.planner, o);
    const pipeline = await uploadPackage(o.remote, pkg, paths);
    const queue = new Queue(o.name, { connection: conn.make() });
    const events = new QueueEvents(o.name, { connection: conn.make() });
    queue.on("error", () => {});
    events.on("error", () => {});
    await Promise.race([events.waitUntilReady(), conn.lost]);
    return new BullmqExecutor(conn, queue, events, pipeline);
  }

  async run(job: Job, ctx: JobContext): Promise<StageResult> {
    const base = { name: job.stage, kind: "?", key: job.key };
    const started = sinceStart();
    try {
      const data: QueuedJob = { ...job, pipeline: this.pipeline };
      const queued = await Promise.race([
        this.queue.add(job.stage, data, {
          attempts: ATTEMPTS,
          backoff: { type: "exponential", delay: 500 },
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 24 * 3600 },
        }),
        this.conn.lost,
      ]);
      ctx.log(`queued as job ${queued.id} on ${this.conn.url}`);
      const report = (await Promise.race([
        queued.waitUntilFinished(this.events),
        this.conn.lost,
      ])) as JobReport;
      ctx.log(`${report.status} on worker ${report.worker}`);
      return {
        ...base,
        status: report.status === "cached" ? "cached" : "ran",
        durationMs: report.durationMs,
      };
    } catch (e) {
      if (e instanceof UserError)
        return {
          ...base,
          status: "failed",
          durationMs: sinceStart() - started,
          diagnostics: [e.toDiagnostic()],
        };
      // BullMQ's failedReason: what the worker said, already rendered.
      return {
        ...base,
        status: "failed",
        durationMs: sinceStart() - started,
        workerOutput: `${(e as Error).message.trimEnd()}\n`,
      };
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    await this.conn.closeAll();
  }
}

/** A worker's processing of one job (the CLI's `rnnp worker` supplies how to run it). */
export type Processor = (job: QueuedJob) => Promise<JobReport>;

/** `rnnp worker`'s BullMQ side: takes jobs, `concurrency` at a time; resolves when the worker stops. */
export async function startWorker(o: {
  url: string;
  name: string;
  concurrency: number;
  leaseMs: number;
  process: Processor;
  onEvent(e: {
    type: "active" | "failed" | "completed" | "stalled";
    id: string;
    stage?: string | undefined;
    message?: string;
  }): void;
}): Promise<{ worker: Worker; conn: Connection }> {
  const conn = await connectRedis(o.url);
  const { Worker } = await import("bullmq");
  const worker = new Worker(o.name, async (j) => o.process(j.data as QueuedJob), {
    connection: conn.make(),
    concurrency: o.concurrency,
    lockDuration: o.leaseMs,
    stalledInterval: Math.max(1_000, Math.floor(o.leaseMs / 2)),
    maxStalledCount: ATTEMPTS,
  });
  worker.on("error", () => {});
  worker.on("failed", (j, e) =>
    o.onEvent({ type: "failed", id: String(j?.id), stage: j?.name, message: e.message }),
  );
  worker.on("active", (j) => o.onEvent({ type: "active", id: String(j.id), stage: j.name }));
  worker.on("completed", (j) => o.onEvent({ type: "completed", id: String(j.id), stage: j.name }));
  worker.on("stalled", (id) => o.onEvent({ type: "stalled", id }));
  await Promise.race([worker.waitUntilReady(), conn.lost]);
  return { worker, conn };
}
