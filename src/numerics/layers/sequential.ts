import type { SequenceInfo } from "../../artifacts/sequences.js";
import type { ParamProblem } from "../../stages/kind.js";
import type { InitRule } from "../init.js";
import { bytes, count, MAX_BATCH_ACTIVATION_BYTES, MAX_PARAMS, tooLarge } from "../limits.js";
import type { TF } from "../tf.js";
import { LAYERS } from "./index.js";
import {
  type AnyLayer,
  type AnyLayerCall,
  describeShape,
  type Shape,
  type TfLayer,
  type WeightDecl,
} from "./layer.js";
import type { LayerRegistry } from "./registry.js";

/**
 * A model block's layers in sequence, read from their declarations: the shapes they give (checked
 * before anything runs), their weights (counted, limited, initialised by role), the TF.js model they
 * build, and a Keras-style summary. Layers are named `<call>_<position>` (`lstm_2`): the names
 * training prints and the weights carry.
 */

/** One layer of a walk through a block: what it reads, gives and holds. */
export interface Step {
  call: AnyLayerCall;
  def: AnyLayer;
  /** Its TF.js name, as training reports it. */
  name: string;
  /** Where it is in the stage's parameters (`layers.2`), for problems. */
  at: string;
  input: Shape;
  output: Shape;
  weights: WeightDecl[];
}

export const layerName = (call: string, index: number): string => `${call}_${index + 1}`;

/** The shape of a model's input, from what is known of its data (nothing: a guess from the first layer). */
export function inputShape(data: SequenceInfo | undefined, first: AnyLayer | undefined): Shape {
  if (!data) return first?.readsIds ? { rank: 2, ids: true } : { rank: 3, ids: false };
  const steps = data.length !== undefined ? { steps: data.length } : {};
  return data.input === "tokens"
    ? { rank: 2, ids: true, ...steps }
    : { rank: 3, ids: false, ...(data.features ? { last: data.features } : {}), ...steps };
}

/** What a model is built for: token ids with this many distinct ids, or this many features per step. */
export interface ModelInput {
  tokens?: number;
  features?: number;
}

const builtShape = (input: ModelInput): Shape =>
  input.tokens !== undefined
    ? { rank: 2, ids: true, vocabulary: input.tokens }
    : { rank: 3, ids: false, ...(input.features !== undefined ? { last: input.features } : {}) };

/**
 * Follows the shapes through the layers, collecting each layer's problems (at `param.i`). Stops at
 * a layer that cannot take its input at all (token ids into anything but an embedding): later
 * shapes would be guesses. `complete` says whether it reached the end.
 */
export function walk(
  calls: readonly AnyLayerCall[],
  input: Shape,
  o: {
    registry?: LayerRegistry;
    problems?: ParamProblem[];
    param?: string;
    name?: typeof layerName;
  } = {},
): { steps: Step[]; complete: boolean } {
  const registry = o.registry ?? LAYERS;
  const param = o.param ?? "layers";
  const steps: Step[] = [];
  let shape = input;
  for (const [i, call] of calls.entries()) {
    const def = registry.get(call.call);
    if (!def) throw new Error(`unknown layer ${call.call}`);
    const fail = (message: string, hint?: string) =>
      o.problems?.push({ param: `${param}.${i}`, message, ...(hint ? { hint } : {}) });
    if (shape.ids && !def.readsIds) {
      fail(
        `${call.call} cannot take token ids`,
        "start the model with embedding(dim: ...), or encode with oneHot: true",
      );
      return { steps, complete: false };
    }
    const output = def.shape(call.args, shape, { index: i, fail });
    const weights = def.weights?.(call.args, shape) ?? [];
    const name = (o.name ?? layerName)(call.call, i);
    steps.push({ call, def, name, at: `${param}.${i}`, input: shape, output, weights });
    shape = output;
  }
  return { steps, complete: true };
}

