import { short } from "../core/digest.js";
import type { Planner } from "../plan/planner.js";
import { explain, type Reason, summarize } from "../plan/why.js";
import type { RunEvent, StageResult } from "../run/runner.js";
import { stderr, stdout, verbosity } from "./io.js";
import { formatDuration, printDiagnostics } from "./print.js";
import { Live } from "./progress.js";

/**
 * What `rnnp run` shows while it runs, from the runner's events: a line per finished stage on
 * stdout, progress and stage logs on stderr (see Live), by the global verbosity:
 * - quiet: nothing per stage; errors, verdicts and the summary line only;
 * - normal: a line per stage (status, and time for what executed);
 * - verbose: also each stage's key, its time even when cached, where a cached result came from,
 *   and why a stage executes (the cache decision), before it does.
 * Colours are each stream's own: nothing written to stdout is coloured by stderr's decision.
 */
export class RunView {
  readonly live: Live;
  private readonly finished = new Map<string, StageResult["status"]>();
  private readonly width: number;
  private readonly kindWidth: number;
  /**
   * Stage lines not written yet: a cached run ends thousands of stages at once, and a write per line
   * costs more than the lines. Written before anything else is (on either stream) and at the end.
   */
  private pending = "";
  /** The status marks, in stdout's colours. */
  private readonly marks: Record<StageResult["status"], string>;
  /** Each kind's column, padded and dimmed once: a cached run of 10,000 stages has a few kinds. */
  private readonly kindColumns = new Map<string, string>();

  constructor(
    private readonly planner: Planner,
    private readonly how: {
      /** --json: stdout is the report, so no stage lines. */
      json: boolean;
      /** Several stages may execute at once. */
      concurrent: boolean;
      /** In a job's own process: log lines without the stage prefix (the coordinator adds it). */
      job: boolean;
      /** Stages run even though cached. */
      forced: (stage: string) => boolean;
      /** Called after each stage's line (evaluate verdicts). */
      after?: (r: StageResult) => void;
    },
  ) {
    this.live = new Live({ concurrent: how.concurrent, prefix: !how.job });
    this.width = Math.max(...planner.order.map((s) => s.name.length));
    this.kindWidth = Math.max(...planner.order.map((s) => s.kind.name.length));
    const c = stdout().c;
    this.marks = {
      cached: c.green("✔"),
      ran: c.cyan("●"),
      failed: c.red("✖"),
      skipped: c.dim("○"),
    };
  }

  /** Writes the stage lines held back. */
  flush(): void {
    if (!this.pending) return;
    stdout().write(this.pending);
    this.pending = "";
  }

  event(e: RunEvent): void {
    if (e.type !== "end") this.flush();
    if (e.type === "start") this.started(e.stage.name);
    else if (e.type === "progress") this.live.progress(e.stage.name, e.done, e.total, e.unit);
    else if (e.type === "log") this.live.log(e.stage.name, e.message);
    else this.ended(e.result);
  }

  private started(stage: string): void {
    this.live.start(stage);
    if (verbosity() !== "verbose") return;
    const res = this.planner.resolve(stage);
    const key = res.state === "keyed" ? `key ${short(res.key)}; ` : "";
    const why =
      res.state === "keyed" && res.record && this.how.forced(stage)
        ? "forced"
        : summarize(explain(this.planner, stage));
    this.live.log(stage, `executes (${key}${why})`);
  }

  private ended(r: StageResult): void {
    this.live.end(r.name);
    this.finished.set(r.name, r.status);
    const level = verbosity();
    if (!this.how.json && level !== "quiet") {
      this.pending += `${this.line(r, level)}\n`;
      if (this.pending.length > 1 << 16) this.flush();
    }
    this.how.after?.(r);
    if (r.diagnostics || r.workerOutput || r.frozen || r.nondeterministic) this.flush();
    const err = stderr();
    if (r.diagnostics) printDiagnostics(r.diagnostics);
    if (r.workerOutput) err.write(r.workerOutput);
    if (r.frozen) err.write(`${err.c.red("error[frozen]")}: ${renderReasons(r.frozen)}`);
    if (r.nondeterministic)
      err.write(
        err.c.yellow(
          `warning: \`${r.name}\` was forced and produced different bytes for ${r.nondeterministic.join(", ")} than its cached run: it is not deterministic\n`,
        ),
      );
  }

  /** `● fit  train  ran      1.20 s`, in stdout's colours. */
  private line(r: StageResult, level: "normal" | "verbose"): string {
    const c = stdout().c;
    const mark = this.marks[r.status];
    const notes: string[] = [];
    if (level === "verbose" && r.key) notes.push(short(r.key));
    if (r.status === "skipped")
      notes.push(
        `(not run: ${r.skippedBecause!.map((n) => `${n} ${this.finished.get(n) === "failed" ? "failed" : "did not run"}`).join(", ")})`,
      );
    else if (r.status === "ran" || r.status === "failed" || level === "verbose")
      notes.push(
        `${formatDuration(r.durationMs)}${r.resumedFrom !== undefined ? ` (resumed from epoch ${r.resumedFrom})` : ""}`,
      );
    if (r.status === "cached" && (r.source === "remote" || level === "verbose"))
      notes.push(r.source === "remote" ? "(remote)" : "(local)");
    let kind = this.kindColumns.get(r.kind);
    if (kind === undefined) {
      kind = c.dim(r.kind.padEnd(this.kindWidth));
      this.kindColumns.set(r.kind, kind);
    }
    return `${mark} ${r.name.padEnd(this.width)}  ${kind}  ${r.status.padEnd(7)}  ${notes.length ? c.dim(notes.join("  ")) : ""}`.trimEnd();
  }

  /** `9 stages: 3 ran, 6 cached in 1.20 s`, shown at every verbosity (not with --json). */
  summary(results: readonly StageResult[], elapsedMs: number): void {
    this.flush();
    const counts = statusCounts(results);
    const parts = (["ran", "cached", "failed", "skipped"] as const)
      .filter((s) => counts[s])
      .map((s) => `${counts[s]} ${s}`);
    stdout().write(
      stdout().c.dim(
        `${results.length} stage${results.length === 1 ? "" : "s"}: ${parts.join(", ")} in ${formatDuration(elapsedMs)}`,
      ) + "\n",
    );
  }
}

/** How many results have each status, in one pass. */
export function statusCounts(
  results: readonly StageResult[],
): Record<StageResult["status"], number> {
  const counts = { ran: 0, cached: 0, failed: 0, skipped: 0 };
  for (const r of results) counts[r.status]++;
  return counts;
}

/** Reasons as lines, each cause indented below what it caused. */
export function flatten(rs: readonly Reason[], depth = 0): string[] {
  return rs.flatMap((r) => [
    `${"  ".repeat(depth)}${r.text}`,
    ...flatten(r.because ?? [], depth + 1),
  ]);
}

/** A frozen violation, its causes indented below it. */
export function renderReasons(rs: readonly Reason[]): string {
  const [first, ...rest] = flatten(rs);
  return `${first}\n${rest.map((l) => `  ${l}\n`).join("")}`;
}
