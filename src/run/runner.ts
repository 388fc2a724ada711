import { sinceStart } from "../core/clock.js";
import { DiagnosticError, diagnostic, type Diagnostic, UserError } from "../core/diagnostic.js";
import { short, type Digest, type StageKey } from "../core/digest.js";
import { RNNP_VERSION } from "../core/version.js";
import type { StageRecord } from "../cache/record.js";
import { PoisonedBlob, type RemoteCache } from "../cache/remote.js";
import { type InputRef, inputsBySlot, type StageIR } from "../lang/ir.js";
import { DEFAULT_RETENTION, type Retention, resumeBlocked } from "../plan/checkpoints.js";
import type { Fingerprint } from "../plan/fingerprint.js";
import { lockLookup, type LockedStage, type Lockfile } from "../plan/lockfile.js";
import { digestsOf, type Planner, type Resolution } from "../plan/planner.js";
import { explainAgainst, type Reason } from "../plan/why.js";
import { type Artifact, artifactToValue } from "../artifacts/index.js";
import { listsHeldOnce, type Release } from "../core/codec.js";
import {
  BadBlobError,
  checkOutputBytes,
  type ColumnPick,
  encodeArtifact,
  readArtifact,
  readInput,
  type EncodedArtifact,
} from "./artifacts.js";
import { RuntimeUnavailable } from "../runtime/descriptor.js";
import type { Executor, StageTask, TaskHooks } from "./executor.js";
import { IN_PROCESS, originOf, refusal, Slots, type Job, type JobExecutor } from "./jobs.js";
import { DEFAULT_HEAP, type HeapPolicy } from "./heap.js";
import { withLease } from "./lease.js";
import { Checkpoints } from "./checkpoints.js";

export type StageStatus = "cached" | "ran" | "failed" | "skipped";

export interface StageResult {
  name: string;
  kind: string;
  key?: StageKey;
  status: StageStatus;
  durationMs: number;
  /** For failed stages: what went wrong, as diagnostics (positions in the pipeline or a data file). */
  diagnostics?: Diagnostic[];
  /** For skipped stages: the failed stage(s) upstream. */
  skippedBecause?: string[];
  /** Set when a forced rerun produced bytes other than the cached ones. */
  nondeterministic?: string[];
  /** In a frozen run: why this stage does not match the lockfile. */
  frozen?: Reason[];
  /** Where a cached stage came from: this machine's cache, or the remote one. */
  source?: "local" | "remote";
  /** What a worker process printed about a failure (already rendered). */
  workerOutput?: string;
  /** A resumable stage (train) that continued from a checkpoint: the step (epoch) it resumed after. */
  resumedFrom?: number;
}

export type RunEvent =
  | { type: "start"; stage: StageIR; key: StageKey }
  | { type: "progress"; stage: StageIR; done: number; total: number; unit?: string }
  | { type: "log"; stage: StageIR; message: string }
  | { type: "end"; result: StageResult };

export interface RunOptions {
  /** Run these stages and what they need; all stages when absent. */
  targets?: readonly string[];
  /** Stages to execute even when cached (true: all of them). */
  force?: boolean | ReadonlySet<string>;
  onEvent?: (e: RunEvent) => void;
  signal?: AbortSignal;
  /** CI mode: every stage must have the key the lock records, and produce the bytes it records. */
  frozen?: Lockfile;
  /** A shared cache to fetch misses from, and (read-write) to upload what runs here. */
  remote?: RemoteCache;
  /** Which checkpoints of resumable stages (train's epochs) to keep; every 5th and the last by default. */
  retention?: Retention;
  /** Where stages that must execute run (default: in this process, one at a time). */
  executor?: JobExecutor;
  /**
   * In a worker: the one job this run is for. Its stage must get the job's key (else the job is
   * refused), and the stages it reads must be cached here or in the remote cache: a worker never
   * computes another stage's outputs.
   */
  job?: Job;
  /**
   * Whether stages write their workspace outputs (exports). Off for variant runs (-P, --backend,
   * --kernels), and never for a sweep's variants: the working tree holds the pipeline as written,
   * what its lock describes; variants stay in the cache.
   */
  workspace?: boolean;
}

type Keyed = Extract<Resolution, { state: "keyed" }>;

/** A stage the run takes up: whether it was forced, when, and the run's listener, options and slots. */
interface StageStart {
  stage: StageIR;
  forced: boolean;
  started: number;
  emit: (e: RunEvent) => void;
  options: RunOptions;
  on: { executor: JobExecutor; slots: Slots };
}

/**
 * One stage that must execute, as `leased`, `execute` and `pickUp` see it: the stage, whether it
 * was forced, its resolution (key and fingerprint), what the lock records for it in a frozen run,
 * when its attempt started, and the run's listener and options.
 */
