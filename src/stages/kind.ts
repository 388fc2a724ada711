import type { Diagnostic } from "../core/diagnostic.js";
import type {
  ArtifactTypeName,
  ArtifactTypes,
  Artifact,
  ArtifactInfo,
  InfoOf,
} from "../artifacts/index.js";
import type { ColumnReads } from "../artifacts/table.js";
import type { Runtime } from "../runtime/descriptor.js";
import type { TF } from "../runtime/descriptor.js";
import type { CallOf, ParamsSpec, ParamValues } from "./schema.js";

/**
 * A stage kind declares everything about itself in one place: name, implementation version,
 * parameters, inputs, outputs, what it reads from disk, whether it is random and whether its bytes
 * depend on the numeric backend, and how it runs. The checker, the planner (keys) and the runner all
 * read this declaration; nothing about a kind is written anywhere else except its line in registry.ts.
 */
export interface InputSpec<T extends ArtifactTypeName = ArtifactTypeName> {
  type: T;
  doc: string;
  optional?: boolean;
  /**
   * Accepts a whole multi-output stage (`parts`) as well as one artifact (`parts.train`), or named
   * artifacts assembled into a bundle (`{train: parts.train, other: more.out}`).
   */
  bundle?: boolean;
  /**
   * Accepts several named artifacts (`{inDomain: seqs.test, otherVoices: voices.test}`) as well as
   * one: the kind receives one artifact, or a bundle of the named ones.
   */
  named?: boolean;
}

export type InputsSpec = Record<string, InputSpec>;

/** A bundle: output name -> artifact, in the producing stage's output order. */
export type Bundle<T> = ReadonlyMap<string, T>;

export type InputValues<I extends InputsSpec> = {
  [K in keyof I]: I[K] extends InputSpec<infer T>
    ?
        | (I[K]["bundle"] extends true ? Bundle<ArtifactTypes[T]> : ArtifactTypes[T])
        | (I[K]["named"] extends true ? Bundle<ArtifactTypes[T]> : never)
        | (I[K]["optional"] extends true ? undefined : never)
    : never;
};

/** What is known before running of each input, by its slot: sequences' target, a model's size... */
export type InputInfos<I extends InputsSpec> = {
  [K in keyof I]: InfoOf<I[K]["type"]> | undefined;
};

export interface ParamProblem {
  /** The parameter to point at (`layers.2` for the third item of a block); the stage itself when absent. */
  param?: string;
  message: string;
  hint?: string;
  /** What kind of problem (default `param-rule`): `too-large` for sizes beyond rnnp's limits. */
  code?: "param-rule" | "too-large";
}

export interface StageContext {
  /** The stage's seed, derived from the pipeline seed and the stage's key material; never 0. */
  readonly seed: number;
  /** An independent seeded stream per purpose ("split", "shuffle:3"), so adding a draw in one place moves no other. */
  rng(purpose: string): () => number;
  /** A path as written in the pipeline, made absolute (relative to the pipeline file; `npm:pkg/file` from node_modules). */
  resolvePath(path: string): string;
  /** The digest of a single-artifact input, as the stage's key and the lockfile record it. */
  inputDigest(slot: string): string | undefined;
  /** Progress of a long stage; the CLI decides whether and how to draw it. */
  progress(done: number, total: number, unit?: string): void;
  log(message: string): void;
  readonly signal: AbortSignal;
  /** TensorFlow.js on the pipeline's backend, loaded on first use. */
  tf(): Promise<TF>;
  /** The numeric runtime (backend and version) this stage computes with. */
  readonly runtime: Runtime | undefined;
  /** A diagnostic pointing at one of this stage's parameters in the pipeline file (`layers.2`), for errors found while running. */
  problem(param: string | undefined, message: string, hint?: string): Diagnostic;
  /** For resumable kinds: the checkpoint to continue from (its step count and outputs), if any. */
  readonly resume?: { step: number; outputs: Record<string, Artifact> };
  /**
   * For resumable kinds: the outputs the stage would give if its count were `step` (kept by the
   * runner's retention policy as a checkpoint record; ignored otherwise).
   */
  checkpoint?(step: number, outputs: Record<string, Artifact>): void;
}

