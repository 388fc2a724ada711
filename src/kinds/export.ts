import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FileSet } from "../artifacts/files.js";
import { artifactToValue } from "../artifacts/index.js";
import type { TrainedModel } from "../artifacts/model.js";
import { encode } from "../core/codec.js";
import { digestOf } from "../core/digest.js";
import { RNNP_VERSION } from "../core/version.js";
import { OPSET } from "../numerics/onnx/opset.js";
import { concatWeights } from "../numerics/weights.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";

export const exportModel = defineKind({
  name: "export",
  // 2: the same bytes under new keys, so that records are made again with the files described in
  // sorted order: version 1's records described them in the order written, which their decoded
  // bytes do not keep, and `cache import` and remote fetches refused them.
  version: 2,
  doc: `Writes a trained model to a directory, with rnnp.json describing its inputs and outputs: in TF.js layers format (model.json + weights.bin, loadable with tf.loadLayersModel in Node.js and the browser), or as ONNX (opset ${OPSET}: model.onnx; a seq2seq model as encoder.onnx and a decoder step, decoder.onnx), whose metadata carries the vocabulary or feature scaling, padding side, maximum length, classes and the trained model's digest as the lockfile records it. The directory is rewritten from the cache whenever it differs.`,
  params: {
    dir: p.string("Directory to write, relative to the pipeline."),
    format: p
      .oneOf(`tfjs: TF.js layers format; onnx: ONNX, opset ${OPSET}.`, ["tfjs", "onnx"])
      .default("tfjs"),
  },
  inputs: { model: { type: "trained", doc: "The trained model to export." } },
  outputs: ["out"],
  outputType: "files",
  random: false,
  backendDependent: false,
  async run(ctx, inputs, params): Promise<{ out: FileSet }> {
    const t = inputs.model;
    const description = {
      data: t.data,
      config: t.config,
      bestEpoch: t.bestEpoch ?? null,
      history: t.history,
    };
    const files =
      params.format === "onnx"
        ? await onnxFiles(t, description, ctx.inputDigest("model"))
        : {
            "model.json": text({
              format: "layers-model",
              generatedBy: "rnnp",
              convertedBy: null,
              modelTopology: t.topology,
              weightsManifest: [{ paths: ["weights.bin"], weights: t.weightSpecs }],
            }),
            "weights.bin": concatWeights(t.weights),
            "rnnp.json": text(description),
          };
    return { out: { type: "files", dir: params.dir, files } };
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

const text = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 1)}\n`);

/** The ONNX files of a model; the writer (and protobufjs) loads only when a stage exports ONNX. */
async function onnxFiles(
  t: TrainedModel,
  description: object,
  digest: string | undefined,
): Promise<Record<string, Uint8Array>> {
  const metadata = onnxMetadata(t, digest);
  const { toOnnx } = await import("../numerics/onnx/export.js");
  const models = toOnnx(t, { metadata, producerVersion: RNNP_VERSION });
  const files: Record<string, Uint8Array> = {};
  for (const m of models) files[m.file] = m.bytes;
  files["rnnp.json"] = text({
    ...description,
    onnx: {
      opset: OPSET,
      files: models.map((m) => ({ file: m.file, inputs: m.inputs, outputs: m.outputs })),
      metadata: Object.fromEntries(metadata),
    },
  });
  return files;
}

/**
 * What a consumer of the ONNX files needs to feed them and read their outputs (ModelProto's
 * metadata_props, strings; JSON where structured), and which run made them: the trained model's
 * digest, as the lockfile records it for the train stage's output.
 */
export function onnxMetadata(t: TrainedModel, digest?: string): [string, string][] {
  const d = t.data;
  const json = (v: unknown) => JSON.stringify(v);
  const meta: [string, string][] = [
    ["opset", String(OPSET)],
    // The runner knows the digest the lockfile records; re-encoding is the fallback outside a run.
    ["lock_digest", digest ?? digestOf(encode(artifactToValue(t)))],
    ["input", d.input],
    ["padding", d.padding],
  ];
  if (d.text) {
    const { tokens, ...encoding } = d.text;
    meta.push(["max_length", String(d.text.maxLen)], ["vocabulary", json(tokens)]);
    meta.push(["text_encoding", json(encoding)]);
  }
  if (d.window) {
    meta.push(["max_length", String(d.window.length)], ["feature_scaling", json(d.window)]);
  }
  if (d.target.kind === "class") meta.push(["classes", json(d.target.classes)]);
  meta.push(["target", json(d.target)]);
  return meta;
}
