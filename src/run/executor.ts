import seedrandom from "seedrandom";
import type { PipelineIR, StageIR } from "../lang/ir.js";
import type { Artifact } from "../stages/artifacts/index.js";
import type { StageContext } from "../stages/kind.js";
import { resolveDataPath } from "../stages/paths.js";

/**
 * Where a stage's computation happens. The runner decides what runs and commits results; an
 * executor only turns inputs into outputs. The local executor runs stages in this process; a
 * distributed one (a queue of workers sharing a remote cache) implements the same interface.
 */
export interface StageTask {
  pipeline: PipelineIR;
  stage: StageIR;
  seed?: number;
  /** Slot -> artifact, or slot -> (output name -> artifact) for bundle inputs. */
  inputs: Record<string, Artifact | ReadonlyMap<string, Artifact>>;
}

export interface TaskHooks {
  progress(done: number, total: number, unit?: string): void;
  log(message: string): void;
  signal: AbortSignal;
}

export interface Executor {
  execute(task: StageTask, hooks: TaskHooks): Promise<Record<string, Artifact>>;
}

export class LocalExecutor implements Executor {
  async execute(task: StageTask, hooks: TaskHooks): Promise<Record<string, Artifact>> {
    const seed = task.seed;
    const ctx: StageContext = {
      get seed(): number {
        if (seed === undefined) throw new Error(`${task.stage.kind.name} is not declared random, so it has no seed`);
        return seed;
      },
      rng: (purpose) => {
        if (seed === undefined) throw new Error(`${task.stage.kind.name} is not declared random, so it may not draw random numbers`);
        return seedrandom(`${seed}:${purpose}`);
      },
      resolvePath: (p) => resolveDataPath(p, task.pipeline.dir),
      progress: hooks.progress,
      log: hooks.log,
      signal: hooks.signal,
    };
    return task.stage.kind.run(ctx, task.inputs, task.stage.params);
  }
}