/** A block of nested invocations (`model { lstm(...) dense(...) }`), checked item by item and passed as one list parameter. */
export interface BlockSpec {
  /** The parameter the list of items arrives in, e.g. "layers". */
  param: string;
  doc: string;
  /** Item name -> its parameters. */
  items: Record<string, ParamsSpec>;
  /** Items that hold a block of their own (`encoder { ... }`): item name -> that block's spec. Resolved as `{call, args, block: [...]}`. */
  nested?: Record<string, BlockSpec>;
}

/** A block spec that keeps its literal names, so that a kind's run and check see typed items. */
export interface TypedBlock<
  Name extends string,
  Items extends Record<string, ParamsSpec>,
  Nested extends Record<string, BlockSpec>,
> extends BlockSpec {
  param: Name;
  items: Items;
  nested?: Nested;
}

/** One resolved item of a block: `{call: "lstm", args: {...}}`, with `block: [...]` for items that hold one. */
export type BlockItem<B extends BlockSpec> = {
  [K in keyof B["items"] & string]: CallOf<K, ParamValues<B["items"][K]>> &
    (B extends TypedBlock<string, B["items"], infer Nested>
      ? K extends keyof Nested
        ? { block: BlockItem<Nested[K]>[] }
        : unknown
      : unknown);
}[keyof B["items"] & string];

/** The parameter a block arrives in, typed: `{layers: BlockItem<...>[]}`; nothing for kinds without a block. */
export type BlockValues<B extends BlockSpec | undefined> = B extends BlockSpec
  ? { [K in B["param"]]: BlockItem<B>[] }
  : unknown;

export function defineBlock<
  const Name extends string,
  Items extends Record<string, ParamsSpec>,
  Nested extends Record<string, BlockSpec> = Record<never, BlockSpec>,
>(b: TypedBlock<Name, Items, Nested>): TypedBlock<Name, Items, Nested> {
  return b;
}

/** What a kind's functions receive: its parameters, and its block's items when it has one. */
export type KindParams<P extends ParamsSpec, B extends BlockSpec | undefined> = ParamValues<P> &
  BlockValues<B>;

export interface KindDef<
  P extends ParamsSpec,
  I extends InputsSpec,
  O extends ArtifactTypeName,
  B extends BlockSpec | undefined = undefined,
