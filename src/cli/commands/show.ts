import { stdout } from "../io.js";
import { short } from "../../core/digest.js";
import { describeArtifact } from "../../artifacts/index.js";
import { lossCurves } from "../../report/terminal.js";
import { readArtifact } from "../../run/artifacts.js";
import { EXIT, formatBytes, openPlan, printJson, type CommonOptions } from "../context.js";
import type { Planner } from "../../plan/planner.js";
import { preview } from "../preview.js";
import { builtStage } from "../stages.js";
import {
  weightsEpoch,
  type ModelSpec,
  type TrainedModel,
  trainingRecord,
} from "../../artifacts/model.js";
import type { AnyLayerCall, Shape } from "../../numerics/layers/layer.js";
import { walk } from "../../numerics/layers/sequential.js";
import { formatSummary, summarise } from "../../numerics/layers/summary.js";

/** A built stage's outputs: their summaries and a preview of each (rows, tokens, history, metrics...). */
export async function showCommand(
  name: string,
  file: string | undefined,
  opts: CommonOptions & { rows?: number; json?: boolean },
): Promise<number> {
  const planner = await openPlan(file, opts);
  const res = builtStage(planner, name, "show");
  const stage = res.stage;
  if (opts.json) {
    // For scripts (`jq .outputs.out.report.metrics`): references to every output, reports whole,
    // and a trained model's training record (history with its gradient flow, best epoch; not weights).
    const outputs = Object.fromEntries(
      Object.entries(res.record.outputs).map(([name, out]) => [
        name,
        {
          ...out,
          ...(out.type === "report" || out.type === "shift"
            ? { report: readArtifact(planner.store, out.digest) }
            : {}),
          ...(out.type === "trained"
            ? { training: trainingRecord(readArtifact(planner.store, out.digest) as TrainedModel) }
            : {}),
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
    const summary = artifact.type === "model" ? modelSummary(planner, stage, artifact) : undefined;
    stdout().write((summary ?? preview(artifact, n)) + "\n");
    if (artifact.type === "trained") {
      const { epoch, restored } = weightsEpoch(artifact);
      const chart = lossCurves(artifact.history, {
        colors: stdout().c.isColorSupported,
        columns: stdout().stream.columns,
        bestEpoch: restored ? epoch?.epoch : undefined,
      });
      if (chart) stdout().write(`\n${chart}\n`);
    }
  }
  return EXIT.ok;
}

/**
 * A Keras-style summary of a built model (layer name as trained, type, output shape, parameters),
 * from its layers' declarations and the built model's input; undefined for a kind without a
 * `layers` block (seq2seq's preview says what it has).
 */
function modelSummary(planner: Planner, stage: string, m: ModelSpec): string | undefined {
  const layers = (planner.stage(stage).params as { layers?: AnyLayerCall[] }).layers;
  if (!Array.isArray(layers)) return undefined;
  const ids = m.input.dtype === "int32";
  const vocabulary = m.weightSpecs.find((w) => w.name.endsWith("/embeddings"))?.shape[0];
  const input: Shape = {
    rank: ids ? 2 : 3,
    ids,
    ...(m.input.shape[1] ? { steps: m.input.shape[1] } : {}),
    ...(!ids && m.input.shape[2] ? { last: m.input.shape[2] } : {}),
    ...(vocabulary !== undefined ? { vocabulary } : {}),
  };
  const { steps, complete } = walk(layers, input);
  if (!complete) return undefined;
  return formatSummary(summarise(steps))
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
