import { stdout } from "../io.js";
import type { Report } from "../../artifacts/report.js";
import { readArtifact } from "../../run/artifacts.js";
import { EXIT, Exit, openPlan, printJson, table, type CommonOptions } from "../context.js";

/**
 * `rnnp compare`: the variants of a sweep against their metrics, read from the cache (nothing runs),
 * like `dvc exp show`. One row per evaluation stage (and variant); unbuilt variants are listed as such.
 */
export interface CompareOptions extends CommonOptions {
  sort?: string;
  asc?: boolean;
  json?: boolean;
  csv?: boolean;
}

interface Row {
  stage: string;
  variant: Record<string, unknown>;
  status: "built" | "not built";
  metrics: Record<string, number>;
}

export function compareCommand(file: string | undefined, opts: CompareOptions): number {
  const planner = openPlan(file, opts);
  const reports = planner.order.filter((s) => s.kind.outputType === "report");
  if (reports.length === 0)
    throw new Exit(EXIT.invalid, `${planner.ir.file} has no evaluate stage to compare`);
  for (const s of planner.closure(reports.map((r) => r.name))) planner.resolve(s.name);
  const rows: Row[] = reports.map((s) => {
    const res = planner.resolve(s.name);
    const base = { stage: s.variant?.of ?? s.name, variant: s.variant?.values ?? {} };
    if (res.state !== "keyed" || !res.record) return { ...base, status: "not built", metrics: {} };
    const report = readArtifact(planner.store, res.record.outputs.out!.digest) as Report;
    return { ...base, status: "built", metrics: report.metrics };
  });
  const swept = [...new Set(rows.flatMap((r) => Object.keys(r.variant)))];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  if (opts.sort !== undefined) {
    if (!metrics.includes(opts.sort) && !swept.includes(opts.sort))
      throw new Exit(
        EXIT.invalid,
        `--sort ${opts.sort}: not a metric or swept param (${[...metrics, ...swept].join(", ")})`,
      );
    const value = (r: Row) =>
      (r.metrics[opts.sort!] ?? (r.variant[opts.sort!] as number | undefined) ?? NaN) as number;
    rows.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
      return opts.asc ? x - y : y - x;
    });
  }
  if (opts.json) {
    printJson({ pipeline: planner.ir.name, sweep: planner.ir.sweep ?? {}, rows });
    return EXIT.ok;
  }
  const head = ["stage", ...swept, ...metrics];
  const cells = rows.map((r) => [
    r.stage,
    ...swept.map((p) => (p in r.variant ? JSON.stringify(r.variant[p]) : "")),
    ...metrics.map((m) =>
      r.status === "built"
        ? r.metrics[m] !== undefined
          ? String(+r.metrics[m]!.toPrecision(4))
          : ""
        : "-",
    ),
  ]);
  if (opts.csv) {
    const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    stdout().write([head, ...cells].map((row) => row.map(esc).join(",")).join("\n") + "\n");
    return EXIT.ok;
  }
  stdout().write(table([head.map((h) => stdout().c.bold(h)), ...cells]) + "\n");
  const missing = rows.filter((r) => r.status !== "built").length;
  if (missing)
    stdout().write(
      stdout().c.dim(
        `${missing} of ${rows.length} not built yet (shown as -); run the pipeline to fill them in\n`,
      ),
    );
  return EXIT.ok;
}
