/** Activations a layer may name: those TF.js, Keras and ONNX all have. */
export const ACTIVATIONS = [
  "linear",
  "tanh",
  "sigmoid",
  "relu",
  "elu",
  "selu",
  "softmax",
  "softplus",
  "softsign",
  "hardSigmoid",
  "swish",
] as const;

export type Activation = (typeof ACTIVATIONS)[number];
