import { p } from "../../stages/schema.js";
import { type AnyLayer, defineLayer, type Wrapped } from "./layer.js";
import { gru } from "./gru.js";
import { lstm } from "./lstm.js";
import { recurrentShape } from "./recurrent.js";
import { simpleRNN } from "./simple-rnn.js";

type RNN = import("../../runtime/tfjs.js").RNN;

/** The layers bidirectional may wrap. */
const CELLS = { simpleRNN, lstm, gru };

/** The wrapped layer's declaration and arguments. */
const cellOf = (l: { call: keyof typeof CELLS; args: Record<string, unknown> }) => ({
  def: CELLS[l.call] as AnyLayer,
  args: l.args,
});

export const bidirectional = defineLayer({
  name: "bidirectional",
  doc: "Runs a recurrent layer forwards and a copy of it backwards over the sequence, and merges the two.",
  params: {
    layer: p
      .call("The recurrent layer to run both ways.", {
        simpleRNN: simpleRNN.params,
        lstm: lstm.params,
        gru: gru.params,
      })
      .positional(),
    merge: p
      .oneOf("How the two directions combine.", ["concat", "sum", "mul", "ave"])
      .default("concat"),
  },
  tfClass: "Bidirectional",
  recurrent: true,
  shape: (a, input, at) => {
    const { units, returnSequences } = a.layer.args;
    return recurrentShape(
      "bidirectional",
      a.merge === "concat" ? 2 * units : units,
      returnSequences,
      input,
      at,
    );
  },
  // The forward copy's weights, then the backward copy's.
  weights: (a, input) => {
    const { def, args } = cellOf(a.layer);
    const one = def.weights?.(args, input) ?? [];
    return [...one, ...one];
  },
  build: (tf, a, at) => {
    const { def, args } = cellOf(a.layer);
    if (!at.inner) throw new Error(`bidirectional ${at.name}: no name for the layer it wraps`);
    const inner = def.build(tf, args, {
      name: at.inner.name(a.layer.call),
      ...(at.inner.config ? { config: at.inner.config } : {}),
    }) as RNN;
    return tf.layers.bidirectional({
      layer: inner,
      mergeMode: a.merge,
      name: at.name,
      ...at.config,
    });
  },
  activation: (a) => {
    const { def, args } = cellOf(a.layer);
    return def.activation?.(args) ?? "linear";
  },
  brief: (a) => {
    const { def, args } = cellOf(a.layer);
    return `bidirectional(${def.brief(args)})`;
  },
  fused: {
    wraps: (layer): Wrapped[] => {
      const bi = layer as { forwardLayer: unknown; backwardLayer: unknown };
      return [
        { layer: bi.forwardLayer, label: "forward" },
        { layer: bi.backwardLayer, label: "backward" },
      ];
    },
  },
});
