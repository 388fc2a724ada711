import type { CallOf, CallsOf, ParamValues } from "../../stages/schema.js";
import { bidirectional } from "./bidirectional.js";
import { dense } from "./dense.js";
import { dropout } from "./dropout.js";
import { embedding } from "./embedding.js";
import { gru } from "./gru.js";
import { withDefaults } from "./layer.js";
import { layerNormalization } from "./layer-normalization.js";
import { lstm } from "./lstm.js";
import { masking } from "./masking.js";
import { LayerRegistry } from "./registry.js";
import { simpleRNN } from "./simple-rnn.js";
import { timeDistributed } from "./time-distributed.js";

/**
 * Every layer a model block may hold, in the order messages list them; the language, the model and
 * seq2seq kinds, the initialiser, the training loop's gradient watch and the fuser all read them
 * from here. A new layer is:
 *   1. its file here, `export const x = defineLayer({...})` (see layer.ts: params with docs and
 *      defaults, shape rule, weights with their initialisation rules, TF.js build, brief, and where
 *      they apply: readsIds, recurrent, head, activation, fused, onnx);
 *   2. one entry below (and its import);
 *   3. a use of it in test/numerics/layers.test.ts's models, which checks its declared weights,
 *      parameter counts and shapes against what TF.js builds (a test fails until it is there).
 */
const SHIPPED = {
  embedding,
  simpleRNN,
  lstm,
  gru,
  bidirectional,
  dropout,
  dense,
  timeDistributed,
  masking,
  layerNormalization,
};

export type LayerName = keyof typeof SHIPPED;
type Params = { [K in LayerName]: (typeof SHIPPED)[K]["params"] };

export const LAYERS = new LayerRegistry(Object.values(SHIPPED));

/** Layer name -> its parameters, typed: the model kind's block items. */
export const LAYER_PARAMS = LAYERS.params() as Params;

/** A layer of a model block, arguments checked and defaults filled; `switch (l.call)` narrows `l.args`. */
export type LayerCall = CallsOf<Params>;

/** A layer written in code (tests, built-in models): its arguments, defaults filled from its declaration. */
export function layer<K extends LayerName>(
  name: K,
  args: Partial<ParamValues<Params[K]>> = {},
): CallOf<K, ParamValues<Params[K]>> {
  return { call: name, args: withDefaults(SHIPPED[name].params as Params[K], args) };
}
