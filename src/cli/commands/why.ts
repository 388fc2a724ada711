import type { Reason } from "../../plan/why.js";
import { explain } from "../../plan/why.js";
import { EXIT, openPlan, printJson, type CommonOptions } from "../context.js";
import { stdout } from "../io.js";
import { oneStage, stageAndFile } from "../stages.js";
import { lockOf } from "../statuses.js";

export async function whyCommand(
  first: string | undefined,
  second: string | undefined,
  opts: CommonOptions & { json?: boolean; stage?: string },
): Promise<number> {
  const given = stageAndFile(first, second, opts.stage, "why");
  const planner = await openPlan(given.file, opts);
  // Every upstream stage is keyed first, so explanations can compare inputs.
  const stage = oneStage(planner, given.stage, "why");
  const lock = lockOf(planner);
  const e = explain(planner, stage, 0, lock ? { lock } : {});
  if (opts.json) {
    printJson({ stage, ...e });
    return EXIT.ok;
  }
  const headline: Record<typeof e.state, string> = {
    "up-to-date": stdout().c.green("up to date"),
    changed: stdout().c.yellow("stale"),
    new: stdout().c.yellow("never run"),
    waiting: stdout().c.yellow("stale (waits on upstream)"),
    invalid: stdout().c.red("cannot be planned"),
  };
  stdout().write(`${stage}: ${headline[e.state]}\n`);
  const print = (rs: Reason[], depth: number) => {
    for (const r of rs) {
      stdout().write(`${"  ".repeat(depth)}- ${r.text}\n`);
      if (r.because) print(r.because, depth + 1);
    }
  };
  if (e.state !== "new") print(e.reasons, 1);
  if (e.resume) stdout().write(`  ${e.resume}\n`);
  return EXIT.ok;
}
