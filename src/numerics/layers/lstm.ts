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

export const lstm = defineLayer({
  name: "lstm",
  doc: "Long short-term memory: input, forget, cell and output gates over a cell state (Keras's LSTM).",
  params: gatedParams,
  tfClass: "LSTM",
  recurrent: true,
  shape: (a, input, at) => recurrentShape("lstm", a.units, a.returnSequences, input, at),
  // Gates in Keras's order (input, forget, cell, output): the forget gate's bias starts at one.
  weights: (a, input) => cellWeights(a.units, 4, input, INIT.unitForgetBias),
  build: (tf, a, at) =>
    tf.layers.lstm({
      ...recurrentConfig(a, at),
      recurrentActivation: a.recurrentActivation,
      unitForgetBias: false,
    }),
  activation: (a) => a.activation,
  brief: (a) => `lstm(${a.units})`,
  fused: { cell: "lstm" },
  fromConfig: gatedFromConfig,
  onnx: (a, g) => recurrentOnnx("lstm", a, g),
});
