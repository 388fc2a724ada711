import { p } from "../../stages/schema.js";
import { dense } from "./dense.js";
import { defineLayer, describeShape } from "./layer.js";

export const timeDistributed = defineLayer({
  name: "timeDistributed",
  doc: "Applies a dense layer at every step of a sequence, with the same weights.",
  params: {
    layer: p.call("The layer applied at every step.", { dense: dense.params }).positional(),
  },
  tfClass: "TimeDistributed",
  head: true,
  shape: (a, input, at) => {
    if (input.rank !== 3)
      at.fail(
        `timeDistributed applies a layer at every step, but its input is ${describeShape(input)}`,
        "set returnSequences: true on the recurrent layer before it",
      );
    return {
      rank: 3,
      ids: false,
      last: a.layer.args.units,
      ...(input.steps ? { steps: input.steps } : {}),
    };
  },
  weights: (a, input) => dense.weights?.(a.layer.args, input) ?? [],
  build: (tf, a, at) => {
    if (!at.inner) throw new Error(`timeDistributed ${at.name}: no name for the layer it wraps`);
    return tf.layers.timeDistributed({
      layer: dense.build(tf, a.layer.args, { name: at.inner.name(a.layer.call) }),
      name: at.name,
      ...at.config,
    });
  },
  activation: (a) => dense.activation?.(a.layer.args) ?? "linear",
  brief: (a) => `timeDistributed(${dense.brief(a.layer.args)})`,
  fromConfig: (c) => {
    const inner = c.layer as { config: Record<string, unknown> };
    return { layer: { call: "dense" as const, args: dense.fromConfig!(inner.config) } };
  },
  // A dense layer's MatMul works on every step at once.
  onnx: (a, g) => dense.onnx!(a.layer.args, g),
});
