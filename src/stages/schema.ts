import type { Json } from "../core/canonical.js";

/**
 * Parameter types of stage kinds. A kind declares its parameters with these builders once; the
 * checker (lang/) validates what a pipeline wrote against them, fills defaults, and hands the kind's
 * run function values of the inferred TypeScript types.
 */
export type ParamType =
  | { t: "number"; int?: boolean; min?: number; max?: number; greaterThan?: number }
  | { t: "string"; oneOf?: readonly string[] }
  | { t: "bool" }
  | { t: "list"; of: ParamType; minItems?: number }
  | { t: "map"; of: ParamType }
  | { t: "call"; variants: Record<string, ParamsSpec> }
  | { t: "either"; of: readonly ParamType[] };

/**
 * A resolved `adam(lr: 0.001)`: the variant's name and its checked arguments, defaults filled. The
 * name is a literal type, so a union of calls (`CallsOf`) narrows on `switch (c.call)`.
 */
export interface CallOf<N extends string = string, A = Record<string, Json>> {
  call: N;
  args: A;
}

/** The calls a set of variants allows: `CallOf<"sgd", {lr: number, ...}> | CallOf<"adam", ...>`. */
export type CallsOf<V extends Record<string, ParamsSpec>> = {
  [K in keyof V & string]: CallOf<K, ParamValues<V[K]>>;
}[keyof V & string];

export class Param<T, Optional extends boolean = false> {
  declare readonly __value: T;
  declare readonly __optional: Optional;
  constructor(
    readonly type: ParamType,
    readonly doc: string,
    readonly fallback: Json | undefined = undefined,
    readonly isOptional: boolean = false,
    /** May be given without its name, as the first positional argument: `bidirectional(lstm(...))`. */
    readonly isPositional: boolean = false,
    /**
     * Changes what the stage records about its computation, not the computation (train's
     * `gradientFlow`): it enters the stage's key, but not the seed the stage draws from.
     */
    readonly observes: boolean = false,
  ) {}

  default(value: T & Json): Param<T, false> {
    return new Param<T, false>(this.type, this.doc, value, false, this.isPositional, this.observes);
  }

  optional(): Param<T, true> {
    return new Param<T, true>(
      this.type,
      this.doc,
      undefined,
      true,
      this.isPositional,
      this.observes,
    );
  }

  positional(): Param<T, Optional> {
    return new Param<T, Optional>(
      this.type,
      this.doc,
      this.fallback,
      this.isOptional,
      true,
      this.observes,
    );
  }

  observing(): Param<T, Optional> {
    return new Param<T, Optional>(
      this.type,
      this.doc,
      this.fallback,
      this.isOptional,
      this.isPositional,
      true,
    );
  }

  get required(): boolean {
    return this.fallback === undefined && !this.isOptional;
  }
}

export type ParamsSpec = Record<string, Param<unknown, boolean>>;

export type ParamValues<S extends ParamsSpec> = {
  [K in keyof S]: S[K] extends Param<infer T, infer O>
    ? O extends true
      ? T | undefined
      : T
    : never;
};

type NumberOptions = { min?: number; max?: number; greaterThan?: number };

/**
 * The largest integer a parameter takes unless it declares a smaller maximum: every integer rnnp
 * reads is a count or a size that ends up indexing typed arrays, so 1.2e29 (an integer to
 * JavaScript) must be refused by the checker rather than reach `new Float32Array`.
 */
export const INT_MAX = 2 ** 31 - 1;

export const p = {
  number: (doc: string, o: NumberOptions = {}) => new Param<number>({ t: "number", ...o }, doc),
  int: (doc: string, o: NumberOptions = {}) =>
    new Param<number>(
      { t: "number", int: true, ...o, max: Math.min(o.max ?? INT_MAX, INT_MAX) },
      doc,
    ),
  string: (doc: string) => new Param<string>({ t: "string" }, doc),
  oneOf: <const S extends string>(doc: string, values: readonly S[]) =>
    new Param<S>({ t: "string", oneOf: values }, doc),
  bool: (doc: string) => new Param<boolean>({ t: "bool" }, doc),
  list: <T>(item: Param<T, boolean>, doc: string, o: { minItems?: number } = {}) =>
    new Param<T[]>({ t: "list", of: item.type, ...o }, doc),
  map: <T>(item: Param<T, boolean>, doc: string) =>
    new Param<Record<string, T>>({ t: "map", of: item.type }, doc),
  call: <V extends Record<string, ParamsSpec>>(doc: string, variants: V) =>
    new Param<CallsOf<V>>({ t: "call", variants }, doc),
  either: <A, B>(doc: string, a: Param<A, boolean>, b: Param<B, boolean>) =>
    new Param<A | B>({ t: "either", of: [a.type, b.type] }, doc),
};

/** Several of a type: "strings", "lists of strings or numbers". */
function plural(type: ParamType): string {
  if (type.t === "either") return type.of.map(plural).join(" or ");
  if (type.t === "list") return `lists of ${plural(type.of)}`;
  if (type.t === "map") return `objects of ${plural(type.of)}`;
  return `${describeType(type).replace(/^an? /, "")}s`;
}

/** How a type reads in an error message: "a number >= 0", "one of \"pre\", \"post\"". */
export function describeType(type: ParamType): string {
  switch (type.t) {
    case "number": {
      const bounds = [
        type.greaterThan !== undefined ? `> ${type.greaterThan}` : undefined,
        type.min !== undefined ? `>= ${type.min}` : undefined,
        // The default ceiling of integers is not worth a mention in every message.
        type.max !== undefined && !(type.int && type.max === INT_MAX)
          ? `<= ${type.max}`
          : undefined,
      ].filter(Boolean);
      return `${type.int ? "an integer" : "a number"}${bounds.length ? ` ${bounds.join(" and ")}` : ""}`;
    }
    case "string":
      return type.oneOf
        ? `one of ${type.oneOf.map((s) => JSON.stringify(s)).join(", ")}`
        : "a string";
    case "bool":
      return "true or false";
    case "list":
      return `a list of ${plural(type.of)}`;
    case "map":
      return `an object of ${plural(type.of)}`;
    case "call":
      return `one of ${Object.keys(type.variants)
        .map((v) => `${v}(...)`)
        .join(", ")}`;
    case "either":
      return type.of.map(describeType).join(" or ");
  }
}
