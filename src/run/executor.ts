import seedrandom from "seedrandom";
import type { Diagnostic } from "../core/diagnostic.js";
import type { PipelineIR, StageIR } from "../lang/ir.js";
import type { Artifact } from "../artifacts/index.js";
import type { StageContext } from "../stages/kind.js";
import type { Runtime } from "../runtime/descriptor.js";
import { loadTf } from "../numerics/tf.js";
import { resolveDataPath } from "../project/paths.js";

/**
 * Where a stage's computation happens. The runner decides what runs and commits results; an
 * executor only turns inputs into outputs. The local executor runs stages in this process; a
 * distributed one (a queue of workers sharing a remote cache) implements the same interface.
 */
export interface StageTask {
  pipeline: PipelineIR;
  stage: StageIR;
  seed?: number;
  /** The numeric runtime of the run; absent when it cannot run here (then `ctx.tf()` says why). */
  runtime?: Runtime;
  runtimeError?: string;
  /** Slot -> artifact, or slot -> (output name -> artifact) for bundle inputs. */
  inputs: Record<string, Artifact | ReadonlyMap<string, Artifact>>;
  /** Slot -> the input's digest, as the key (and the lockfile) record it. */
  inputDigests?: Record<string, unknown>;
}

export interface TaskHooks {
  progress(done: number, total: number, unit?: string): void;
  log(message: string): void;
  signal: AbortSignal;
  /** Resumable stages: the checkpoint to continue from, and where to leave checkpoints. */
  resume?: StageContext["resume"];
  checkpoint?: StageContext["checkpoint"];
}

export interface Executor {
  execute(task: StageTask, hooks: TaskHooks): Promise<Record<string, Artifact>>;
  /** Brings a stage's outside-the-cache result (an export directory) in line with its outputs. */
  materialize(task: StageTask, outputs: Record<string, Artifact>, hooks: TaskHooks): Promise<void>;
}

export class LocalExecutor implements Executor {
  async execute(task: StageTask, hooks: TaskHooks): Promise<Record<string, Artifact>> {
    // TF.js draws shuffles and dropout masks from Math.random: while a stage runs, Math.random is a
    // generator seeded from the stage, so even code that reaches for it is reproducible.
    const original = Math.random;
    const seedMathRandom = () => seedrandom(`${task.seed ?? 0}:Math.random`, { global: true });
    seedMathRandom();
    try {
      return await task.stage.kind.run(
        context(task, hooks, seedMathRandom),
        task.inputs,
        task.stage.params,
      );
    } finally {
      Math.random = original;
    }
  }

  async materialize(
    task: StageTask,
    outputs: Record<string, Artifact>,
    hooks: TaskHooks,
  ): Promise<void> {
    await task.stage.kind.materialize?.(context(task, hooks), outputs, task.stage.params);
  }
}

function context(
  task: StageTask,
  hooks: TaskHooks,
  seedMathRandom: () => void = () => {},
): StageContext {
  const { seed, stage, pipeline } = task;
  return {
    get seed(): number {
      if (seed === undefined)
        throw new Error(`${stage.kind.name} is not declared random, so it has no seed`);
      return seed;
    },
    rng: (purpose) => {
      if (seed === undefined)
        throw new Error(
          `${stage.kind.name} is not declared random, so it may not draw random numbers`,
        );
      return seedrandom(`${seed}:${purpose}`);
    },
    resolvePath: (p) => resolveDataPath(p, pipeline.dir),
    inputDigest: (slot) => {
      const d = task.inputDigests?.[slot];
      return typeof d === "string" ? d : undefined;
    },
    progress: hooks.progress,
    log: hooks.log,
    signal: hooks.signal,
    ...(hooks.resume ? { resume: hooks.resume } : {}),
    ...(hooks.checkpoint ? { checkpoint: hooks.checkpoint } : {}),
    runtime: task.runtime,
    tf: async () => {
      if (!task.runtime) throw new Error(task.runtimeError ?? "no numeric backend is available");
      const tf = await loadTf(task.runtime);
      // Loading TF.js draws from Math.random the first time only: restart the stage's stream after it,
      // so dropout masks do not depend on whether an earlier stage in this process loaded TF.js.
      seedMathRandom();
      return tf;
    },
    problem: (param, message, hint): Diagnostic => ({
      code: "stage-failed",
      severity: "error",
      message: `stage \`${stage.name}\` (${stage.kind.name}): ${message}`,
      file: pipeline.file,
      span: (param !== undefined && stage.paramSpans[param]) || stage.nameSpan,
      ...(hint ? { hint } : {}),
    }),
  };
}
