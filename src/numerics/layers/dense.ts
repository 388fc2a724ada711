import { p } from "../../stages/schema.js";
import { INIT } from "../init.js";
import { MAX_UNITS } from "../limits.js";
import { ACTIVATIONS } from "./activations.js";
import { defineLayer, ZEROS } from "./layer.js";
import { activate, activationOf } from "./onnx.js";

export const dense = defineLayer({
  name: "dense",
  doc: "A fully connected layer on the last axis: activation(x W + b); at every step of a sequence.",
  params: {
    units: p.int("Output size.", { min: 1, max: MAX_UNITS }),
    activation: p.oneOf("Activation.", ACTIVATIONS).default("linear"),
  },
  tfClass: "Dense",
  head: true,
  shape: (a, input) => ({ ...input, last: a.units }),
  weights: (a, input) => [
    { role: "kernel", shape: [input.last, a.units], init: INIT.glorotUniform },
    { role: "bias", shape: [a.units], init: INIT.zeros },
  ],
  build: (tf, a, at) =>
    tf.layers.dense({
      units: a.units,
      activation: a.activation,
      kernelInitializer: ZEROS,
      biasInitializer: ZEROS,
      name: at.name,
      ...at.config,
    }),
  activation: (a) => a.activation,
  brief: (a) => `dense(${a.units})`,
  fromConfig: (c) => ({ units: c.units as number, activation: activationOf(c.activation) }),
  onnx: (a, g) => {
    const product = g.node("MatMul", [g.input, g.weight("kernel")])[0]!;
    return activate(g, a.activation, g.node("Add", [product, g.weight("bias")])[0]!);
  },
});
