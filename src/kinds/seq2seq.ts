import { UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import type { ModelSpec } from "../artifacts/model.js";
import { sequenceInfo } from "../artifacts/index.js";
import { layerSummary, type LayerCall } from "../numerics/layers.js";
import { buildSeq2seq, checkSeq2seq, partsOf, SEQ2SEQ_BLOCK } from "../numerics/seq2seq.js";
import { modelArtifact } from "./model.js";

export const seq2seq = defineKind({
  name: "seq2seq",
  version: 1,
  doc: "Defines an encoder-decoder: `encoder { embedding(...) lstm(...) }` reads the input ids; its final state starts `decoder { embedding(...) lstm(...) }`, which predicts the target sequence token by token (trained with teacher forcing; evaluate and predict decode greedily or with beam search).",
  params: {},
  block: SEQ2SEQ_BLOCK,
  inputs: {
    data: {
      type: "sequences",
      doc: "Input/target pairs from encode(..., target: ..., aligned: false).",
    },
  },
  outputs: ["out"],
  outputType: "model",
  random: true,
  backendDependent: false,
  check: (params, inputs) => checkSeq2seq(params, sequenceInfo(inputs.data)),
  async run(ctx, inputs, params): Promise<{ out: ModelSpec }> {
    const data = inputs.data;
    const t = data.target;
    if (t.kind !== "tokens" || !data.text)
      throw new UserError(
        'a seq2seq model needs text inputs and target sequences of their own length: encode(..., target: "column", targetVocab: v, aligned: false)',
      );
    const parts = partsOf(params);
    const tf = await ctx.tf();
    const m = buildSeq2seq(tf, parts, { input: data.text.tokens.length, target: t.tokens.length });
    try {
      const line = (ls: LayerCall[]) => ls.map(layerSummary).join(" -> ");
      return {
        out: modelArtifact(m, ctx.seed, {
          input: { dtype: "int32", shape: [null, null] },
          output: { shape: [null, null, t.tokens.length], activation: "softmax" },
          summary: [
            `encoder: ${line(parts.encoder)}`,
            `decoder: ${line(parts.decoder)} -> dense(${t.tokens.length}, softmax)`,
          ],
        }),
      };
    } finally {
      m.dispose();
    }
  },
});
