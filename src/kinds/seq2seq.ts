import { UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import type { ModelSpec } from "../artifacts/model.js";
import {
  buildSeq2seq,
  checkSeq2seq,
  describeSeq2seq,
  fullLayers,
  partsOf,
  SEQ2SEQ_BLOCK,
} from "../numerics/seq2seq.js";
import { brief, layerInfos, modelArtifact } from "./model.js";

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
  describe: (params, inputs) => {
    const info = describeSeq2seq(params, inputs.data);
    if (!info) return undefined;
    const { steps, ...rest } = info;
    return { kind: "model", ...rest, layers: layerInfos(steps) };
  },
  check: (params, inputs) => checkSeq2seq(params, inputs.data),
  async run(ctx, inputs, params): Promise<{ out: ModelSpec }> {
    const data = inputs.data;
    const t = data.target;
    if (t.kind !== "tokens" || !data.text)
      throw new UserError(
        'a seq2seq model needs text inputs and target sequences of their own length: encode(..., target: "column", targetVocab: v, aligned: false)',
      );
    const parts = partsOf(params);
    const tf = await ctx.tf();
    const { model: m, init } = buildSeq2seq(tf, parts, {
      input: data.text.tokens.length,
      target: t.tokens.length,
    });
    try {
      const full = fullLayers(parts);
      const line = (ls: { call: string; args: Record<string, unknown> }[]) =>
        ls.map(brief).join(" -> ");
      return {
        out: await modelArtifact(m, init, ctx, {
          input: { dtype: "int32", shape: [null, null] },
          output: { shape: [null, null, t.tokens.length], activation: "softmax" },
          summary: [
            `encoder: ${line(full.encoder)}`,
            `decoder: ${line(full.decoder)} -> dense(${t.tokens.length}, softmax)`,
          ],
        }),
      };
    } finally {
      m.dispose();
    }
  },
});
