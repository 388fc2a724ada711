import { stdout } from "../io.js";
import { short } from "../../core/digest.js";
import { describeArtifact } from "../../artifacts/index.js";
import { lossCurves } from "../../report/terminal.js";
import { readArtifact } from "../../run/artifacts.js";
import { EXIT, Exit, formatBytes, openPlan, printJson, type CommonOptions } from "../context.js";
import type { Digest } from "../../core/digest.js";
import { artifactDocument, artifactRows } from "../../artifacts/rows.js";
import { ChunkedWriter, type RowFormat, writeRows } from "../formats.js";
import type { Planner } from "../../plan/planner.js";
import { preview } from "../preview.js";
import { builtStage, stageAndFile } from "../stages.js";
import {
  weightsEpoch,
  type ModelSpec,
  type TrainedModel,
  trainingRecord,
} from "../../artifacts/model.js";
import type { AnyLayerCall, Shape } from "../../numerics/layers/layer.js";
import { walk } from "../../numerics/layers/sequential.js";
import { formatSummary, summarise } from "../../numerics/layers/summary.js";

export interface ShowOptions extends CommonOptions {
  rows?: number;
  json?: boolean;
  format?: "text" | RowFormat;
  stage?: string;
}

/**
 * A built stage's outputs: their summaries and a preview of each (rows, tokens, history, metrics...);
 * or, with `--format csv|jsonl|json`, their data whole (`STAGE.OUTPUT` for one output of several).
 */
export async function showCommand(
  first: string | undefined,
  second: string | undefined,
  opts: ShowOptions,
): Promise<number> {
  const { stage: name, file } = stageAndFile(first, second, opts.stage, "show");
  const planner = await openPlan(file, opts);
  const { stage: stageName, output } = stageAndOutput(planner, name);
  const res = builtStage(planner, stageName, "show");
  const stage = res.stage;
  if (opts.format && opts.format !== "text") {
    await writeData(planner, res.record.outputs, output, opts.format, stage);
    return EXIT.ok;
  }
  if (output !== undefined)
    throw new Exit(
      EXIT.invalid,
      `\`${name}\`: name an output with --format csv, jsonl or json; the preview shows them all (\`rnnp show ${stage}\`)`,
    );
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

/**
 * `STAGE` or `STAGE.OUTPUT` (as the language refers to `parts.train`): a name that is a stage (a
 * variant's value may hold a dot, `fit@lr=0.001`) is the stage; otherwise the part after the last dot
 * names an output of the stage before it.
 */
function stageAndOutput(planner: Planner, name: string): { stage: string; output?: string } {
  const dot = name.lastIndexOf(".");
  const isStage = (n: string) => planner.order.some((s) => s.name === n || s.variant?.of === n);
  if (isStage(name) || dot < 0 || !isStage(name.slice(0, dot))) return { stage: name };
  return { stage: name.slice(0, dot), output: name.slice(dot + 1) };
}

/** The outputs' data in a machine format, streamed: one output, or all of them keyed by name (JSON). */
async function writeData(
  planner: Planner,
  outputs: Record<string, { digest: Digest }>,
  output: string | undefined,
  format: RowFormat,
  stage: string,
): Promise<void> {
  const names = Object.keys(outputs);
  if (output !== undefined && !names.includes(output))
    throw new Exit(
      EXIT.invalid,
      `\`${stage}\` has no output \`${output}\` (it has ${names.join(", ")})`,
    );
  const chosen = output !== undefined ? [output] : names;
  if (chosen.length > 1 && format !== "json")
    throw new Exit(
      EXIT.invalid,
      `\`${stage}\` has ${chosen.length} outputs (${names.join(", ")}): name one, e.g. \`rnnp show ${stage}.${names[0]} --format ${format}\`, or use --format json for all`,
    );
  const out = new ChunkedWriter(stdout().stream);
  const nested = chosen.length > 1;
  if (nested) await out.write("{");
  for (const [i, name] of chosen.entries()) {
    const artifact = readArtifact(planner.store, outputs[name]!.digest);
    if (nested) await out.write(`${i ? "," : ""}\n  ${JSON.stringify(name)}: `);
    const document = format === "json" ? artifactDocument(artifact) : undefined;
    const rows = document === undefined ? artifactRows(artifact) : undefined;
    if (document !== undefined)
      await out.write(JSON.stringify(document, null, 2).replace(/\n/g, nested ? "\n  " : "\n"));
    else if (rows) await writeRows(out, format, rows, nested ? "  " : "");
    else
      throw new Exit(
        EXIT.invalid,
        `${stage}.${name} is a ${artifact.type}, which has no rows: use --format json for its description`,
      );
    if (!nested && (document !== undefined || format === "json")) await out.write("\n");
  }
  if (nested) await out.write("\n}\n");
  await out.flush();
}
