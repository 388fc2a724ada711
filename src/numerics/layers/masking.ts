import { p } from "../../stages/schema.js";
import { defineLayer, describeShape } from "./layer.js";

export const masking = defineLayer({
  name: "masking",
  doc: "Marks the steps whose features all equal `value` as padding: recurrent layers after it skip them.",
  params: { value: p.number("Steps whose features all equal this are skipped.").default(0) },
  tfClass: "Masking",
  shape: (_a, input, at) => {
    if (input.rank !== 3)
      at.fail(`masking works on sequences, but its input is ${describeShape(input)}`);
    return input;
  },
  build: (tf, a, at) => tf.layers.masking({ maskValue: a.value, name: at.name, ...at.config }),
  brief: () => "masking()",
});