interface StageRun {
  stage: StageIR;
  forced: boolean;
  keyed: Extract<Resolution, { state: "keyed" }>;
  locked: LockedStage | undefined;
  started: number;
  emit: (e: RunEvent) => void;
  options: RunOptions;
}

/**
 * Executes the stale stages of a plan in topological order. Cached stages are not executed, and their
 * artifacts are read only when a stale stage needs them. A failure stops the failed stage's dependents
 * and lets independent stages finish; every stage that succeeded is committed as it finishes.
 */
export class Runner {
  /** Uploads to the remote cache, started as stages finish and awaited before the run returns. */
  private readonly uploads: Promise<void>[] = [];

  /** The outputs (digests and sizes) of the stages this runner committed. */
  private readonly committed = new Map<string, StageRecord["outputs"]>();

  constructor(
    private readonly planner: Planner,
    private readonly executor: Executor,
    /** When the heap is collected between a stage's run and the encoding of its outputs. */
    private readonly heap: HeapPolicy = DEFAULT_HEAP,
  ) {}

  async run(options: RunOptions = {}): Promise<StageResult[]> {
    const stages = options.targets
      ? this.planner.closure(options.targets)
      : [...this.planner.order];
    const listener = options.onEvent ?? (() => {});
    // The latest result per stage: a cached stage whose blob proves corrupt is rebuilt and reported again.
    const latest = new Map<string, StageResult>();
    const emit = (e: RunEvent) => {
      if (e.type === "end") latest.set(e.result.name, e.result);
      listener(e);
    };
    const done = new Map<string, StageResult>();
    const running = new Map<string, Promise<void>>();
    const executor = options.executor ?? IN_PROCESS;
    const slots = new Slots(executor.slots);
    // Each stage of the run waits on its upstream stages in the run; one whose count reaches zero is
    // ready, and ready stages start in topological order (their place in `stages`). Finishing a
    // stage touches only its successors, so scheduling costs O(stages + edges), not a scan per stage.
    const place = new Map(stages.map((s, i) => [s.name, i]));
    const ups = stages.map((s) => {
      // The stages it reads (each once, in the order it names them), all of them in a whole run.
      const all = this.planner.graph.predecessors(s.name);
      return all.every((u) => place.has(u)) ? all : all.filter((u) => place.has(u));
    });
    const waitingOn = ups.map((u) => u.length);
    const ready = new ReadyQueue(stages.flatMap((_, i) => (waitingOn[i] === 0 ? [i] : [])));
    const finish = (result: StageResult) => {
      done.set(result.name, result);
      emit({ type: "end", result });
      for (const next of this.planner.graph.successors(result.name)) {
        const i = place.get(next);
        if (i !== undefined && --waitingOn[i]! === 0) ready.push(i);
      }
    };
    // With one slot, one stage at a time; with more, every ready stage is looked up at once and up
    // to `slots` of them execute. A stage settled without executing (cached, or failed before it
    // could start) is settled here and now, without a promise: a fully cached run of 10,000 stages
    // is 10,000 of them. With several slots such stages finish after the ready ones were looked up,
    // in the order they were, as when they too were promises.
    const settled: StageResult[] = [];
    while (ready.size || running.size || settled.length) {
      for (const r of settled.splice(0)) finish(r);
      if (options.signal?.aborted) break;
      for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
        const stage = stages[i]!;
        const forced =
          options.force === true || (options.force instanceof Set && options.force.has(stage.name));
        const blockedBy = ups[i]!.filter(
          (u) => done.get(u)!.status === "failed" || done.get(u)!.status === "skipped",
        );
        if (blockedBy.length) {
          finish({
            name: stage.name,
            kind: stage.kind.name,
            status: "skipped",
            durationMs: 0,
            skippedBecause: blockedBy,
          });
          continue;
        }
        const outcome = this.stage(stage, forced, emit, options, { executor, slots });
        const work =
          outcome instanceof Promise
            ? outcome.then((r) => this.materialize(stage, r, emit, options))
            : this.materialize(stage, outcome, emit, options);
        if (!(work instanceof Promise)) {
          if (executor.slots === 1) finish(work);
          else settled.push(work);
        } else if (executor.slots === 1) finish(await work);
        else
          running.set(
            stage.name,
            work.then(finish).finally(() => running.delete(stage.name)),
          );
      }
      if (running.size && !settled.length) await Promise.race(running.values());
    }
    await Promise.all(this.uploads);
    return stages.filter((s) => latest.has(s.name)).map((s) => latest.get(s.name)!);
  }

  /**
   * What becomes of a stage: its result when it settles without executing (cached, refused,
   * invalid), else the promise of it (fetched from the remote cache, or executed).
   */
  private stage(
    stage: StageIR,
    forced: boolean,
    emit: (e: RunEvent) => void,
    options: RunOptions,
    on: { executor: JobExecutor; slots: Slots } = { executor: IN_PROCESS, slots: new Slots(1) },
  ): StageResult | Promise<StageResult> {
    const started = sinceStart();
    const res = this.planner.resolve(stage.name);
    if (res.state === "invalid")
      return {
        name: stage.name,
        kind: stage.kind.name,
        status: "failed",
        durationMs: 0,
        diagnostics: res.diagnostics,
      };
    if (res.state === "waiting")
      throw new Error(`internal: ${stage.name} planned before ${res.on.join(", ")}`);
    const at: StageStart = { stage, forced, started, emit, options, on };
    if (!res.record && !forced && options.remote) return this.fetched(at, res, options.remote);
    return this.decide(at, res, "local");
  }

  /** A local miss: looked for in the remote cache first. */
  private async fetched(at: StageStart, res: Keyed, remote: RemoteCache): Promise<StageResult> {
    if (!(await this.fetchRemote(remote, at.stage, res.key, at.emit)))
      return this.decide(at, res, "local");
    return this.decide(at, this.planner.resolve(at.stage.name) as Keyed, "remote");
  }

  /** A keyed stage: checked against the lock and the job, then cached, or executed. */
  private decide(
    at: StageStart,
    resolved: Keyed,
    source: "local" | "remote",
  ): StageResult | Promise<StageResult> {
    const { stage, forced, started, emit, options, on } = at;
    const { frozen } = options;
    const base = { name: stage.name, kind: stage.kind.name };
    const res =
      frozen && resolved.record && !forced ? this.vouchedFor(stage, resolved, emit) : resolved;
    const locked =
      frozen && Object.hasOwn(frozen.stages, stage.name) ? frozen.stages[stage.name] : undefined;
    if (frozen) {
      const violation = !locked
        ? [{ text: `\`${stage.name}\` is not in the lockfile; run without --frozen to record it` }]
        : locked.key !== res.key
          ? [
              {
                text: `\`${stage.name}\` has key ${short(res.key)}, the lockfile has ${short(locked.key)}`,
                because: explainAgainst(this.planner, stage.name, locked, lockLookup(frozen)),
              },
            ]
          : res.record && !forced
            ? outputsDiffer(stage.name, digestsOf(res.record), locked.outputs, "the cached")
            : undefined;
      if (violation?.length)
        return { ...base, key: res.key, status: "failed", durationMs: 0, frozen: violation };
    }
    if (options.job?.stage === stage.name && options.job.key !== res.key)
      return {
        ...base,
        key: res.key,
        status: "failed",
        durationMs: 0,
        diagnostics: [refused(options.job, res.key, this.planner).toDiagnostic()],
      };
    if (res.record && !forced)
      // Spelled out, not spread from `base`: 10,000 of them in a cached run of 10,000 stages.
      return {
        name: stage.name,
        kind: stage.kind.name,
        key: res.key,
        status: "cached",
        durationMs: sinceStart() - started,
        source,
      };

    const keyed = res;
    const { job } = options;
    if (job && job.stage !== stage.name)
      return {
        ...base,
        key: res.key,
        status: "failed",
        durationMs: 0,
        diagnostics: [
          diagnostic(
            "worker",
            `stage \`${stage.name}\`, an input of the job \`${job.stage}\`, is neither in this worker's cache nor in the remote cache`,
            { file: this.planner.ir.file, span: stage.nameSpan },
            {
              hint: "workers read inputs from the remote cache: give the coordinator and every worker the same --remote, writable",
            },
          ),
        ],
      };
    const run: StageRun = { stage, forced, keyed, locked, started, emit, options };
    return on.slots.use(async () => {
      let here = false;
      if (on.executor !== IN_PROCESS) emit({ type: "start", stage, key: keyed.key });
      const result = await on.executor.run(
        {
          stage: stage.name,
          key: keyed.key,
          forced,
          inputs: keyed.fingerprint.inputs,
          origin: originOf(this.planner.runtime),
        },
        {
          here: () => {
            here = true;
            return this.leased(run);
          },
          signal: options.signal ?? new AbortController().signal,
          log: (message) => emit({ type: "log", stage, message }),
        },
      );
      if (here) return result;
      return this.pickUp(run, result);
    });
  }

  /** Executes a stage here under its lease: one computation per key across processes sharing the cache. */
  private async leased(run: StageRun): Promise<StageResult> {
    const { stage, forced, keyed, started, emit } = run;
    const base = { name: stage.name, kind: stage.kind.name };
    const leased = await withLease(
      this.planner.store,
      keyed.key,
      {
        isDone: () => !forced && this.planner.store.getRecord(keyed.key) !== undefined,
        onWait: (holder) =>
          emit({
            type: "log",
            stage,
            message: `waiting: pid ${holder.pid} on ${holder.host} is computing this stage`,
          }),
      },
      () => this.execute(run),
    );
    if (!leased.done) return leased.value;
    // Another process computed it while this one waited.
    this.planner.forget(stage.name);
    const now = this.planner.resolve(stage.name);
    return {
      ...base,
      key: keyed.key,
      status: now.state === "keyed" && now.record ? "cached" : "failed",
      durationMs: sinceStart() - started,
    };
  }

  /**
   * A job ran elsewhere: believe the record, not the report. It is in the shared cache, or in the
   * remote one (then fetched, verified); then the stage's bytes are checked against the lock.
   */
  private async pickUp(run: StageRun, result: StageResult): Promise<StageResult> {
    const { stage, locked, started, emit, options } = run;
    const { key } = run.keyed;
    const base = { ...result, name: stage.name, kind: stage.kind.name, key };
    const durationMs = result.durationMs || sinceStart() - started;
    if (result.status !== "ran" && result.status !== "cached") return { ...base, durationMs };
    this.planner.forget(stage.name);
    let res = this.planner.resolve(stage.name);
    if (res.state === "keyed" && !res.record && options.remote) {
      await this.fetchRemote(options.remote, stage, key, emit);
      res = this.planner.resolve(stage.name);
    }
    if (res.state !== "keyed" || !res.record || res.key !== key)
      return {
        ...base,
        status: "failed",
        durationMs,
        diagnostics: [
          diagnostic(
            "worker",
            `the worker for \`${stage.name}\` reported success, but its record ${short(key)} is in no cache this run reads`,
            { file: this.planner.ir.file, span: stage.nameSpan },
            {
              hint: "workers on other machines upload to the remote cache: give them and this run the same --remote, writable for the workers",
            },
          ),
        ],
      };
    const differs = locked
      ? outputsDiffer(stage.name, digestsOf(res.record), locked.outputs, "the freshly built")
      : undefined;
    if (differs?.length) return { ...base, status: "failed", durationMs, frozen: differs };
    return { ...base, durationMs };
  }

  private async execute(run: StageRun): Promise<StageResult> {
    const { stage, forced, keyed, locked, started, emit, options } = run;
    const { signal, remote } = options;
    const base = { name: stage.name, kind: stage.kind.name };
    emit({ type: "start", stage, key: keyed.key });
    try {
      // Held by the task alone, which lets go of them once the stage has run (no local keeps them).
      const heapBefore = this.heap.used();
      const loaded: { inputs: StageTask["inputs"] | undefined } = {
        inputs: await this.inputsFor(stage, emit, options),
      };
      // An input that had to be rebuilt may have changed this stage's key.
      const now = this.planner.resolve(stage.name);
      if (now.state !== "keyed") throw new Error(`internal: ${stage.name} lost its key`);
      if (now.record && !forced)
        return { ...base, key: now.key, status: "cached", durationMs: sinceStart() - started };
      const checkpoints = this.checkpointsFor(stage, now.fingerprint, forced, emit, options);
      const task = this.task(stage, loaded.inputs!, now.fingerprint.seed, now.fingerprint.inputs);
      loaded.inputs = undefined;
      const outputs = await this.executeDroppingInputs(task, {
        ...this.hooks(stage, emit, signal),
        ...checkpoints?.hooks(),
      });
      // The inputs are no one's now (unless an output shares them): their memory, and the run's
      // garbage, go back before the outputs are encoded (see heap.ts).
      const limit = this.heap.collectAfterInputs;
      if (this.inputBytes(stage) >= limit || this.heap.used() - heapBefore >= limit)
        this.heap.collect();
      const durationMs = sinceStart() - started;
      const { record, blobs } = this.commit(stage, now.key, now.fingerprint, outputs, durationMs);
      checkpoints?.finish();
      if (remote?.writable) this.uploads.push(remote.push(record as StageRecord<unknown>, blobs));
      const changed = now.record
        ? Object.keys(record.outputs).filter(
            (o) => now.record!.outputs[o]?.digest !== record.outputs[o]!.digest,
          )
        : [];
      const differs = locked
        ? outputsDiffer(stage.name, digestsOf(record), locked.outputs, "the freshly built")
        : undefined;
      if (differs?.length)
        return { ...base, key: now.key, status: "failed", durationMs, frozen: differs };
      return {
        ...base,
        key: now.key,
        status: "ran",
        durationMs,
        ...(changed.length ? { nondeterministic: changed } : {}),
        ...(checkpoints?.resumedFrom !== undefined ? { resumedFrom: checkpoints.resumedFrom } : {}),
      };
    } catch (e) {
      return {
        ...base,
        key: keyed.key,
        status: "failed",
        durationMs: sinceStart() - started,
        diagnostics: toDiagnostics(e, stage, this.planner.ir.file),
      };
    }
  }

  /**
   * For a resumable stage (train): the checkpoint to continue from, and where the run's own go, as
   * records of the same stage with a smaller step count (src/plan/checkpoints.ts). A forced rerun
   * starts over (it is asked to recompute) but still leaves checkpoints.
   */
  private checkpointsFor(
    stage: StageIR,
    fingerprint: Fingerprint,
    forced: boolean,
    emit: (e: RunEvent) => void,
    options: RunOptions,
  ): Checkpoints | undefined {
    if (resumeBlocked(stage.kind, fingerprint.params) !== undefined) return undefined;
    return new Checkpoints({
      store: this.planner.store,
      kind: stage.kind,
      fingerprint,
      retention: options.retention ?? DEFAULT_RETENTION,
      resume: !forced,
      commit: (fp, key, outputs) => this.commit(stage, key, fp, outputs, 0, true),
      log: (message) => emit({ type: "log", stage, message }),
    });
  }

  /** Bytes of the artifacts a stage reads, as their records say. */
  private inputBytes(stage: StageIR): number {
    let bytes = 0;
    for (const { members } of this.slotsOf(stage))
      for (const { ref, output } of members) {
        const up = this.planner.resolve(ref.stage);
        const outputs =
          this.committed.get(ref.stage) ?? (up.state === "keyed" ? up.record?.outputs : undefined);
        bytes += outputs?.[output]?.size ?? 0;
      }
    return bytes;
  }

  /**
   * What a stage reads of each input slot: whether its kind gets a bundle there, and each member's
   * name with the producer's output it is. A named reference gives the one artifact it names (the
   * producer's first output unless it says which); a slot that takes no bundle, its first.
   */
  private slotsOf(stage: StageIR) {
    const outputsOf = (ref: InputRef) =>
      Object.keys(this.planner.outputsOf(ref.stage)!).filter(
        (o) => ref.output === undefined || ref.output === o,
      );
    return [...inputsBySlot(stage.inputs)].map(([slot, given]) => {
      const bundle = given instanceof Map || stage.kind.inputs[slot]!.bundle === true;
      const members =
        given instanceof Map
          ? [...given].map(([name, ref]) => ({ name, ref, output: outputsOf(ref)[0]! }))
          : outputsOf(given)
              .slice(0, bundle ? undefined : 1)
              .map((output) => ({ name: output, ref: given, output }));
      return { slot, bundle, members };
    });
  }

  /** Runs a stage's task, then empties its inputs: the task is their last holder here. */
  private async executeDroppingInputs(
    task: StageTask,
    hooks: TaskHooks,
  ): Promise<Record<string, Artifact>> {
    try {
      return await this.executor.execute(task, hooks);
    } finally {
      task.inputs = {};
    }
  }

  private task(
    stage: StageIR,
    inputs: StageTask["inputs"],
    seed?: number,
    inputDigests?: StageTask["inputDigests"],
  ): StageTask {
    const rt = this.planner.runtime;
    return {
      pipeline: this.planner.ir,
      stage,
      inputs,
      ...(inputDigests ? { inputDigests } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(rt instanceof RuntimeUnavailable
        ? { runtimeError: `${rt.message} (${rt.hint})` }
        : rt
          ? { runtime: rt }
          : {}),
    };
  }

  private hooks(stage: StageIR, emit: (e: RunEvent) => void, signal?: AbortSignal): TaskHooks {
    return {
      progress: (done, total, unit) =>
        emit({ type: "progress", stage, done, total, ...(unit ? { unit } : {}) }),
      log: (message) => emit({ type: "log", stage, message }),
      signal: signal ?? new AbortController().signal,
    };
  }

  /**
   * A frozen run vouches for the bytes of every stage it reports, so a cached stage's outputs are
   * verified against their digests; a corrupt one is dropped with its record, and the stage runs again
   * (and must then produce the bytes the lock records).
   */
  private vouchedFor(
    stage: StageIR,
    res: Extract<Resolution, { state: "keyed" }>,
    emit: (e: RunEvent) => void,
  ): Extract<Resolution, { state: "keyed" }> {
    const store = this.planner.store;
    const bad = [...new Set(Object.values(res.record!.outputs).map((o) => o.digest))].filter(
      (d) => !store.blobIsIntact(d),
    );
    if (!bad.length) return res;
    emit({
      type: "log",
      stage,
      message: `${bad.map((d) => `artifact ${short(d)}`).join(", ")} of \`${stage.name}\` is corrupt in the cache; recomputing it`,
    });
    store.remove([res.key], bad);
    this.planner.forget(stage.name);
    return this.planner.resolve(stage.name) as Extract<Resolution, { state: "keyed" }>;
  }

  /**
   * For kinds with a result outside the cache (exports): restore it from the outputs, ran or cached.
   * An output found missing or corrupt is recomputed once, as an input would be.
   */
  private materialize(
    stage: StageIR,
    result: StageResult,
    emit: (e: RunEvent) => void,
    options: RunOptions,
  ): StageResult | Promise<StageResult> {
    return stage.kind.materialize ? this.restore(stage, result, emit, options) : result;
  }

  private async restore(
    stage: StageIR,
    result: StageResult,
    emit: (e: RunEvent) => void,
    options: RunOptions,
  ): Promise<StageResult> {
    if (options.workspace === false || stage.variant) {
      if (result.status === "ran" || result.status === "cached")
        emit({
          type: "log",
          stage,
          message: `not written to the working tree: ${stage.variant ? "a sweep's variants" : "runs with -P, --backend or --kernels"} stay in the cache, so the workspace keeps the pipeline as written`,
        });
      return result;
    }
    for (let healed = false; ; healed = true) {
      if (result.status !== "ran" && result.status !== "cached") return result;
      try {
        const digests = this.planner.outputsOf(stage.name)!;
        const outputs = Object.fromEntries(
          Object.entries(digests).map(([name, d]) => [name, readArtifact(this.planner.store, d)]),
        );
        await this.executor.materialize(
          this.task(stage, {}),
          outputs,
          this.hooks(stage, emit, options.signal),
        );
        return result;
      } catch (e) {
        if (e instanceof BadBlobError && !healed) {
          emit({ type: "log", stage, message: `${e.message}; recomputing \`${stage.name}\`` });
          result = await this.recompute(stage.name, e, emit, options);
          continue;
        }
        return {
          ...result,
          status: "failed",
          diagnostics: toDiagnostics(e, stage, this.planner.ir.file),
        };
      }
    }
  }

  /** A blob of `name` proved missing or corrupt: its record and the blob go, and the stage runs again. */
  private async recompute(
    name: string,
    bad: BadBlobError,
    emit: (e: RunEvent) => void,
    options: RunOptions,
  ): Promise<StageResult> {
    const res = this.planner.resolve(name);
    if (res.state === "keyed") this.planner.store.remove([res.key], [bad.digest]);
    this.planner.forget(name);
    const { signal, frozen } = options;
    return this.stage(this.planner.stage(name), true, emit, {
      ...(signal ? { signal } : {}),
      ...(frozen ? { frozen } : {}),
    });
  }

  /**
   * Loads the artifacts a stage consumes, verified. A missing or corrupt blob is never served: the
   * record that named it is dropped and its producer runs again (once), then the read is retried.
   */
  private async inputsFor(
    stage: StageIR,
    emit: (e: RunEvent) => void,
    options: RunOptions = {},
  ): Promise<Record<string, Artifact | ReadonlyMap<string, Artifact>>> {
    const rebuilt = new Set<string>();
    for (;;) {
      try {
        const inputs: Record<string, Artifact | ReadonlyMap<string, Artifact>> = {};
        const load = (ref: InputRef, output: string) => (pick?: ColumnPick) => {
          try {
            return readArtifact(
              this.planner.store,
              this.planner.outputsOf(ref.stage)![output]!,
              pick,
            );
          } catch (e) {
            if (e instanceof BadBlobError) throw Object.assign(e, { producer: ref.stage });
            throw e;
          }
        };
        for (const { slot, bundle, members } of this.slotsOf(stage)) {
          const artifacts = readInput(
            members.map(({ ref, output }) => load(ref, output)),
            stage.kind.reads?.[slot]?.(stage.params),
            `${stage.kind.name}'s input \`${slot}\``,
          );
          inputs[slot] = bundle
            ? new Map(members.map(({ name }, i) => [name, artifacts[i]!]))
            : artifacts[0]!;
        }
        return inputs;
      } catch (e) {
        const producer = (e as { producer?: string }).producer;
        if (!(e instanceof BadBlobError) || !producer || rebuilt.has(producer)) throw e;
        rebuilt.add(producer);
        emit({ type: "log", stage, message: `${e.message}; recomputing \`${producer}\`` });
        const again = await this.recompute(producer, e, emit, options);
        emit({ type: "end", result: again });
        if (again.status !== "ran")
          throw new UserError(
            `its input \`${producer}\` was corrupt in the cache and could not be recomputed`,
          );
      }
    }
  }

  /**
   * Executes one stage again, its inputs read (verified) from the cache and its own record ignored,
   * and commits nothing: what `rnnp check` compares with the cached bytes.
   */
  async rebuild(
    name: string,
    onEvent: (e: RunEvent) => void = () => {},
  ): Promise<Record<string, EncodedArtifact>> {
    const stage = this.planner.stage(name);
    for (const up of this.planner.closure([name]))
      if (up.name !== name) this.planner.resolve(up.name);
    const res = this.planner.resolve(name);
    if (res.state !== "keyed")
      throw new Error(
        `\`${name}\` cannot be rebuilt: ${res.state === "waiting" ? `${res.on.join(", ")} not built` : res.diagnostics.map((d) => d.message).join("; ")}`,
      );
    const inputs = await this.inputsFor(stage, onEvent);
    const outputs = await this.executor.execute(
      this.task(stage, inputs, res.fingerprint.seed, res.fingerprint.inputs),
      this.hooks(stage, onEvent),
    );
    return Object.fromEntries(stage.outputs.map((o) => [o, encodeArtifact(outputs[o]!)]));
  }

  /**
   * A local miss that the remote cache may hold: fetch the record and its blobs, verified, and commit
   * them locally in one transaction. A poisoned blob is reported and the stage computed here instead.
   */
  private async fetchRemote(
    remote: RemoteCache,
    stage: StageIR,
    key: StageKey,
    emit: (e: RunEvent) => void,
  ): Promise<boolean> {
    const store = this.planner.store;
    try {
      const got = await remote.fetchStage(key, (d) => store.hasBlob(d), {
        output: checkOutputBytes,
        record: (r) => recordFitsStage(r, stage),
      });
      if (!got) return false;
      store.importAll([got.record], got.blobs.keys(), (d) => got.blobs.get(d)!);
      this.planner.forget(stage.name);
      return true;
    } catch (e) {
      if (!(e instanceof PoisonedBlob)) throw e;
      emit({ type: "log", stage, message: `${e.message}; computing it here` });
      return false;
    }
  }

  private commit(
    stage: StageIR,
    key: StageKey,
    fingerprint: Fingerprint,
    outputs: Record<string, Artifact>,
    durationMs: number,
    /** A checkpoint (the same stage with a smaller step count) rather than the stage's result. */
    checkpoint = false,
  ): { record: StageRecord<Fingerprint>; blobs: Map<Digest, Uint8Array> } {
    const expected = stage.outputs;
    const got = Object.keys(outputs);
    if (got.length !== expected.length || !expected.every((o) => got.includes(o))) {
      throw new Error(
        `internal: ${stage.kind.name} returned outputs (${got.join(", ")}) but declares (${expected.join(", ")})`,
      );
    }
    const blobs = new Map<Digest, Uint8Array>();
    const refs: StageRecord["outputs"] = {};
    // The stage's result is encoded for the last time here (a checkpoint's is not: training goes on
    // with its history): its lists may give back their strings as they are written, but not the
    // lists the pipeline's parameters hold (a kind may output a parameter as it is). A collection
    // costs with the whole heap: only for an output an eighth of it or more.
    const release: Release | undefined = checkpoint
      ? undefined
      : {
          lists: listsHeldOnce(
            expected.map((o) => artifactToValue(outputs[o]!)),
            [stage.params, this.planner.ir.params],
          ),
          from: Math.max(this.heap.release.from, this.heap.used() / 8),
          every: this.heap.release.every,
          collect: () => this.heap.collect(),
        };
    for (const name of expected) {
      const artifact = outputs[name]!;
      if (artifact.type !== stage.kind.outputType)
        throw new Error(
          `internal: ${stage.kind.name} returned a ${artifact.type} for ${name}, declared ${stage.kind.outputType}`,
        );
      const enc = encodeArtifact(artifact, release);
      blobs.set(enc.ref.digest, enc.bytes);
      refs[name] = enc.ref;
    }
    const inputsFrom: StageRecord["inputsFrom"] = {};
    for (const [slot, ref] of Object.entries(stage.inputs)) {
      const up = this.planner.resolve(ref.stage);
      if (up.state === "keyed") inputsFrom[slot] = { stage: ref.stage, key: up.key };
    }
    const ir = this.planner.ir;
    const record: StageRecord<Fingerprint> = {
      key,
      kind: stage.kind.name,
      outputs: refs,
      manifest: fingerprint,
      inputsFrom,
      provenance: {
        pipeline: ir.name,
        file: ir.file,
        stage: stage.name,
        createdAt: new Date().toISOString(),
        durationMs: Math.round(durationMs),
        rnnpVersion: RNNP_VERSION,
        params: ir.params,
      },
    };
    if (checkpoint) {
      this.planner.store.commit(record as StageRecord<unknown>, blobs);
      return { record, blobs };
    }
    this.planner.store.commit(record as StageRecord<unknown>, blobs, {
      pipeline: ir.name,
      stage: stage.name,
    });
    this.planner.produced(stage.name, digestsOf(record));
    this.committed.set(stage.name, record.outputs);
    return { record, blobs };
  }
}

