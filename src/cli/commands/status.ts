import pc from "picocolors";
import { short } from "../../core/digest.js";
import type { Planner } from "../../plan/planner.js";
import { explain, summarize, type Reason } from "../../plan/why.js";
import { didYouMean } from "../../lang/suggest.js";
import { EXIT, Exit, formatDuration, openPlan, printJson, table, type CommonOptions } from "../context.js";

export interface StageStatusRow {
  name: string;
  kind: string;
  key: string | null;
  status: "fresh" | "stale";
  durationMs: number | null;
  reason?: string;
}

/** Fresh/stale for every stage, with the reason for stale ones; nothing is executed. */
export function stageStatuses(planner: Planner): StageStatusRow[] {
  return planner.order.map((s) => {
    const res = planner.resolve(s.name);
    const key = res.state === "keyed" ? res.key : null;
    if (res.state === "keyed" && res.record) return { name: s.name, kind: s.kind.name, key, status: "fresh", durationMs: res.record.provenance.durationMs };
    return { name: s.name, kind: s.kind.name, key, status: "stale", durationMs: null, reason: summarize(explain(planner, s.name)) };
  });
}

export function statusCommand(file: string | undefined, opts: CommonOptions & { json?: boolean }): number {
  const planner = openPlan(file, opts);
  const rows = stageStatuses(planner);
  if (opts.json) {
    printJson({ pipeline: planner.ir.name, file: planner.ir.file, stages: rows });
    return EXIT.ok;
  }
  process.stdout.write(
    table(
      rows.map((r) => [
        r.status === "fresh" ? pc.green("fresh") : pc.yellow("stale"),
        r.name,
        pc.dim(r.kind),
        r.status === "fresh" ? pc.dim(`${short(r.key as never)}  ${formatDuration(r.durationMs ?? 0)}`) : r.reason ?? "",
      ]),
    ) + "\n",
  );
  const stale = rows.filter((r) => r.status === "stale").length;
  process.stdout.write(pc.dim(stale ? `${stale} of ${rows.length} stages stale\n` : `all ${rows.length} stages fresh\n`));
  return EXIT.ok;
}

export function whyCommand(stage: string, file: string | undefined, opts: CommonOptions & { json?: boolean }): number {
  const planner = openPlan(file, opts);
  const known = planner.order.map((s) => s.name);
  if (!known.includes(stage)) {
    const hint = didYouMean(stage, known);
    throw new Exit(EXIT.invalid, `no stage \`${stage}\` in ${planner.ir.file}${hint ? ` (${hint})` : ""}`);
  }
  // Key every upstream stage first, so explanations can compare inputs.
  for (const s of planner.closure([stage])) planner.resolve(s.name);
  const e = explain(planner, stage);
  if (opts.json) {
    printJson({ stage, ...e });
    return EXIT.ok;
  }
  const headline: Record<typeof e.state, string> = {
    "up-to-date": pc.green("up to date"),
    changed: pc.yellow("stale"),
    new: pc.yellow("never run"),
    waiting: pc.yellow("stale (waits on upstream)"),
    invalid: pc.red("cannot be planned"),
  };
  process.stdout.write(`${stage}: ${headline[e.state]}\n`);
  const print = (rs: Reason[], depth: number) => {
    for (const r of rs) {
      process.stdout.write(`${"  ".repeat(depth)}- ${r.text}\n`);
      if (r.because) print(r.because, depth + 1);
    }
  };
  if (e.state !== "new") print(e.reasons, 1);
  return EXIT.ok;
}
