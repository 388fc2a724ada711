import type { StageRecord } from "../../cache/record.js";
import { canonicalJson, type Json } from "../../core/canonical.js";
import type { StageKey } from "../../core/digest.js";
import type { TrainedModel } from "../../artifacts/model.js";
import { weightsEpoch } from "../../artifacts/model.js";
import { verdictLine, type Report, type Verdict } from "../../artifacts/report.js";
import type { StageIR } from "../../lang/ir.js";
import { currentSpelling, parseVariantName } from "../../lang/sweep.js";
import { lockPathOf, readLockfile } from "../../plan/lockfile.js";
import type { Planner } from "../../plan/planner.js";
import { leafDiffs } from "../../plan/why.js";
import { readArtifact } from "../../run/artifacts.js";
import { chooseBest, lowerIsBetter } from "../../evaluation/selection.js";
import { EXIT, Exit, openPlan, printJson, table, type CommonOptions } from "../context.js";
import { csvField } from "../formats.js";
import { fromCwd, stdout } from "../io.js";

/**
 * `rnnp compare`: the variants of a sweep, and the runs made by hand with `-P`, against their
 * metrics, read from the cache (nothing runs), like `dvc exp show`. One row per evaluation stage
 * (and variant, and run); unbuilt variants are listed as such. The variant to keep is chosen on
 * validation data (the trained model's validation loss at the epoch its weights are from, or
 * `--select`), never on the test metrics; its test metrics are reported.
 *
 * Runs with -P are found in the cache: records of this pipeline's evaluate stages (by the pipeline's
 * name and the stage's name, a variant's by its base name) whose run had params other than the
 * pipeline's as written (each record keeps the params of its run). `rnnp cache gc FILE` removes them,
 * with everything else the pipeline as written does not use.
 *
 * `--against lock` diffs the metrics of each evaluate stage and the params of every stage with the
 * committed lockfile instead, as `dvc metrics diff` and `dvc params diff` do.
 */
export interface CompareOptions extends CommonOptions {
  sort?: string;
  asc?: boolean;
  select?: string;
  json?: boolean;
  csv?: boolean;
  against?: "lock";
  exitCode?: boolean;
}

interface Row {
  /** The evaluate stage (a sweep variant's base name) and its full name (`report@units=32`). */
  stage: string;
  name: string;
  /** The pipeline as written, one of its sweep's variants, or a run by hand with -P. */
  source: "pipeline" | "sweep" | "run";
  variant: Record<string, Json>;
  /** A run with -P: the params it set that differ from the pipeline's. */
  params: Record<string, Json>;
  status: "built" | "not built";
  key?: StageKey;
  createdAt?: string;
  metrics: Record<string, number>;
  /** The selection metric on validation data, from the trained model's history. */
  validation?: number;
  baseline?: string;
  verdict?: Verdict;
}

