import { p } from "../../stages/schema.js";
import { defineLayer } from "./layer.js";

export const dropout = defineLayer({
  name: "dropout",
  doc: "Zeroes a share of its inputs during training (seeded), scaling the rest up; nothing at inference.",
  params: {
    rate: p.number("Share of inputs dropped during training.", { min: 0, max: 0.99 }),
  },
  tfClass: "Dropout",
  shape: (_a, input) => input,
  build: (tf, a, at) => tf.layers.dropout({ rate: a.rate, name: at.name, ...at.config }),
  brief: (a) => `dropout(${a.rate})`,
  fromConfig: (c) => ({ rate: c.rate as number }),
  // Nothing at inference.
  onnx: (_a, g) => g.input,
});