/** Checks the layers against the data before anything runs: shapes, the output a task needs, sizes. */
export function checkLayers(
  calls: readonly AnyLayerCall[],
  data: SequenceInfo | undefined,
  registry: LayerRegistry = LAYERS,
): ParamProblem[] {
  if (calls.length === 0) return [{ param: "layers", message: "a model needs at least one layer" }];
  const problems: ParamProblem[] = [];
  const { steps, complete } = walk(calls, inputShape(data, registry.get(calls[0]!.call)), {
    registry,
    problems,
  });
  const last = steps.at(-1);
  if (complete && last && data) problems.push(...targetProblems(last, data, calls.length - 1));
  problems.push(...sizeProblems(steps));
  return problems;
}

/** The output the data's target needs: class probabilities, token probabilities per step, values. */
function targetProblems(last: Step, data: SequenceInfo, index: number): ParamProblem[] {
  const param = `layers.${index}`;
  const out = last.output;
  const activation = last.def.activation?.(last.call.args);
  if (data.target === "class") {
    if (out.rank !== 2)
      return [
        {
          param,
          message: `a classifier must give one vector per example, but this model ends with ${describeShape(out)}`,
          hint: "set returnSequences: false on the last recurrent layer",
        },
      ];
    if (!last.def.head || !["softmax", "sigmoid"].includes(activation ?? ""))
      return [
        {
          param,
          message: "a classifier must end with class probabilities",
          hint: 'end with dense(units: <classes>, activation: "softmax")',
        },
      ];
  }
  if (data.target === "sequence") {
    if (out.rank !== 3)
      return [
        {
          param,
          message: `a token-per-step model must give a vector at every step, but this model ends with ${describeShape(out)}`,
          hint: "set returnSequences: true on the last recurrent layer",
        },
      ];
    if (!last.def.head || activation !== "softmax")
      return [
        {
          param,
          message: "a token-per-step model must end with token probabilities",
          hint: 'end with timeDistributed(dense(units: <target tokens>, activation: "softmax"))',
        },
      ];
  }
  if (data.target === "value" && out.rank !== 2)
    return [
      {
        param,
        message: `a forecaster must give one vector per example, but this model ends with ${describeShape(out)}`,
        hint: "set returnSequences: false on the last recurrent layer",
      },
    ];
  return [];
}

/** A weight's size, when all its dimensions are known. */
const sizeOf = (w: WeightDecl): number | undefined =>
  w.shape.every((d) => d !== undefined) ? w.shape.reduce<number>((a, b) => a * b!, 1) : undefined;

/** A layer's parameters: those of its weights whose sizes are known, and whether that is all. */
export function paramsOf(weights: readonly WeightDecl[]): { known: number; complete: boolean } {
  const sizes = weights.map(sizeOf);
  return {
    known: sizes.reduce<number>((a, b) => a + (b ?? 0), 0),
    complete: sizes.every((s) => s !== undefined),
  };
}

/** Floats of one example's layer outputs, when every size is known. */
export function activationsOf(steps: readonly Step[]): number | undefined {
  let total = 0;
  for (const { output: o } of steps) {
    if (o.last === undefined || (o.rank === 3 && o.steps === undefined)) return undefined;
    total += o.rank === 3 ? o.steps! * o.last : o.last;
  }
  return total;
}

/**
 * The model's parameters and one example's activations against rnnp's limits, pointing at the
 * largest layer.
 */
