import { spawn } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../../core/diagnostic.js";
import { RNNP_VERSION } from "../../core/version.js";
import { formatBytes } from "../../core/units.js";
import { collectReport, type Known } from "../../report/collect.js";
import type { Planner } from "../../plan/planner.js";
import { dagDot, dagSvg } from "../../report/dag.js";
import { renderHtml } from "../../report/html.js";
import { addSamples } from "../../report/predictions.js";
import { remoteFor, type RemoteFlags } from "../config.js";
import { fromCwd, io, stderr, stdout } from "../io.js";
import { EXIT, openPlan, type CommonOptions } from "../context.js";
import { stageStatuses } from "../statuses.js";

export interface ReportOptions extends CommonOptions, RemoteFlags {
  output?: string;
  open?: boolean;
  /** Skip re-running models for forecasts and decoded samples (they load the numeric backend). */
  samples?: boolean;
}

/**
 * `rnnp report`: one self-contained HTML file of the pipeline as the cache knows it (the DAG with
 * each stage's state and details, training curves, evaluations against their baselines, sweeps and
 * data), like Nextflow's `-with-report` or `dvc plots`. Nothing runs but the models' predictions on
 * their cached test data, for the forecast and decoded-sample views.
 */
export async function reportCommand(
  file: string | undefined,
  opts: ReportOptions,
): Promise<number> {
  const planner = await openPlan(file, opts);
  const statuses = await stageStatuses(planner, remoteFor(opts, warn));
  const remoteFresh = new Set(statuses.filter((r) => r.where === "remote").map((r) => r.name));
  await writeReport(planner, opts, { remoteFresh });
  return EXIT.ok;
}

const warn = (m: string) => stderr().write(stderr().c.yellow(`warning: ${m}\n`));

/** Makes the report of a plan and writes it (also `rnnp run --report`, with the run's outcomes). */
export async function writeReport(
  planner: Planner,
  opts: ReportOptions,
  known: Known,
): Promise<void> {
  const data = collectReport(planner, known, { at: new Date().toISOString(), rnnp: RNNP_VERSION });
  if (opts.samples !== false) await addSamples(planner, data, warn);
  const svg = await dagSvg(dagDot(data.pipeline, data.stages, data.edges));
  const html = renderHtml(data, svg);
  const shown = opts.output ?? "report.html";
  const out = fromCwd(shown);
  // Written whole or not at all: a browser never opens half a report.
  const partial = `${out}.${process.pid}.partial`;
  try {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(partial, html);
    renameSync(partial, out);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new UserError(`cannot write the report to ${out}: ${(e as Error).message}`, {
      hint: "choose another path with -o",
    });
  }
  const built = data.stages.filter((s) => s.outputs.length > 0).length;
  stdout().write(
    `wrote ${shown} (${formatBytes(Buffer.byteLength(html))}): ${data.stages.length} stages, ${built} built; ${data.train.length} trained, ${data.evaluate.length} evaluated\n`,
  );
  if (built < data.stages.length)
    stdout().write(
      stdout().c.dim(
        `${data.stages.length - built} stages are not built here: run \`rnnp run ${planner.ir.file}\` to fill in their charts\n`,
      ),
    );
  if (opts.open) openInBrowser(out, warn);
}

/** The desktop's way to open a file (`open`, `xdg-open`, `start`); a warning where there is none. */
function openInBrowser(path: string, warn: (m: string) => void): void {
  const [cmd, ...args] =
    process.platform === "darwin"
      ? ["open", path]
      : process.platform === "win32"
        ? ["cmd", "/c", "start", "", path]
        : ["xdg-open", path];
  const child = spawn(cmd!, args, { stdio: "ignore", detached: true, env: { ...io().env } });
  child.on("error", (e) =>
    warn(`cannot open ${path} (${cmd}: ${e.message}); open it in a browser`),
  );
  child.unref();
}
