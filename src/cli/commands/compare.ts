import { stdout } from "../io.js";
import type { TrainedModel } from "../../artifacts/model.js";
import { verdictLine, type Report, type Verdict } from "../../artifacts/report.js";
import type { StageIR } from "../../lang/ir.js";
import type { Planner } from "../../plan/planner.js";
import { readArtifact } from "../../run/artifacts.js";
import { chooseBest, lowerIsBetter } from "../../evaluation/selection.js";
import { EXIT, Exit, openPlan, printJson, table, type CommonOptions } from "../context.js";

/**
 * `rnnp compare`: the variants of a sweep against their metrics, read from the cache (nothing runs),
 * like `dvc exp show`. One row per evaluation stage (and variant); unbuilt variants are listed as such.
 * The variant to keep is chosen on validation data (the trained model's validation loss at the epoch
 * its weights are from, or `--select`), never on the test metrics; its test metrics are reported.
 */
export interface CompareOptions extends CommonOptions {
  sort?: string;
  asc?: boolean;
  select?: string;
  json?: boolean;
  csv?: boolean;
}

interface Row {
  /** The evaluate stage (a sweep variant's base name) and its full name (`report@units=32`). */
  stage: string;
  name: string;
  variant: Record<string, unknown>;
  status: "built" | "not built";
  metrics: Record<string, number>;
  /** The selection metric on validation data, from the trained model's history. */
  validation?: number;
  baseline?: string;
  verdict?: Verdict;
}

export function compareCommand(file: string | undefined, opts: CompareOptions): number {
  const planner = openPlan(file, opts);
  const reports = planner.order.filter((s) => s.kind.outputType === "report");
  if (reports.length === 0)
    throw new Exit(EXIT.invalid, `${planner.ir.file} has no evaluate stage to compare`);
  for (const s of planner.closure(reports.map((r) => r.name))) planner.resolve(s.name);
  const select = opts.select ?? "val_loss";
  if (!select.startsWith("val_"))
    throw new Exit(
      EXIT.invalid,
      `--select ${select}: choose on validation data, with a val_ metric (val_loss, val_accuracy, val_mae...)`,
    );
  const rows: Row[] = reports.map((s) => {
    const res = planner.resolve(s.name);
    const base = {
      stage: s.variant?.of ?? s.name,
      name: s.name,
      variant: s.variant?.values ?? {},
    };
    if (res.state !== "keyed" || !res.record) return { ...base, status: "not built", metrics: {} };
    const report = readArtifact(planner.store, res.record.outputs.out!.digest) as Report;
    const validation = validationOf(planner, s, select);
    return {
      ...base,
      status: "built",
      metrics: report.metrics,
      ...(validation !== undefined ? { validation } : {}),
      ...(report.verdict ? { baseline: report.verdict.baseline, verdict: report.verdict } : {}),
    };
  });
  const swept = [...new Set(rows.flatMap((r) => Object.keys(r.variant)))];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  if (opts.sort !== undefined) {
    if (!metrics.includes(opts.sort) && !swept.includes(opts.sort) && opts.sort !== select)
      throw new Exit(
        EXIT.invalid,
        `--sort ${opts.sort}: not a metric or swept param (${[select, ...metrics, ...swept].join(", ")})`,
      );
    const value = (r: Row) =>
      (opts.sort === select
        ? r.validation
        : (r.metrics[opts.sort!] ?? (r.variant[opts.sort!] as number | undefined))) ?? NaN;
    rows.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
      return opts.asc ? x - y : y - x;
    });
  }
  const chosen = choose(rows, select);
  if (opts.json) {
    printJson({
      pipeline: planner.ir.name,
      sweep: planner.ir.sweep ?? {},
      rows,
      ...(chosen
        ? {
            selected: {
              by: select,
              stage: chosen.stage,
              variant: chosen.variant,
              validation: chosen.validation,
              test: chosen.metrics,
              ...(chosen.verdict ? { verdict: chosen.verdict } : {}),
            },
          }
        : {}),
    });
    return EXIT.ok;
  }
  const withValidation = rows.some((r) => r.validation !== undefined);
  const withVerdict = rows.some((r) => r.verdict);
  const head = [
    "stage",
    ...swept,
    ...(withValidation ? [select] : []),
    ...metrics,
    ...(withVerdict ? ["baseline", "skill"] : []),
  ];
  const fmt = (v: number | undefined) => (v === undefined ? "" : String(+v.toPrecision(4)));
  const cells = rows.map((r) => [
    r.stage,
    // CSV quotes by its own rules: a string is written as itself there, not as a JSON literal.
    ...swept.map((p) =>
      p in r.variant
        ? opts.csv && typeof r.variant[p] === "string"
          ? (r.variant[p] as string)
          : JSON.stringify(r.variant[p])
        : "",
    ),
    ...(withValidation ? [r.status === "built" ? fmt(r.validation) : "-"] : []),
    ...metrics.map((m) => (r.status === "built" ? fmt(r.metrics[m]) : "-")),
    ...(withVerdict
      ? [r.verdict ? `${r.baseline} ${fmt(r.verdict.baselineValue)}` : "", fmt(r.verdict?.margin)]
      : []),
  ]);
  if (opts.csv) {
    const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    stdout().write([head, ...cells].map((row) => row.map(esc).join(",")).join("\n") + "\n");
    return EXIT.ok;
  }
  stdout().write(table([head.map((h) => stdout().c.bold(h)), ...cells]) + "\n");
  if (chosen) stdout().write(selectionLine(chosen, select) + "\n");
  else if (rows.filter((r) => r.status === "built").length > 1)
    stdout().write(
      stdout().c.dim(
        `no variant chosen: the trained models have no ${select} (train with validation: ...); choosing on the test metrics would select on the test set\n`,
      ),
    );
  const missing = rows.filter((r) => r.status !== "built").length;
  if (missing)
    stdout().write(
      stdout().c.dim(
        `${missing} of ${rows.length} not built yet (shown as -); run the pipeline to fill them in\n`,
      ),
    );
  return EXIT.ok;
}

