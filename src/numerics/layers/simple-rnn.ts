import { INIT } from "../init.js";
import { defineLayer } from "./layer.js";
import {
  cellWeights,
  recurrentConfig,
  recurrentShape,
  rnnParams,
  rnnFromConfig,
  recurrentOnnx,
} from "./recurrent.js";

export const simpleRNN = defineLayer({
  name: "simpleRNN",
  doc: "A fully connected recurrent layer: h_t = activation(x_t W + h_{t-1} U + b).",
  params: rnnParams,
  tfClass: "SimpleRNN",
  recurrent: true,
  shape: (a, input, at) => recurrentShape("simpleRNN", a.units, a.returnSequences, input, at),
  weights: (a, input) => cellWeights(a.units, 1, input, INIT.zeros),
  build: (tf, a, at) => tf.layers.simpleRNN(recurrentConfig(a, at)),
  activation: (a) => a.activation,
  brief: (a) => `simpleRNN(${a.units})`,
  fused: { cell: "simpleRNN" },
  fromConfig: rnnFromConfig,
  onnx: (a, g) => recurrentOnnx("simpleRNN", a, g),
});
