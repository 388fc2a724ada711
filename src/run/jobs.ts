import { canonicalJson } from "../core/canonical.js";
import { UserError } from "../core/diagnostic.js";
import { sha256, type Digest, type StageKey } from "../core/digest.js";
import { RNNP_VERSION } from "../core/version.js";
import type { Fingerprint } from "../plan/fingerprint.js";
import { RuntimeUnavailable, runtimeText, type Runtime } from "../runtime/descriptor.js";
import type { StageResult } from "./runner.js";

/**
 * A stage to execute somewhere: references only, never artifacts. Whoever runs it rebuilds the plan
 * from the pipeline (executors that ship it add its package digest), finds the inputs by digest in a
 * cache (local or remote), computes the stage's key itself and refuses the job if it is not `key`.
 */
export interface Job {
  stage: string;
  key: StageKey;
  /** Execute even though a record exists (`run --force`). */
  forced: boolean;
  /** Input slot -> digest(s) of what the stage reads, as in its fingerprint. */
  inputs: Fingerprint["inputs"];
  /** The coordinator's rnnp version and runtime: a worker with others would make other bytes. */
  origin: JobOrigin;
}

export interface JobOrigin {
  rnnp: string;
  /** runtimeText of the coordinator's runtime, or null when it has none (no backend-dependent stage can run). */
  runtime: string | null;
}

/** Where the runner is while executing a job; `here()` runs it in this process (the local executor). */
export interface JobContext {
  here(): Promise<StageResult>;
  signal: AbortSignal;
  log(message: string): void;
}

/**
 * Where stages that must execute run. The runner decides what runs (cached stages never become
 * jobs) and commits or picks up results; an executor only runs jobs: in this process, in worker
 * processes on this machine, on a queue of workers (BullMQ), or as batch jobs (Slurm). Every one
 * ends in the same code path (`Runner` -> `LocalExecutor.execute`), so bytes never depend on where
 * a stage ran. A result from elsewhere is a claim: the runner reads the record from the shared
 * cache (or fetches it from the remote one) and believes only that.
 */
export interface JobExecutor {
  readonly name: string;
  /** Jobs in flight at once (1: one stage at a time, in order). */
  readonly slots: number;
  run(job: Job, ctx: JobContext): Promise<StageResult>;
  /** Releases connections and cancels what is still submitted (Ctrl-C). */
  close?(): Promise<void>;
}

/** The local executor with one slot: every stage in this process, one after the other. */
export const IN_PROCESS: JobExecutor = {
  name: "local",
  slots: 1,
  run: (_job, ctx) => ctx.here(),
};

export function originOf(runtime: Runtime | RuntimeUnavailable | undefined): JobOrigin {
  return {
    rnnp: RNNP_VERSION,
    runtime: runtime && !(runtime instanceof RuntimeUnavailable) ? runtimeText(runtime) : null,
  };
}

/** A worker's refusal of a job made by another rnnp or runtime, naming both sides; undefined when they match. */
export function refusal(job: JobOrigin, mine: JobOrigin): UserError | undefined {
  const diffs: string[] = [];
  if (job.rnnp !== mine.rnnp)
    diffs.push(`rnnp ${job.rnnp} made it; this worker is rnnp ${mine.rnnp}`);
  if (job.runtime !== mine.runtime)
    diffs.push(
      `its runtime is ${job.runtime ?? "none"}; this worker's is ${mine.runtime ?? "none"}`,
    );
  if (!diffs.length) return undefined;
  return new UserError(`this worker refuses the job: ${diffs.join("; ")}`, {
    code: "job-refused",
    hint: "run workers with the coordinator's rnnp version and runtime (backend, kernels), or give each runtime its own queue (--queue-name)",
  });
}

/** What a worker needs to rebuild the plan of a pipeline, named by its digest. */
export interface PipelinePackage {
  format: 1;
  /** The pipeline file's name (its folder is the worker's business). */
  name: string;
  source: string;
  overrides: string[];
  backend?: string;
  kernels?: string;
  /** Data files stages read: path relative to the pipeline's folder (npm: paths under node_modules/) -> digest and size. */
  files: Record<string, { digest: Digest; size: number }>;
}

export function pipelineDigest(p: PipelinePackage): Digest {
  return sha256(canonicalJson(p as never)) as Digest;
}

/** Up to `n` at once; the rest wait in order. */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}

  async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.used >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    else this.used++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    }
  }
}
