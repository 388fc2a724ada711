import { mark } from "../../core/timing.js";
import { short } from "../../core/digest.js";
import { remoteFor, type RemoteFlags } from "../config.js";
import {
  EXIT,
  formatDuration,
  openPlan,
  printJson,
  table,
  type CommonOptions,
} from "../context.js";
import { stderr, stdout } from "../io.js";
import { stageStatuses } from "../statuses.js";

export async function statusCommand(
  file: string | undefined,
  opts: CommonOptions & RemoteFlags & { json?: boolean; exitCode?: boolean; quiet?: boolean },
): Promise<number> {
  const planner = await openPlan(file, opts);
  const rows = await stageStatuses(
    planner,
    remoteFor(opts, (m) => stderr().write(stderr().c.yellow(`warning: ${m}\n`)), planner.ir.dir),
  );
  mark("stages");
  const stale = rows.filter((r) => r.status === "stale").length;
  const code = (opts.exitCode || opts.quiet) && stale ? EXIT.failed : EXIT.ok;
  // -q prints nothing, but a script that asked for --json gets it (with -q's exit code).
  if (opts.quiet && !opts.json) return code;
  if (opts.json) {
    printJson({ pipeline: planner.ir.name, file: planner.ir.file, stages: rows });
    return code;
  }
  stdout().write(
    table(
      rows.map((r) => [
        r.status === "fresh"
          ? stdout().c.green(r.where === "remote" ? "fresh (remote)" : "fresh")
          : stdout().c.yellow("stale"),
        r.name,
        stdout().c.dim(r.kind),
        r.status === "fresh"
          ? stdout().c.dim(`${short(r.key as never)}  ${formatDuration(r.durationMs ?? 0)}`)
          : (r.reason ?? ""),
      ]),
    ) + "\n",
  );
  const stages = (n: number) => `${n} stage${n === 1 ? "" : "s"}`;
  stdout().write(
    stdout().c.dim(
      stale
        ? `${stale} of ${stages(rows.length)} stale\n`
        : rows.length === 1
          ? "the stage is fresh\n"
          : `all ${rows.length} stages fresh\n`,
    ),
  );
  return code;
}