> {
  name: string;
  /** Bump when the bytes this kind produces for the same inputs change: it is part of every key. */
  version: number;
  doc: string;
  params: P;
  /** In positional order: `clean(raw)` binds `raw` to the first input. */
  inputs: I;
  /** Fixed output names, or the member names of a bundle input (a `clean` of `parts` gives train/val/test). */
  outputs: readonly string[] | { mirror: keyof I & string };
  outputType: O;
  /** Draws random numbers: gets a seed, and the pipeline seed enters its key. */
  random: boolean;
  /** Output bytes depend on the numeric backend: the backend's name and version enter its key. */
  backendDependent: boolean;
  /**
   * Parameters and inputs that do not enter a random kind's seed (they still enter its key): for
   * train, `epochs` (a longer training draws the same shuffles and dropout masks for its first
   * epochs, so it can resume a shorter one) and `init` with its companions (a fine-tune draws what
   * training from scratch draws: a controlled comparison).
   */
  seedIgnores?: { params?: readonly string[]; inputs?: readonly string[] };
  /**
   * A kind whose run is a sequence of steps counted by one integer parameter (train's `epochs`): the
   * state after step n is what the stage gives with that parameter set to n. So the runner keeps
   * checkpoints as the records of those smaller stages (the same key with `param: n`): lowering the
   * count is a cache hit, raising it resumes from the last checkpoint. `blocked` says why not for a
   * given set of parameters (a schedule over the total count makes every step depend on it).
   */
  resumable?: { param: keyof P & string; blocked?(params: KindParams<P, B>): string | undefined };
  /** The block this kind takes, if any. */
  block?: B;
  /**
   * What can be known of the outputs before running (e.g. token or feature sequences, class or value
   * targets), from the parameters and what is known of the inputs. Lets `check` catch shape errors.
   */
  describe?(params: KindParams<P, B>, inputs: InputInfos<I>): InfoOf<O> | undefined;
  /** Cross-parameter rules (fractions summing to 1, layer shapes...), checked before anything runs. */
  check?(
    params: KindParams<P, B>,
    inputs: InputInfos<I>,
    /** For inputs given several named artifacts (`{a: x.test, b: y.test}`): slot -> their names. */
    members?: Readonly<Record<string, readonly string[]>>,
  ): ParamProblem[];
  /**
   * External programs whose output this kind's bytes depend on (e.g. espeak-ng): name -> version,
   * read at plan time; they enter the key. Throws, with a hint, when a program is missing.
   */
  tools?(): Record<string, string>;
  /** Paths (as written) this stage reads; their content digests enter its key. */
  files?(params: KindParams<P, B>): string[];
  /**
   * The columns this kind reads of a table input, by slot, from its parameters: by name, by role (the
   * column each of the input's tables names as its label, time...), or every column of some types.
   * Only those are decoded (window's input holds a text column it never reads: a million strings);
   * the others are there with their names, types and row counts, but reading a value of one throws
   * an internal error naming the kind and the column. Without it, a slot gets whole tables.
   */
  reads?: {
    [K in keyof I as I[K]["type"] extends "table" ? K : never]?: (
      params: KindParams<P, B>,
    ) => ColumnReads;
  };
  run(
    ctx: StageContext,
    inputs: InputValues<I>,
    params: KindParams<P, B>,
  ): Promise<Record<string, ArtifactTypes[O]>> | Record<string, ArtifactTypes[O]>;
  /**
   * For kinds whose result also lives outside the cache (an exported model directory): brings it in
   * line with the artifact after every run, whether the stage ran or came from the cache.
   */
  materialize?(
    ctx: StageContext,
    outputs: Record<string, ArtifactTypes[O]>,
    params: KindParams<P, B>,
  ): Promise<void> | void;
}

export type AnyKind = KindDef<ParamsSpec, InputsSpec, ArtifactTypeName, BlockSpec | undefined> & {
  run(
    ctx: StageContext,
    inputs: Record<string, unknown>,
    params: Record<string, unknown>,
  ): Promise<Record<string, Artifact>> | Record<string, Artifact>;
  materialize?(
    ctx: StageContext,
    outputs: Record<string, Artifact>,
    params: Record<string, unknown>,
  ): Promise<void> | void;
  describe?(
    params: Record<string, unknown>,
    inputs: Record<string, ArtifactInfo | undefined>,
  ): ArtifactInfo | undefined;
  check?(
    params: Record<string, unknown>,
    inputs: Record<string, ArtifactInfo | undefined>,
    members?: Readonly<Record<string, readonly string[]>>,
  ): ParamProblem[];
  reads?: Readonly<Record<string, ((params: Record<string, unknown>) => ColumnReads) | undefined>>;
};

export function defineKind<
  P extends ParamsSpec,
  I extends InputsSpec,
  O extends ArtifactTypeName,
  B extends BlockSpec | undefined = undefined,
>(def: KindDef<P, I, O, B>): AnyKind {
  return def as unknown as AnyKind;
}

/** Whether an input that accepts named artifacts was given several (a bundle) or one. */
export function isBundle<T>(x: T | Bundle<T>): x is Bundle<T> {
  return x instanceof Map;
}
