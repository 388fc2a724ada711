import type { Artifact } from "../artifacts/index.js";
import type { CacheStore } from "../cache/store.js";
import type { StageKey } from "../core/digest.js";
import { checkpointOf, keeps, latestCheckpoint, type Retention } from "../plan/checkpoints.js";
import type { Fingerprint } from "../plan/fingerprint.js";
import type { AnyKind } from "../stages/kind.js";
import { readArtifact } from "./artifacts.js";
import type { TaskHooks } from "./executor.js";

/**
 * One run of a resumable stage and its checkpoints (the records of the same stage stopped earlier,
 * src/plan/checkpoints.ts): where it resumes, and which checkpoints it leaves. The retention policy
 * keeps every k-th step and the last completed one (so a killed run loses at most one step): each new
 * checkpoint replaces the previous one unless that one is a k-th; the run's own record replaces the
 * last when it finishes.
 */
export class Checkpoints {
  /** The step the run continues from, when it does. */
  resumedFrom?: number;
  /** The rolling checkpoint (not a k-th): removed when a later one, or the result, lands. */
  private rolling: StageKey | undefined;

  constructor(
    private readonly o: {
      store: CacheStore;
      kind: AnyKind;
      fingerprint: Fingerprint;
      retention: Retention;
      /** False for a forced rerun: it starts over. */
      resume: boolean;
      commit(fp: Fingerprint, key: StageKey, outputs: Record<string, Artifact>): void;
      log(message: string): void;
    },
  ) {}

  private get param(): string {
    return this.o.kind.resumable!.param;
  }

  private get total(): number {
    return this.o.fingerprint.params[this.param] as number;
  }

  /** The hooks a stage's context is given: the checkpoint to start from, and where to leave them. */
  hooks(): Pick<TaskHooks, "resume" | "checkpoint"> {
    const resume = this.o.resume ? this.latest() : undefined;
    return {
      ...(resume ? { resume } : {}),
      checkpoint: (step, outputs) => this.save(step, outputs),
    };
  }

  private latest(): TaskHooks["resume"] {
    const { store, kind, fingerprint } = this.o;
    const found = latestCheckpoint(kind, fingerprint, (key) => store.getRecord(key) !== undefined);
    if (!found) return undefined;
    const record = store.getRecord(found.key)!;
    try {
      const outputs = Object.fromEntries(
        Object.entries(record.outputs).map(([name, o]) => [name, readArtifact(store, o.digest)]),
      );
      this.resumedFrom = found.step;
      return { step: found.step, outputs };
    } catch (e) {
      // A checkpoint that does not read back is not trusted: drop it and start over.
      this.o.log(
        `the checkpoint at ${this.param} ${found.step} does not read back (${String(e)}); starting over`,
      );
      store.remove([found.key], []);
      return undefined;
    }
  }

  private save(step: number, outputs: Record<string, Artifact>): void {
    if (step >= this.total || step < 1) return;
    const kept = keeps(this.o.retention, step, this.total);
    if (!kept && !this.o.retention.last) return;
    const { fingerprint, key } = checkpointOf(this.o.fingerprint, this.param, step);
    this.o.commit(fingerprint, key, outputs);
    this.dropRolling();
    if (!kept) this.rolling = key;
  }

  /** The run's result is committed: the last rolling checkpoint is no longer needed. */
  finish(): void {
    this.dropRolling();
  }

  private dropRolling(): void {
    if (!this.rolling) return;
    const record = this.o.store.readRecord(this.rolling);
    this.o.store.remove(
      [this.rolling],
      record ? Object.values(record.outputs).map((o) => o.digest) : [],
    );
    this.rolling = undefined;
  }
}
