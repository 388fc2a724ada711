import { p } from "../../stages/schema.js";
import { defineLayer, describeShape } from "./layer.js";
import { int64 } from "./onnx.js";

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
  fromConfig: (c) => ({ value: c.mask_value as number }),
  // A step is padding when all its features equal the value; TF.js zeroes such steps.
  onnx: (a, g) => {
    const differs = g.node("Not", [
      g.node("Equal", [g.input, g.constant(Float32Array.of(a.value), [])])[0]!,
    ]);
    const kept = g.node("ReduceMax", [g.node("Cast", differs, { to: 1 })[0]!], {
      axes: [2],
      keepdims: 1,
    })[0]!;
    const steps = g.node("ReduceSum", [kept, g.constant(int64(1, 2), [2])], { keepdims: 0 })[0]!;
    g.mask(g.node("Cast", [steps], { to: 6 })[0]!);
    return g.node("Mul", [g.input, kept])[0]!;
  },
});
