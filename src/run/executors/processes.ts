import type { StageKey } from "../../core/digest.js";
import type { Job, JobContext, JobExecutor } from "../jobs.js";
import type { StageResult } from "../runner.js";

/** A finished child rnnp process: its exit code and what it printed. */
export interface ChildOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The arguments that make an rnnp process run one job: `run FILE --job JSON --json --no-lock`, the
 * same command for a worker process here, a BullMQ worker's child and a Slurm batch job.
 */
export function jobArgs(file: string, job: Job, extra: readonly string[] = []): string[] {
  return ["run", file, "--job", JSON.stringify(job), "--json", "--no-lock", ...extra];
}

/** What a job's process reported about its stage, or a failure carrying all it printed. */
export function resultOfChild(job: Job, child: ChildOutput): StageResult {
  try {
    const mine = (
      JSON.parse(child.stdout) as {
        stages: {
          name: string;
          kind: string;
          key: StageKey | null;
          status: StageResult["status"];
          durationMs: number;
          resumedFrom?: number;
        }[];
      }
    ).stages.find((s) => s.name === job.stage);
    if (!mine) throw new Error("no report of the stage");
    return {
      name: job.stage,
      kind: mine.kind,
      ...(mine.key ? { key: mine.key } : {}),
      status: mine.status,
      durationMs: mine.durationMs,
      ...(mine.resumedFrom !== undefined ? { resumedFrom: mine.resumedFrom } : {}),
      ...(mine.status === "failed" ? { workerOutput: child.stderr } : {}),
    };
  } catch {
    return {
      name: job.stage,
      kind: "?",
      status: "failed",
      durationMs: 0,
      workerOutput:
        child.stderr ||
        child.stdout ||
        `the worker process exited with code ${child.code} and printed nothing\n`,
    };
  }
}

/**
 * The local executor with `--jobs N`: each job in its own rnnp process on this machine (its own
 * TF.js, its own Math.random), committing to the same cache, up to N at once. What a job's process
 * writes to stderr (its logs, progress lines, diagnostics) is passed on line by line as it comes,
 * as the stage's log, so the coordinator shows every worker's lines live, prefixed by the stage.
 */
export class ProcessExecutor implements JobExecutor {
  readonly name = "local";
  constructor(
    readonly slots: number,
    private readonly file: string,
    private readonly spawn: (
      args: string[],
      onStderrLine: (line: string) => void,
    ) => Promise<ChildOutput>,
    private readonly extra: readonly string[],
  ) {}

  async run(job: Job, ctx: JobContext): Promise<StageResult> {
    let shown = false;
    const child = await this.spawn(jobArgs(this.file, job, this.extra), (line) => {
      if (!line.trim()) return;
      shown = true;
      ctx.log(line);
    });
    const result = resultOfChild(job, child);
    // Its stderr was shown line by line already: not again as the failure's output.
    if (shown && result.workerOutput === child.stderr) delete result.workerOutput;
    return result;
  }
}