export function sizeProblems(steps: readonly Step[]): ParamProblem[] {
  const problems: ParamProblem[] = [];
  const counts = steps.map((s) => paramsOf(s.weights));
  const total = counts.reduce((a, c) => a + c.known, 0);
  if (total > MAX_PARAMS) {
    const i = counts.reduce((best, c, j) => (c.known > counts[best]!.known ? j : best), 0);
    problems.push(
      tooLarge(
        steps[i]!.at,
        `this model has ${count(total)} parameters${counts.every((c) => c.complete) ? "" : " or more"} (${steps[i]!.name}: ${count(counts[i]!.known)}), more than rnnp's limit of ${count(MAX_PARAMS)}`,
        "use fewer units or a smaller dim: training keeps about 24 bytes per parameter (weights, gradients, optimizer state) in WebAssembly's 4 GiB",
      ),
    );
  }
  const floats = activationsOf(steps);
  if (floats !== undefined && floats * 4 > MAX_BATCH_ACTIVATION_BYTES) {
    const size = (s: Step) => (s.output.rank === 3 ? s.output.steps! : 1) * s.output.last!;
    const i = steps.reduce((best, s, j) => (size(s) > size(steps[best]!) ? j : best), 0);
    problems.push(
      tooLarge(
        steps[i]!.at,
        `one example's layer outputs take ${bytes(floats * 4)} (${steps[i]!.name}: ${count(size(steps[i]!))} values), more than rnnp's limit of ${bytes(MAX_BATCH_ACTIVATION_BYTES)} for a whole batch`,
        "use shorter sequences (maxLen) or smaller layers",
      ),
    );
  }
  return problems;
}

/**
 * Builds the TF.js model with fixed layer names and zero initialisers: the real initial weights come
 * from the declarations' rules (see `initRules`) and travel with the model artifact, so rebuilding
 * from the topology is cheap and initialisation never depends on the backend.
 */
export function buildModel(
  tf: TF,
  calls: readonly AnyLayerCall[],
  input: ModelInput,
  registry: LayerRegistry = LAYERS,
): { model: import("../../runtime/tfjs.js").Sequential; init: ReadonlyMap<string, InitRule> } {
  const { steps } = walk(calls, builtShape(input), { registry });
  const model = tf.sequential({ name: "model" });
  const init = new Map<string, InitRule>();
  steps.forEach((s, i) => {
    const first =
      i === 0
        ? { inputShape: input.tokens !== undefined ? [null] : [null, input.features!] }
        : undefined;
    const layer = s.def.build(tf, s.call.args, {
      name: s.name,
      ...(first ? { config: first } : {}),
      inner: { name: (call) => layerName(call, i) },
      ...(input.tokens !== undefined ? { vocabulary: input.tokens } : {}),
    });
    model.add(layer);
    declareInit(layer, s.weights, init);
  });
  return { model, init };
}

/**
 * Records the initialisation rule of each weight TF.js made for a layer, by its name, from the
 * layer's declared weights (in TF.js's order). A declaration that disagrees with TF.js on its
 * weights is a bug in rnnp, caught here rather than as wrong parameter counts.
 */
export function declareInit(
  layer: TfLayer,
  declared: readonly WeightDecl[],
  init: Map<string, InitRule>,
): void {
  const made = layer.weights;
  const agree =
    made.length === declared.length &&
    made.every((w, j) => {
      const d = declared[j]!;
      return (
        w.originalName.endsWith(`/${d.role}`) &&
        w.shape.length === d.shape.length &&
        w.shape.every((n, k) => n === d.shape[k])
      );
    });
  if (!agree)
    throw new Error(
      `layer ${layer.name}: its declaration says ${declared.map((d) => `${d.role} [${d.shape.join(", ")}]`).join(", ") || "no weights"}, TF.js made ${made.map((w) => `${w.originalName} [${w.shape.join(", ")}]`).join(", ") || "none"}`,
    );
  made.forEach((w, j) => init.set(w.originalName, declared[j]!.init));
}

/** What the model gives: its last layer's output shape and the activation it goes through. */
export function outputOf(
  calls: readonly AnyLayerCall[],
  input: ModelInput,
  registry: LayerRegistry = LAYERS,
): { shape: Shape; activation: string } {
  const last = walk(calls, builtShape(input), { registry }).steps.at(-1)!;
  return { shape: last.output, activation: last.def.activation?.(last.call.args) ?? "linear" };
}
