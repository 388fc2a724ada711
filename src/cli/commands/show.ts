import { stdout } from "../io.js";
import { short } from "../../core/digest.js";
import { describeArtifact } from "../../artifacts/index.js";
import { readArtifact } from "../../run/artifacts.js";
import { EXIT, formatBytes, openPlan, printJson, type CommonOptions } from "../context.js";
import { preview } from "../preview.js";
import { builtStage } from "../stages.js";

/** A built stage's outputs: their summaries and a preview of each (rows, tokens, history, metrics...). */
export function showCommand(
  name: string,
  file: string | undefined,
  opts: CommonOptions & { rows?: number; json?: boolean },
): number {
  const planner = openPlan(file, opts);
  const res = builtStage(planner, name, "show");
  const stage = res.stage;
  if (opts.json) {
    // For scripts (`jq .outputs.out.report.metrics`): references to every output, and reports whole.
    const outputs = Object.fromEntries(
      Object.entries(res.record.outputs).map(([name, out]) => [
        name,
        {
          ...out,
          ...(out.type === "report" ? { report: readArtifact(planner.store, out.digest) } : {}),
        },
      ]),
    );
    printJson({
      stage,
      kind: res.record.kind,
      key: res.key,
      createdAt: res.record.provenance.createdAt,
      outputs,
    });
    return EXIT.ok;
  }
  const n = opts.rows ?? 10;
  stdout().write(
    `${stdout().c.bold(stage)} (${res.record.kind}) ${stdout().c.dim(`key ${short(res.key)}, made ${res.record.provenance.createdAt}`)}\n`,
  );
  for (const [name, out] of Object.entries(res.record.outputs)) {
    // The summary is made again from the artifact (records keep the one made when it was built).
    const artifact = readArtifact(planner.store, out.digest);
    stdout().write(
      `\n${stdout().c.bold(name)}  ${stdout().c.dim(`${short(out.digest)}, ${formatBytes(out.size)}`)}\n  ${describeArtifact(artifact)}\n`,
    );
    stdout().write(preview(artifact, n) + "\n");
  }
  return EXIT.ok;
}
