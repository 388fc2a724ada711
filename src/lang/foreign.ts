/**
 * Names Keras and TensorFlow.js users type by habit, and what rnnp calls the same thing. rnnp hints
 * rather than accepting them as aliases: a parameter has one spelling, so pipelines, `fmt` output
 * and diffs stay uniform, and a wrong guess from edit distance (`output_dim` -> `inputDim`, the
 * opposite meaning) never reaches the user. Each entry is tested (test/lang/foreign.test.ts).
 */
export const FOREIGN_NAMES: ReadonlyMap<string, { ours: string; note?: string }> = new Map([
  // embedding
  ["output_dim", { ours: "dim" }],
  ["outputDim", { ours: "dim" }],
  ["input_dim", { ours: "inputDim" }],
  ["mask_zero", { ours: "mask" }],
  ["maskZero", { ours: "mask" }],
  // recurrent layers and wrappers
  ["return_sequences", { ours: "returnSequences" }],
  ["go_backwards", { ours: "goBackwards" }],
  ["recurrent_dropout", { ours: "recurrentDropout" }],
  ["recurrent_activation", { ours: "recurrentActivation" }],
  ["merge_mode", { ours: "merge" }],
  ["mergeMode", { ours: "merge" }],
  // optimizers
  ["learning_rate", { ours: "lr" }],
  ["learningRate", { ours: "lr" }],
  ["beta_1", { ours: "beta1" }],
  ["beta_2", { ours: "beta2" }],
  ["initial_accumulator_value", { ours: "initialAccumulator" }],
  ["initialAccumulatorValue", { ours: "initialAccumulator" }],
  // fit()
  ["batch_size", { ours: "batchSize" }],
  ["validation_data", { ours: "validation" }],
  ["validationData", { ours: "validation" }],
  ["class_weight", { ours: "classWeights" }],
  ["classWeight", { ours: "classWeights" }],
  ["min_delta", { ours: "minDelta" }],
  ["restore_best_weights", { ours: "restoreBest" }],
  ["restoreBestWeights", { ours: "restoreBest" }],
  [
    "clipnorm",
    {
      ours: "clipNorm",
      note: "rnnp's clipNorm clips the global norm of all gradients together (Keras's global_clipnorm); Keras's clipnorm clips each variable's norm separately",
    },
  ],
  ["global_clipnorm", { ours: "clipNorm" }],
  ["clipvalue", { ours: "clipValue" }],
  // preprocessing
  ["maxlen", { ours: "maxLen" }],
  ["num_words", { ours: "maxSize" }],
]);

/** The hint for a Keras/TF.js spelling of one of `names`, if `name` is one. */
export function foreignHint(name: string, names: readonly string[]): string | undefined {
  const known = FOREIGN_NAMES.get(name);
  const ours = known?.ours ?? camelCase(name);
  if (ours === name || !names.includes(ours)) return undefined;
  return `\`${name}\` is the Keras/TF.js spelling: rnnp calls it \`${ours}\`${known?.note ? ` (${known.note})` : ""}`;
}

/** `return_sequences` -> `returnSequences`: any other snake_case name that is ours in camelCase. */
function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