export async function compareCommand(
  file: string | undefined,
  opts: CompareOptions,
): Promise<number> {
  const planner = await openPlan(file, opts);
  const reports = planner.order.filter((s) => s.kind.outputType === "report");
  if (reports.length === 0)
    throw new Exit(EXIT.invalid, `${planner.ir.file} has no evaluate stage to compare`);
  for (const s of planner.closure(reports.map((r) => r.name))) planner.resolve(s.name);
  if (opts.against !== undefined) return againstLock(planner, reports, opts);
  const select = opts.select ?? "val_loss";
  if (!select.startsWith("val_"))
    throw new Exit(
      EXIT.invalid,
      `--select ${select}: choose on validation data, with a val_ metric (val_loss, val_accuracy, val_mae...)`,
    );
  const rows = [
    ...reports.map((s) => stageRow(planner, s, select)),
    ...runsByHand(planner, reports, select),
  ];
  const swept = [...new Set(rows.flatMap((r) => Object.keys(r.variant)))];
  const set = [...new Set(rows.flatMap((r) => Object.keys(r.params)))].filter(
    (p) => !swept.includes(p),
  );
  const paramOf = (r: Row, p: string): Json | undefined =>
    Object.hasOwn(r.variant, p)
      ? r.variant[p]
      : Object.hasOwn(r.params, p)
        ? r.params[p]
        : Object.hasOwn(planner.ir.params, p)
          ? planner.ir.params[p]
          : undefined;
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  if (opts.sort !== undefined) sortRows(rows, opts, select, metrics, [...swept, ...set], paramOf);
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
              name: chosen.name,
              variant: chosen.variant,
              params: chosen.params,
              validation: chosen.validation,
              test: chosen.metrics,
              ...(chosen.verdict ? { verdict: chosen.verdict } : {}),
            },
          }
        : {}),
    });
    return EXIT.ok;
  }
  const byHand = rows.filter((r) => r.source === "run").length;
  const withValidation = rows.some((r) => r.validation !== undefined);
  const withVerdict = rows.some((r) => r.verdict);
  const head = [
    "stage",
    ...(byHand ? ["run"] : []),
    ...swept,
    ...set,
    ...(withValidation ? [select] : []),
    ...metrics,
    ...(withVerdict ? ["baseline", "skill"] : []),
  ];
  const fmt = (v: number | undefined) => (v === undefined ? "" : String(+v.toPrecision(4)));
  // CSV quotes by its own rules: a string is written as itself there, not as a JSON literal.
  const value = (v: Json | undefined) =>
    v === undefined ? "" : opts.csv && typeof v === "string" ? v : JSON.stringify(v);
  const cells = rows.map((r) => [
    r.stage,
    ...(byHand ? [r.source === "run" ? `-P ${overrides(r.params)}` : ""] : []),
    ...[...swept, ...set].map((p) => value(paramOf(r, p))),
    ...(withValidation ? [r.status === "built" ? fmt(r.validation) : "-"] : []),
    ...metrics.map((m) => (r.status === "built" ? fmt(r.metrics[m]) : "-")),
    ...(withVerdict
      ? [r.verdict ? `${r.baseline} ${fmt(r.verdict.baselineValue)}` : "", fmt(r.verdict?.margin)]
      : []),
  ]);
  if (opts.csv) {
    stdout().write([head, ...cells].map((row) => row.map(csvField).join(",")).join("\n") + "\n");
    return EXIT.ok;
  }
  const out = stdout();
  out.write(table([head.map((h) => out.c.bold(h)), ...cells]) + "\n");
  if (chosen) out.write(selectionLine(chosen, select) + "\n");
  else if (rows.filter((r) => r.status === "built").length > 1)
    out.write(
      out.c.dim(
        `no variant chosen: the trained models have no ${select} (train with validation: ...); choosing on the test metrics would select on the test set\n`,
      ),
    );
  const missing = rows.filter((r) => r.status !== "built").length;
  if (missing)
    out.write(
      out.c.dim(
        `${missing} of ${rows.length} not built yet (shown as -); run the pipeline to fill them in\n`,
      ),
    );
  if (byHand)
    out.write(
      out.c.dim(
        `${byHand} run${byHand === 1 ? "" : "s"} with -P, found in the cache; \`rnnp cache gc ${planner.ir.file}\` removes ${byHand === 1 ? "it" : "them"}\n`,
      ),
    );
  return EXIT.ok;
}