/** A worker's refusal of a job whose key it does not compute: another rnnp or runtime, or other files. */
function refused(job: Job, mine: StageKey, planner: Planner): UserError {
  return (
    refusal(job.origin, originOf(planner.runtime)) ??
    new UserError(
      `this worker computes key ${short(mine)} for \`${job.stage}\`, the job says ${short(job.key)}: its pipeline or data files differ from the coordinator's`,
      { code: "job-refused" },
    )
  );
}

/** A record from elsewhere against the stage it would stand for: its kind, output names and types. */
function recordFitsStage(r: StageRecord<unknown>, stage: StageIR): string | undefined {
  if (r.kind !== stage.kind.name) return `it is of kind ${r.kind}, the stage of ${stage.kind.name}`;
  const names = Object.keys(r.outputs).sort();
  if (names.join() !== [...stage.outputs].sort().join())
    return `its outputs are ${names.join(", ")}; the stage's are ${stage.outputs.join(", ")}`;
  const wrong = Object.entries(r.outputs).find(([, o]) => o.type !== stage.kind.outputType);
  if (wrong)
    return `its output ${wrong[0]} is a ${wrong[1].type}; ${stage.kind.name} makes ${stage.kind.outputType}s`;
  return undefined;
}

/** Artifacts whose digests differ from the lock's: same key, other bytes (a nondeterministic stage, or another machine's numerics). */
function outputsDiffer(
  name: string,
  got: Record<string, Digest>,
  locked: Record<string, Digest>,
  which: string,
): Reason[] {
  return Object.keys({ ...got, ...locked })
    .filter((o) => got[o] !== locked[o])
    .map((o) => ({
      text: `${which} artifact \`${name}.${o}\` is ${got[o] ? short(got[o]) : "missing"}, the lockfile has ${locked[o] ? short(locked[o]) : "none"}: same inputs, other bytes`,
    }));
}