/**
 * The selection metric on validation data of the model an evaluate stage scores: from its train
 * stage's history, at the epoch whose weights it holds (the restored best, else the last).
 */
function validationOf(planner: Planner, s: StageIR, select: string): number | undefined {
  const producer = s.inputs.model?.stage;
  if (producer === undefined) return undefined;
  const res = planner.resolve(producer);
  if (res.state !== "keyed" || !res.record || res.record.kind !== "train") return undefined;
  const trained = readArtifact(planner.store, res.record.outputs.out!.digest) as TrainedModel;
  const restored =
    trained.bestEpoch !== undefined &&
    (trained.config as { restoreBest?: boolean } | null)?.restoreBest !== false;
  const epoch = restored
    ? trained.history.find((e) => e.epoch === trained.bestEpoch)
    : trained.history.at(-1);
  if (!epoch) return undefined;
  return select === "val_loss" ? epoch.valLoss : epoch.valMetrics?.[select.slice(4)];
}

/** The built variant with the best validation metric (ties: the first); none without validation. */
function choose(rows: Row[], select: string): Row | undefined {
  return chooseBest(rows, (r) => (r.status === "built" ? r.validation : undefined), select);
}

function selectionLine(r: Row, select: string): string {
  const test = Object.entries(r.metrics)
    .slice(0, 3)
    .map(([k, v]) => `${k} ${+v.toPrecision(4)}`)
    .join(", ");
  return `chosen by ${select} (validation data, ${lowerIsBetter(select) ? "lowest" : "highest"}: ${+r.validation!.toPrecision(4)}): ${r.name}; its test metrics: ${test}${r.verdict ? `; it ${verdictLine(r.verdict)}` : ""}`;
}
