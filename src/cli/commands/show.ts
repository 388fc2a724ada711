import pc from "picocolors";
import { short } from "../../core/digest.js";
import { readArtifact } from "../../run/artifacts.js";
import { rowCount } from "../../stages/artifacts/table.js";
import type { Artifact } from "../../stages/artifacts/index.js";
import { EXIT, Exit, formatBytes, openPlan, table, type CommonOptions } from "../context.js";
import { checkNames } from "./run.js";

/** A cached stage's outputs: their summaries and, for tables, the first rows. */
export function showCommand(stage: string, file: string | undefined, opts: CommonOptions & { rows?: string }): number {
  const planner = openPlan(file, opts);
  checkNames(planner, [stage], "show");
  for (const s of planner.closure([stage])) planner.resolve(s.name);
  const res = planner.resolve(stage);
  if (res.state !== "keyed" || !res.record) throw new Exit(EXIT.failed, `\`${stage}\` is not built; run \`rnnp run ${planner.ir.file} --stage ${stage}\` first`);
  const n = Number(opts.rows ?? 10);
  process.stdout.write(`${pc.bold(stage)} (${res.record.kind}) ${pc.dim(`key ${short(res.key)}, made ${res.record.provenance.createdAt}`)}\n`);
  for (const [name, out] of Object.entries(res.record.outputs)) {
    process.stdout.write(`\n${pc.bold(name)}  ${pc.dim(`${short(out.digest)}, ${formatBytes(out.size)}`)}\n  ${out.summary}\n`);
    const a = readArtifact(planner.store, out.digest);
    process.stdout.write(preview(a, n) + "\n");
  }
  return EXIT.ok;
}

function preview(a: Artifact, n: number): string {
  const rows = Math.min(n, rowCount(a));
  const cell = (v: string | number) => {
    const s = typeof v === "number" ? (Number.isNaN(v) ? "NaN" : String(+v.toPrecision(6))) : JSON.stringify(v);
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  };
  const body = [a.columns.map((c) => pc.bold(c.name))];
  for (let i = 0; i < rows; i++) body.push(a.columns.map((c) => cell(c.values[i]!)));
  const more = rowCount(a) > rows ? pc.dim(`\n  ... ${rowCount(a) - rows} more rows`) : "";
  return table(body).split("\n").map((l) => `  ${l}`).join("\n") + more;
}
