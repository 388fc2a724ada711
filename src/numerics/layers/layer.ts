import type { Json } from "../../core/canonical.js";
import type { ParamsSpec, ParamValues } from "../../stages/schema.js";
import type { CellKind } from "../fused/cells.js";
import type { InitRule } from "../init.js";
import type { TF } from "../tf.js";

/**
 * A layer declares everything about itself in one place, as a stage kind does: its parameters (with
 * docs and defaults, checked by the language), the shape it gives, the weights it holds and how
 * each starts, how it becomes a TF.js layer, whether rnnp's fused kernels run it, how it reads in a
 * summary, and (for export) how it becomes ONNX nodes. The model and seq2seq kinds, the initialiser,
 * the training loop and the fuser read these declarations; nothing about a layer is written
 * anywhere else except its line in index.ts.
 */

/**
 * A symbolic activation shape, batch first: token ids [batch, time], a sequence
 * [batch, time, features] or a vector [batch, features]. Sizes are known or not before the data is.
 */
export interface Shape {
  rank: 2 | 3;
  /** Token ids (rank 2, one id per step), which only an embedding reads. */
  ids: boolean;
  /** Features per step (per example, for a vector). */
  last?: number;
  /** Time steps (the data's length). */
  steps?: number;
  /** For token ids: how many distinct ids there are (the vocabulary's size). */
  vocabulary?: number;
}

export type TfLayer = import("../../runtime/tfjs.js").layers.Layer;

/** Where a shape rule reports a misuse of its layer; the walk goes on with the shape it returns. */
export interface ShapeSite {
  /** The layer's position in its block (0: it reads the model's input). */
  index: number;
  fail(message: string, hint?: string): void;
}

/** A weight the layer holds, in the order TF.js creates them. */
export interface WeightDecl {
  /** TF.js's name for it in the layer: the last part of `lstm_2/recurrent_kernel`. */
  role: string;
  /** Undefined where a size is known only from the data (an embedding's vocabulary). */
  shape: (number | undefined)[];
  init: InitRule;
}

/** What a layer is built with besides its arguments. */
export interface BuildSite {
  /** The TF.js layer's name, fixed (TF.js would number names per process, and bytes would depend on it). */
  name: string;
  /** Extra TF.js configuration: the first layer's input shape, seq2seq's returned states... */
  config?: Record<string, unknown>;
  /** For a wrapper: the name and extra configuration of the layer it wraps, by that layer's call. */
  inner?: { name(call: string): string; config?: Record<string, unknown> };
  /** Distinct token ids of the input, for an embedding not given its inputDim. */
  vocabulary?: number;
}

/** A TF.js layer that holds others (bidirectional): the ones the fused kernels may take over. */
export interface Wrapped {
  layer: unknown;
  label: string;
}

/** How rnnp's fused kernels stand in for a layer: as one of their cells, or by fusing what it wraps. */
export type Fusion = { cell: CellKind } | { wraps(layer: unknown): Wrapped[] };

/**
 * What an ONNX exporter gives a layer to add itself to a graph (issue 13): the tensor it reads, its
 * weights by role, and ways to add nodes and constants. Declared now so that the declarations have
 * their final shape; no exporter implements it yet.
 */
export interface OnnxGraph {
  /** The tensor the layer reads: [batch, time, features] or [batch, features]; ids for an embedding. */
  readonly input: string;
  /** The true length of each sequence ([batch]), for layers that skip padding. */
  readonly lengths?: string;
  /** One of the layer's weights by role (`kernel`; `forward/recurrent_kernel` inside a wrapper). */
  weight(role: string): string;
  /** Adds a node; returns the names of its outputs. */
  node(
    op: string,
    inputs: readonly string[],
    attributes?: Readonly<Record<string, Json>>,
    outputs?: number,
  ): string[];
  /** Adds a constant; returns its name. */
  constant(values: Float32Array | Int32Array, shape: readonly number[]): string;
}

export interface LayerDef<N extends string, P extends ParamsSpec> {
  /** As written in a model block: `lstm`. */
  name: N;
  doc: string;
  params: P;
  /** TF.js's class name of the layer it builds, by which a restored model's layers are recognised. */
  tfClass: string;
  /** Reads token ids (an embedding); every other layer reads vectors. */
  readsIds?: boolean;
  /** A recurrent layer: its gradients are watched for vanishing and exploding. */
  recurrent?: boolean;
  /** Can end a model with class or token probabilities (its `activation` says which kind). */
  head?: boolean;
  /** The shape it gives for an input shape, reporting misuse through `at`. */
  shape(args: ParamValues<P>, input: Shape, at: ShapeSite): Shape;
  /** Its weights for an input shape, in TF.js's order; none when absent. */
  weights?(args: ParamValues<P>, input: Shape): WeightDecl[];
  /** The TF.js layer, with zero initialisers: the real initial weights come from `weights`' rules. */
  build(tf: TF, args: ParamValues<P>, at: BuildSite): TfLayer;
  /** The activation its output goes through, if any (`softmax`, `tanh`). */
  activation?(args: ParamValues<P>): string;
  /** A word for it in a one-line summary: `lstm(64)`, `bidirectional(gru(32))`. */
  brief(args: ParamValues<P>): string;
  /** Whether and how rnnp's fused kernels run it. */
  fused?: Fusion;
  /** How it becomes ONNX nodes (returns its output tensor's name); absent: not exportable to ONNX. */
  onnx?(args: ParamValues<P>, graph: OnnxGraph): string;
}

/** A layer declaration with its argument types erased, as the generic machinery holds it. */
export type AnyLayer = LayerDef<string, ParamsSpec>;

/** A layer in a block, arguments checked and defaults filled: `{call: "lstm", args: {units: 32, ...}}`. */
export interface AnyLayerCall {
  call: string;
  args: Record<string, unknown>;
}

export function defineLayer<const N extends string, P extends ParamsSpec>(
  def: LayerDef<N, P>,
): LayerDef<N, P> {
  return def;
}

/** The arguments a layer declares, with defaults filled for those not given (for code that builds layers). */
export function withDefaults<P extends ParamsSpec>(
  params: P,
  given: Partial<ParamValues<P>>,
): ParamValues<P> {
  const out: Record<string, unknown> = {};
  for (const [name, param] of Object.entries(params)) {
    const value = Object.hasOwn(given, name)
      ? (given as Record<string, unknown>)[name]
      : param.fallback;
    if (value === undefined && param.required)
      throw new Error(`a layer argument \`${name}\` is required`);
    if (value !== undefined) out[name] = value;
  }
  return out as ParamValues<P>;
}

/** How a shape reads in a message: "a sequence [batch, time, 16]". */
export function describeShape(s: Shape): string {
  return s.ids
    ? "token ids [batch, time]"
    : s.rank === 3
      ? `a sequence [batch, time, ${s.last ?? "features"}]`
      : `a vector [batch, ${s.last ?? "features"}]`;
}

/** The TF.js initialiser every declared layer is built with: rnnp writes the initial weights. */
export const ZEROS = "zeros" as const;
