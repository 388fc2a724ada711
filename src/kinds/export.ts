import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import type { FileSet } from "../artifacts/files.js";
import { concatWeights } from "../numerics/weights.js";

export const exportModel = defineKind({
  name: "export",
  version: 1,
  doc: "Writes a trained model in TF.js layers format (model.json + weights.bin) to a directory, loadable with tf.loadLayersModel in Node.js and the browser, plus rnnp.json describing its inputs and outputs. The directory is rewritten from the cache whenever it differs.",
  params: { dir: p.string("Directory to write, relative to the pipeline.") },
  inputs: { model: { type: "trained", doc: "The trained model to export." } },
  outputs: ["out"],
  outputType: "files",
  random: false,
  backendDependent: false,
  run(_ctx, inputs, params): { out: FileSet } {
    const t = inputs.model;
    const modelJson = {
      format: "layers-model",
      generatedBy: "rnnp",
      convertedBy: null,
      modelTopology: t.topology,
      weightsManifest: [{ paths: ["weights.bin"], weights: t.weightSpecs }],
    };
    const text = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 1)}\n`);
    return {
      out: {
        type: "files",
        dir: params.dir,
        files: {
          "model.json": text(modelJson),
          "weights.bin": concatWeights(t.weights),
          "rnnp.json": text({
            data: t.data,
            config: t.config,
            bestEpoch: t.bestEpoch ?? null,
            history: t.history,
          }),
        },
      },
    };
  },
  materialize(ctx, outputs, params) {
    const dir = ctx.resolvePath(params.dir);
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(outputs.out!.files)) {
      const file = join(dir, name);
      if (existsSync(file) && Buffer.from(readFileSync(file)).equals(Buffer.from(bytes))) continue;
      writeFileSync(file, bytes);
    }
  },
});
