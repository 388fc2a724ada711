import { INIT } from "../init.js";
import { defineLayer } from "./layer.js";
import {
  cellWeights,
  gatedParams,
  recurrentConfig,
  recurrentShape,
  gatedFromConfig,
  recurrentOnnx,
} from "./recurrent.js";

export const gru = defineLayer({
  name: "gru",
  doc: "Gated recurrent unit: update and reset gates over the state (TF.js's GRU).",
  params: gatedParams,
  tfClass: "GRU",
  recurrent: true,
  shape: (a, input, at) => recurrentShape("gru", a.units, a.returnSequences, input, at),
  weights: (a, input) => cellWeights(a.units, 3, input, INIT.zeros),
  build: (tf, a, at) =>
    tf.layers.gru({ ...recurrentConfig(a, at), recurrentActivation: a.recurrentActivation }),
  activation: (a) => a.activation,
  brief: (a) => `gru(${a.units})`,
  fused: { cell: "gru" },
  fromConfig: gatedFromConfig,
  onnx: (a, g) => recurrentOnnx("gru", a, g),
});
