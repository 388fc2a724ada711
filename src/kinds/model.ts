import type { Json } from "../core/canonical.js";
import { DiagnosticError } from "../core/diagnostic.js";
import { defineBlock, defineKind, type StageContext } from "../stages/kind.js";
import type { ModelInfo, ModelSpec } from "../artifacts/model.js";
import type { SequenceInfo } from "../artifacts/sequences.js";
import { type InitRule, initialWeights, weightInits } from "../numerics/init.js";
import { LAYER_PARAMS, LAYERS, type LayerCall } from "../numerics/layers/index.js";
import {
  activationsOf,
  buildModel,
  checkLayers,
  inputShape,
  type ModelInput,
  outputOf,
  paramsOf,
  walk,
} from "../numerics/layers/sequential.js";
import { muted, unsaveableKwargs } from "../numerics/tf.js";
import { weightSpecsOf } from "../numerics/weights.js";

export const model = defineKind({
  name: "model",
  version: 1,
  doc: "Defines a recurrent model as a block of layers. Its input shape and vocabulary size come from the data; initialisers are seeded from the stage seed. The artifact is the TF.js layers topology.",
  params: {},
  block: defineBlock({ param: "layers", doc: "the model's layers, in order", items: LAYER_PARAMS }),
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
  describe: (params, inputs) => modelInfo(params.layers, inputs.data),
  check: (params, inputs) => checkLayers(params.layers, inputs.data),
  async run(ctx, inputs, params): Promise<{ out: ModelSpec }> {
    const layers = params.layers;
    const data = inputs.data;
    const input: ModelInput =
      data.input === "tokens"
        ? { tokens: data.text?.tokens.length ?? Math.max(0, ...Array.from(data.x)) + 1 }
        : { features: data.shape[2]! };
    const output = outputOf(layers, input);
    const units = output.shape.last;
    const t = data.target;
    const fail = (message: string, hint: string) =>
      new DiagnosticError([ctx.problem(`layers.${layers.length - 1}`, message, hint)]);
    if (units !== undefined && t.kind === "class") {
      const binary = output.activation === "sigmoid" && units === 1 && t.classes.length === 2;
      if (units !== t.classes.length && !binary)
        throw fail(
          `the model gives ${units} outputs, but the data has ${t.classes.length} classes (${t.classes.slice(0, 6).join(", ")})`,
          `units: ${t.classes.length}`,
        );
    }
    if (units !== undefined && t.kind === "sequence" && units !== t.tokens.length)
      throw fail(
        `the model gives ${units} outputs per step, but the target vocabulary has ${t.tokens.length} tokens`,
        `units: ${t.tokens.length}`,
      );
    if (units !== undefined && t.kind === "value" && units !== t.size)
      throw fail(
        `the model gives ${units} outputs, but each example has ${t.size} target values (${t.names.join(", ")} x horizon ${t.horizon})`,
        `units: ${t.size}`,
      );
    const tf = await ctx.tf();
    const { model: m, init } = buildModel(tf, layers, input);
    try {
      return {
        out: await modelArtifact(m, init, ctx, {
          input: {
            dtype: input.tokens !== undefined ? "int32" : "float32",
            shape: m.inputs[0]!.shape,
          },
          output: { shape: m.outputs[0]!.shape, activation: output.activation },
          summary: layers.map(brief),
        }),
      };
    } finally {
      m.dispose();
    }
  },
});

/** A layer in one word, for the artifact's summary line: `lstm(32)`. */
export const brief = (l: { call: string; args: Record<string, unknown> }): string =>
  LAYERS.get(l.call)!.brief(l.args);

/** What is known of the model before it is built, for the stages that train it. */
function modelInfo(layers: LayerCall[], data: SequenceInfo | undefined): ModelInfo | undefined {
  if (!layers.length) return undefined;
  const { steps } = walk(layers, inputShape(data, LAYERS.get(layers[0]!.call)));
  const activations = activationsOf(steps);
  return {
    kind: "model",
    params: steps.reduce((a, s) => a + paramsOf(s.weights).known, 0),
    ...(activations !== undefined ? { activations } : {}),
  };
}

/**
 * The model artifact of a freshly built TF.js model: its topology, and rnnp's seeded initial weights,
 * each by its layer's rule (`init`, by weight name).
 */
export async function modelArtifact(
  m: import("../runtime/tfjs.js").LayersModel,
  init: ReadonlyMap<string, InitRule>,
  ctx: Pick<StageContext, "seed" | "progress" | "log" | "signal">,
  about: Pick<ModelSpec, "input" | "output" | "summary">,
): Promise<ModelSpec> {
  const specs = weightSpecsOf(m);
  const weights = await initialWeights(weightInits(specs, init), ctx.seed, {
    progress: ctx.progress,
    log: ctx.log,
    signal: ctx.signal,
  });
  return {
    type: "model",
    topology: JSON.parse(
      JSON.stringify(muted(unsaveableKwargs, () => m.toJSON(undefined, false))),
    ) as Json,
    weightSpecs: specs,
    weights,
    params: m.countParams(),
    ...about,
  };
}