/** `lr=0.01 units=8`: a run's params as -P took them. */
function overrides(params: Record<string, Json>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : canonicalJson(v)}`)
    .join(" -P ");
}

function stageRow(planner: Planner, s: StageIR, select: string): Row {
  const res = planner.resolve(s.name);
  const base = {
    stage: s.variant?.of ?? s.name,
    name: s.name,
    source: s.variant ? ("sweep" as const) : ("pipeline" as const),
    variant: s.variant?.values ?? {},
    params: {},
  };
  if (res.state !== "keyed" || !res.record) return { ...base, status: "not built", metrics: {} };
  return { ...base, ...builtRow(planner, res.record, select) };
}

/** What a built evaluate record shows: its metrics, its model's validation metric, its verdict. */
function builtRow(planner: Planner, record: StageRecord<unknown>, select: string) {
  const report = readArtifact(planner.store, record.outputs.out!.digest) as Report;
  const validation = validationOf(planner, record, select);
  return {
    status: "built" as const,
    key: record.key,
    createdAt: record.provenance.createdAt,
    metrics: report.metrics,
    ...(validation !== undefined ? { validation } : {}),
    ...(report.verdict ? { baseline: report.verdict.baseline, verdict: report.verdict } : {}),
  };
}

/**
 * Runs made by hand with -P: records of this pipeline's evaluate stages (matched by the pipeline's
 * name and the stage's name, a variant by its base name) whose params differ from the pipeline's
 * and whose key is none of the pipeline's as written. Oldest first.
 */
function runsByHand(planner: Planner, reports: StageIR[], select: string): Row[] {
  const current = new Set<string>();
  for (const s of reports) {
    const res = planner.resolve(s.name);
    if (res.state === "keyed") current.add(res.key);
  }
  const stageOf = (name: string): { stage: string; variant: Record<string, Json> } | undefined => {
    const now = currentSpelling(name);
    const same = reports.find((s) => s.name === now);
    if (same) return { stage: same.variant?.of ?? same.name, variant: same.variant?.values ?? {} };
    const v = parseVariantName(now);
    return v && reports.some((s) => s.variant?.of === v.of)
      ? { stage: v.of, variant: Object.fromEntries(v.values) }
      : undefined;
  };
  const rows: Row[] = [];
  for (const record of planner.store.allRecords()) {
    const p = record.provenance;
    if (p.pipeline !== planner.ir.name || p.params === undefined || current.has(record.key))
      continue;
    const stage = stageOf(p.stage);
    if (!stage || !record.outputs.out) continue;
    const params = new Map<string, Json>();
    for (const [k, v] of Object.entries(p.params))
      if (
        !Object.hasOwn(stage.variant, k) &&
        canonicalJson(v) !== canonicalJson(planner.ir.params[k] ?? null)
      )
        params.set(k, v);
    if (!params.size) continue; // the pipeline as written, before an edit: history, not an experiment
    rows.push({
      ...stage,
      name: currentSpelling(p.stage),
      source: "run",
      params: Object.fromEntries(params),
      ...builtRow(planner, record, select),
    });
  }
  return rows.sort((a, b) => (a.createdAt! < b.createdAt! ? -1 : 1));
}

function sortRows(
  rows: Row[],
  opts: CompareOptions,
  select: string,
  metrics: string[],
  params: string[],
  paramOf: (r: Row, p: string) => Json | undefined,
): void {
  const by = opts.sort!;
  if (!metrics.includes(by) && !params.includes(by) && by !== select)
    throw new Exit(
      EXIT.invalid,
      `--sort ${by}: not a metric or param of the rows (${[select, ...metrics, ...params].join(", ")})`,
    );
  const value = (r: Row) => {
    const v = by === select ? r.validation : (r.metrics[by] ?? paramOf(r, by));
    return typeof v === "number" ? v : NaN;
  };
  rows.sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
    return opts.asc ? x - y : y - x;
  });
}

/**
 * The selection metric on validation data of the model an evaluate record scores: from the record
 * of its train stage (as it ran), at the epoch whose weights it holds (the restored best, else the last).
 */
function validationOf(
  planner: Planner,
  record: StageRecord<unknown>,
  select: string,
): number | undefined {
  const from = record.inputsFrom.model;
  const producer = from ? planner.store.getRecord(from.key) : undefined;
  if (producer?.kind !== "train" || !producer.outputs.out) return undefined;
  const trained = readArtifact(planner.store, producer.outputs.out.digest) as TrainedModel;
  const { epoch } = weightsEpoch(trained);
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
  const which = r.source === "run" ? `${r.name} run with -P ${overrides(r.params)}` : r.name;
  return `chosen by ${select} (validation data, ${lowerIsBetter(select) ? "lowest" : "highest"}: ${+r.validation!.toPrecision(4)}): ${which}; its test metrics: ${test}${r.verdict ? `; it ${verdictLine(r.verdict)}` : ""}`;
}

interface MetricDiff {
  stage: string;
  metric: string;
  lock: number | null;
  now: number | null;
  change: number | null;
}

interface ParamDiff {
  stage: string;
  param: string;
  lock: Json | null;
  now: Json | null;
}

/**
 * `compare --against lock`: each evaluate stage's metrics as the committed lock built them (its
 * report read from the cache by the lock's digest) beside the pipeline's now (with any -P), and every
 * stage's params that differ from the lock's, at the leaf. Exit 0 (1 with --exit-code when anything
 * differs); 2 without a lockfile.
 */
function againstLock(planner: Planner, reports: StageIR[], opts: CompareOptions): number {
  const path = lockPathOf(planner.ir.file);
  const lock = readLockfile(fromCwd(path));
  if (!lock)
    throw new Exit(
      EXIT.invalid,
      `--against lock: ${path} does not exist; \`rnnp run ${planner.ir.file}\` writes it`,
    );
  const metrics: MetricDiff[] = [];
  const notes: { stage: string; note: string }[] = [];
  const reportAt = (digest: string | undefined) =>
    digest !== undefined && planner.store.hasBlob(digest as never)
      ? (readArtifact(planner.store, digest as never) as Report)
      : undefined;
  for (const s of reports) {
    const locked = Object.hasOwn(lock.stages, s.name) ? lock.stages[s.name] : undefined;
    const res = planner.resolve(s.name);
    const before = reportAt(locked?.outputs.out);
    const after =
      res.state === "keyed" && res.record ? reportAt(res.record.outputs.out?.digest) : undefined;
    if (!locked) notes.push({ stage: s.name, note: "not in the lock (new since it was written)" });
    else if (!before)
      notes.push({
        stage: s.name,
        note: "the locked report is not in this cache (`rnnp cache pull` fetches it)",
      });
    if (!after)
      notes.push({
        stage: s.name,
        note: "not built as the pipeline is now (`rnnp run` builds it)",
      });
    const names = [
      ...new Set([...Object.keys(before?.metrics ?? {}), ...Object.keys(after?.metrics ?? {})]),
    ];
    for (const metric of names) {
      const a = before?.metrics[metric];
      const b = after?.metrics[metric];
      metrics.push({
        stage: s.name,
        metric,
        lock: a ?? null,
        now: b ?? null,
        change: a !== undefined && b !== undefined ? b - a : null,
      });
    }
  }
  const params: ParamDiff[] = [];
  for (const s of planner.order) {
    if (!Object.hasOwn(lock.stages, s.name)) continue;
    const res = planner.resolve(s.name);
    const now = res.state === "keyed" ? res.fingerprint.params : s.params;
    for (const d of leafDiffs(lock.stages[s.name]!.manifest.params, now as Json, ""))
      params.push({ stage: s.name, param: d.path, lock: d.before ?? null, now: d.after ?? null });
  }
  const gone = Object.keys(lock.stages).filter((n) => !planner.has(n));
  for (const n of gone) notes.push({ stage: n, note: "in the lock, no longer in the pipeline" });
  const differs = metrics.some((m) => m.change !== 0) || params.length > 0 || gone.length > 0;
  const code = opts.exitCode && differs ? EXIT.failed : EXIT.ok;
  if (opts.json) {
    printJson({ pipeline: planner.ir.name, lock: path, metrics, params, notes });
    return code;
  }
  const out = stdout();
  const num = (v: number | null) => (v === null ? "-" : String(+v.toPrecision(6)));
  const signed = (v: number | null) => (v === null ? "-" : v > 0 ? `+${num(v)}` : num(v));
  const json = (v: Json | null) => (v === null ? "-" : canonicalJson(v));
  out.write(
    table([
      ["stage", "metric", "lock", "now", "change"].map((h) => out.c.bold(h)),
      ...metrics.map((m) => [m.stage, m.metric, num(m.lock), num(m.now), signed(m.change)]),
    ]) + "\n",
  );
  out.write(
    params.length
      ? "\n" +
          table([
            ["stage", "param", "lock", "now"].map((h) => out.c.bold(h)),
            ...params.map((p) => [p.stage, p.param, json(p.lock), json(p.now)]),
          ]) +
          "\n"
      : out.c.dim("\nno param differs from the lock\n"),
  );
  for (const n of notes) out.write(out.c.dim(`${n.stage}: ${n.note}\n`));
  return code;
}
