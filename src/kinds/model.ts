import type { Json } from "../core/canonical.js";
import { DiagnosticError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import type { ModelSpec } from "../artifacts/model.js";
import { sequenceInfo } from "../artifacts/index.js";
import { initialWeights } from "../numerics/init.js";
import {
  buildModel,
  checkLayers,
  LAYERS,
  layerSummary,
  type LayerCall,
} from "../numerics/layers.js";
import { muted, unsaveableKwargs } from "../numerics/tf.js";
import { weightSpecsOf } from "../numerics/weights.js";

/** The block's layers arrive as the `layers` parameter (see KindDef.block). */
const layersOf = (params: object) => (params as { layers: LayerCall[] }).layers;

export const model = defineKind({
  name: "model",
  version: 1,
  doc: "Defines a recurrent model as a block of layers. Its input shape and vocabulary size come from the data; initialisers are seeded from the stage seed. The artifact is the TF.js layers topology.",
  params: {},
  block: { param: "layers", doc: "the model's layers, in order", items: LAYERS },
  inputs: {
    data: {
      type: "sequences",
      doc: "Sequences the model will read (e.g. seqs.train): they fix the input shape and vocabulary size.",
    },
  },
  outputs: ["out"],
  outputType: "model",
  random: true,
  backendDependent: false,
  check: (params, inputs) => checkLayers(layersOf(params), sequenceInfo(inputs.data)),
  async run(ctx, inputs, params): Promise<{ out: ModelSpec }> {
    const layers = layersOf(params);
    const data = inputs.data;
    const tokens =
      data.input === "tokens"
        ? (data.text?.tokens.length ?? Math.max(0, ...Array.from(data.x)) + 1)
        : undefined;
    const features = data.input === "features" ? data.shape[2]! : undefined;
    const last = layers[layers.length - 1]!;
    const lastUnits = (
      last.call === "timeDistributed" ? (last.args.layer as LayerCall).args.units : last.args.units
    ) as number | undefined;
    const t = data.target;
    if (lastUnits !== undefined && t.kind === "class") {
      const binary =
        last.args.activation === "sigmoid" && lastUnits === 1 && t.classes.length === 2;
      if (lastUnits !== t.classes.length && !binary) {
        throw new DiagnosticError([
          ctx.problem(
            `layers.${layers.length - 1}`,
            `the model gives ${lastUnits} outputs, but the data has ${t.classes.length} classes (${t.classes.slice(0, 6).join(", ")})`,
            `units: ${t.classes.length}`,
          ),
        ]);
      }
    }
    if (lastUnits !== undefined && t.kind === "sequence" && lastUnits !== t.tokens.length) {
      throw new DiagnosticError([
        ctx.problem(
          `layers.${layers.length - 1}`,
          `the model gives ${lastUnits} outputs per step, but the target vocabulary has ${t.tokens.length} tokens`,
          `units: ${t.tokens.length}`,
        ),
      ]);
    }
    if (lastUnits !== undefined && t.kind === "value" && lastUnits !== t.size) {
      throw new DiagnosticError([
        ctx.problem(
          `layers.${layers.length - 1}`,
          `the model gives ${lastUnits} outputs, but each example has ${t.size} target values (${t.names.join(", ")} x horizon ${t.horizon})`,
          `units: ${t.size}`,
        ),
      ]);
    }
    const tf = await ctx.tf();
    const m = buildModel(tf, layers, tokens !== undefined ? { tokens } : { features: features! });
    try {
      return {
        out: modelArtifact(m, ctx.seed, {
          input: { dtype: tokens !== undefined ? "int32" : "float32", shape: m.inputs[0]!.shape },
          output: {
            shape: m.outputs[0]!.shape,
            activation: String(
              last.args.activation ??
                (last.args.layer as LayerCall | undefined)?.args.activation ??
                "linear",
            ),
          },
          summary: layers.map(layerSummary),
        }),
      };
    } finally {
      m.dispose();
    }
  },
});

/** The model artifact of a freshly built TF.js model: its topology, and rnnp's seeded initial weights. */
export function modelArtifact(
  m: import("@tensorflow/tfjs").LayersModel,
  seed: number,
  about: Pick<ModelSpec, "input" | "output" | "summary">,
): ModelSpec {
  const specs = weightSpecsOf(m);
  return {
    type: "model",
    topology: JSON.parse(
      JSON.stringify(muted(unsaveableKwargs, () => m.toJSON(undefined, false))),
    ) as Json,
    weightSpecs: specs,
    weights: initialWeights(specs, seed),
    params: m.countParams(),
    ...about,
  };
}
