import pc from "picocolors";
import { short } from "../../core/digest.js";
import { readArtifact } from "../../run/artifacts.js";
import { EXIT, Exit, formatBytes, openPlan, type CommonOptions } from "../context.js";
import { preview } from "../preview.js";
import { checkNames } from "./run.js";

/** A built stage's outputs: their summaries and a preview of each (rows, tokens, history, metrics...). */
export function showCommand(stage: string, file: string | undefined, opts: CommonOptions & { rows?: string }): number {
  const planner = openPlan(file, opts);
  const [one, ...more] = checkNames(planner, [stage], "show");
  if (more.length) throw new Exit(EXIT.invalid, `\`${stage}\` is swept: name one of its variants (${[one, ...more].join(", ")})`);
  stage = one!;
  for (const s of planner.closure([stage])) planner.resolve(s.name);
  const res = planner.resolve(stage);
  if (res.state !== "keyed" || !res.record) throw new Exit(EXIT.failed, `\`${stage}\` is not built; run \`rnnp run ${planner.ir.file} --stage ${stage}\` first`);
  const n = Number(opts.rows ?? 10);
  process.stdout.write(`${pc.bold(stage)} (${res.record.kind}) ${pc.dim(`key ${short(res.key)}, made ${res.record.provenance.createdAt}`)}\n`);
  for (const [name, out] of Object.entries(res.record.outputs)) {
    process.stdout.write(`\n${pc.bold(name)}  ${pc.dim(`${short(out.digest)}, ${formatBytes(out.size)}`)}\n  ${out.summary}\n`);
    process.stdout.write(preview(readArtifact(planner.store, out.digest), n) + "\n");
  }
  return EXIT.ok;
}
