import { p } from "../../stages/schema.js";
import { INIT } from "../init.js";
import { MAX_TOKENS, MAX_UNITS } from "../limits.js";
import { defineLayer, describeShape, ZEROS } from "./layer.js";
import { int64 } from "./onnx.js";

export const embedding = defineLayer({
  name: "embedding",
  doc: "A learned vector for each token id: token ids [batch, time] become [batch, time, dim].",
  params: {
    dim: p.int("Size of each token's vector.", { min: 1, max: MAX_UNITS }),
    mask: p.bool("Treat id 0 (<pad>) as padding: later layers skip it.").default(false),
    inputDim: p
      .int("Number of token ids (default: the vocabulary's size).", { min: 1, max: MAX_TOKENS })
      .optional(),
  },
  tfClass: "Embedding",
  readsIds: true,
  shape: (a, input, at) => {
    if (!input.ids)
      at.fail(
        `embedding takes token ids, but its input is ${describeShape(input)}`,
        at.index === 0
          ? "the data holds features already: drop the embedding"
          : "an embedding must be the first layer",
      );
    return { rank: 3, ids: false, last: a.dim, ...(input.steps ? { steps: input.steps } : {}) };
  },
  weights: (a, input) => [
    {
      role: "embeddings",
      shape: [a.inputDim ?? input.vocabulary, a.dim],
      init: INIT.embeddingUniform,
    },
  ],
  build: (tf, a, at) => {
    const inputDim = a.inputDim ?? at.vocabulary;
    if (inputDim === undefined) throw new Error(`embedding ${at.name}: no vocabulary size`);
    return tf.layers.embedding({
      inputDim,
      outputDim: a.dim,
      maskZero: a.mask,
      embeddingsInitializer: ZEROS,
      name: at.name,
      ...at.config,
    });
  },
  brief: (a) => `embedding(${a.dim})`,
  // A vocabulary extended with vocabulary(..., extend: ...) keeps every id: the rows stay aligned.
  grows: ["embeddings"],
  fromConfig: (c) => ({
    dim: c.output_dim as number,
    mask: c.mask_zero as boolean,
    inputDim: c.input_dim as number,
  }),
  onnx: (a, g) => {
    if (a.mask) {
      // Id 0 is padding: each sequence's true length is its count of other ids.
      const real = g.node("Not", [
        g.node("Equal", [g.input, g.constant(Int32Array.of(0), [])])[0]!,
      ]);
      const ones = g.node("Cast", real, { to: 6 })[0]!;
      g.mask(g.node("ReduceSum", [ones, g.constant(int64(1), [1])], { keepdims: 0 })[0]!);
    }
    return g.node("Gather", [g.weight("embeddings"), g.input], { axis: 0 })[0]!;
  },
});
