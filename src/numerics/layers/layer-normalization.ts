import { p } from "../../stages/schema.js";
import { INIT } from "../init.js";
import { defineLayer, ZEROS } from "./layer.js";

export const layerNormalization = defineLayer({
  name: "layerNormalization",
  doc: "Normalises each step's (or example's) features to mean 0 and variance 1, then scales and shifts them (learned gamma and beta).",
  params: {
    epsilon: p.number("Added to the variance.", { greaterThan: 0 }).default(1e-3),
  },
  tfClass: "LayerNormalization",
  shape: (_a, input) => input,
  weights: (_a, input) => [
    { role: "gamma", shape: [input.last], init: INIT.ones },
    { role: "beta", shape: [input.last], init: INIT.zeros },
  ],
  build: (tf, a, at) =>
    tf.layers.layerNormalization({
      epsilon: a.epsilon,
      gammaInitializer: ZEROS,
      betaInitializer: ZEROS,
      name: at.name,
      ...at.config,
    }),
  brief: () => "layerNormalization()",
  fromConfig: (c) => ({ epsilon: c.epsilon as number }),
  onnx: (a, g) =>
    g.node("LayerNormalization", [g.input, g.weight("gamma"), g.weight("beta")], {
      axis: -1,
      epsilon: { float: a.epsilon },
    })[0]!,
});