/**
 * A stage's failure as diagnostics. A UserError is the user's to act on (its code and hint say how);
 * anything else is a bug in rnnp, reported as such, with the stack when RNNP_DEBUG is set.
 */
function toDiagnostics(e: unknown, stage: StageIR, file: string): Diagnostic[] {
  if (e instanceof DiagnosticError) return e.diagnostics;
  const where = { file, span: stage.nameSpan };
  const prefix = `stage \`${stage.name}\` (${stage.kind.name}): `;
  if (e instanceof UserError) return [e.toDiagnostic(where, prefix)];
  // The system refused something (a permission, a full disk, a path that is a folder): the user's to fix.
  const sys = e as NodeJS.ErrnoException;
  if (e instanceof Error && typeof sys.code === "string" && typeof sys.syscall === "string") {
    return [
      diagnostic("stage-failed", `${prefix}${e.message}`, where, {
        hint: "the operating system refused this; check the path and its permissions",
      }),
    ];
  }
  const message = e instanceof Error ? e.message : String(e);
  const stack = process.env.RNNP_DEBUG && e instanceof Error && e.stack ? `\n${e.stack}` : "";
  return [
    diagnostic("stage-failed", `${prefix}internal error: ${message}${stack}`, where, {
      hint: "this is a bug in rnnp, not in your pipeline: please report it (RNNP_DEBUG=1 prints the stack)",
    }),
  ];
}

/**
 * Stage positions ready to start, smallest first (a binary min-heap): stages start in topological
 * order however their inputs finish.
 */
class ReadyQueue {
  private readonly heap: number[] = [];

  constructor(initial: readonly number[]) {
    for (const i of initial) this.push(i);
  }

  get size(): number {
    return this.heap.length;
  }

  push(i: number): void {
    const h = this.heap;
    let at = h.push(i) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (h[parent]! <= i) break;
      h[at] = h[parent]!;
      at = parent;
    }
    h[at] = i;
  }

  pop(): number | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (!h.length || last === undefined) return top;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= h.length) break;
      const child = left + 1 < h.length && h[left + 1]! < h[left]! ? left + 1 : left;
      if (h[child]! >= last) break;
      h[at] = h[child]!;
      at = child;
    }
    h[at] = last;
    return top;
  }
}
