import { kinds } from "../kinds/registry.js";
import { LAYERS } from "../numerics/layers/index.js";
import type { AnyKind, BlockSpec, InputSpec } from "../stages/kind.js";
import { describeType, type Param, type ParamsSpec, type ParamType } from "../stages/schema.js";

/**
 * What an editor shows of a declaration: the parameters a kind, a layer or a call takes, with their
 * types, defaults and docs, read from the kinds' and layers' own declarations (src/kinds,
 * src/numerics/layers): nothing here is written twice.
 */
export interface Callee {
  /** `kind`, `layer`, `part` (a block's part: `encoder`), or `call` (`adam`). */
  what: "kind" | "layer" | "part" | "call";
  name: string;
  doc?: string;
  params: ParamsSpec;
  /** A kind's inputs, which may be named too (`validation: seqs.val`). */
  inputs?: Record<string, InputSpec>;
  /** The block this takes (`model { ... }`, `encoder { ... }`). */
  block?: BlockSpec;
  /** A kind's fixed outputs (absent for kinds that mirror a bundle input's). */
  outputs?: readonly string[];
}

export function kindCallee(name: string): Callee | undefined {
  const kind = kinds.get(name);
  return kind && fromKind(kind);
}

function fromKind(kind: AnyKind): Callee {
  return {
    what: "kind",
    name: kind.name,
    doc: kind.doc,
    params: kind.params,
    inputs: kind.inputs,
    ...(kind.block ? { block: kind.block } : {}),
    ...(Array.isArray(kind.outputs) ? { outputs: kind.outputs as readonly string[] } : {}),
  };
}

/** An item of a block: a layer (with its own doc), or a part holding a nested block. */
export function blockItemCallee(block: BlockSpec, name: string): Callee | undefined {
  if (!Object.hasOwn(block.items, name)) return undefined;
  const nested = block.nested && Object.hasOwn(block.nested, name) ? block.nested[name] : undefined;
  const layer = LAYERS.get(name);
  return {
    what: layer ? "layer" : "part",
    name,
    ...(layer ? { doc: layer.doc } : nested ? { doc: nested.doc } : {}),
    params: block.items[name]!,
    ...(nested ? { block: nested } : {}),
  };
}

/** A named call written as the value of a parameter of this type (`optimizer: adam(...)`). */
export function callCallee(type: ParamType | undefined, name: string): Callee | undefined {
  if (!type) return undefined;
  if (type.t === "either")
    for (const t of type.of) {
      const found = callCallee(t, name);
      if (found) return found;
    }
  if (type.t === "list" || type.t === "map") return callCallee(type.of, name);
  if (type.t !== "call" || !Object.hasOwn(type.variants, name)) return undefined;
  const layer = LAYERS.get(name);
  return {
    what: layer ? "layer" : "call",
    name,
    ...(layer ? { doc: layer.doc } : {}),
    params: type.variants[name]!,
  };
}

/** The call variants a type allows, for completion after `optimizer: `. */
export function callsOf(type: ParamType): string[] {
  if (type.t === "call") return Object.keys(type.variants);
  if (type.t === "either") return type.of.flatMap(callsOf);
  return [];
}

/** The parameter a positional argument binds (`bidirectional(lstm(...))` binds `layer`). */
export function positionalParam(callee: Callee): [string, Param<unknown, boolean>] | undefined {
  return Object.entries(callee.params).find(([, p]) => p.isPositional);
}

/** `an integer >= 1`, with its default: the one line shown beside a parameter's name. */
export function paramSummary(param: Param<unknown, boolean>): string {
  const type = describeType(param.type);
  if (param.fallback !== undefined) return `${type} (default ${JSON.stringify(param.fallback)})`;
  return `${type} (${param.isOptional ? "optional" : "required"})`;
}

/** A parameter's hover and completion documentation, in Markdown. */
export function paramMarkdown(owner: Callee, name: string, param: Param<unknown, boolean>): string {
  return [
    `**${name}**: ${paramSummary(param)}`,
    "",
    param.doc,
    "",
    `_parameter of ${owner.what} \`${owner.name}\`_`,
  ].join("\n");
}

export function inputMarkdown(owner: Callee, name: string, input: InputSpec): string {
  return [
    `**${name}**: input, ${input.bundle ? `${input.type} (or a bundle of them)` : input.type}${input.optional ? " (optional)" : " (required)"}`,
    "",
    input.doc,
    "",
    `_input of ${owner.what} \`${owner.name}\`_`,
  ].join("\n");
}

/** A kind's, layer's or call's signature and doc, in Markdown. */
export function calleeMarkdown(callee: Callee): string {
  const inputs = Object.entries(callee.inputs ?? {}).map(
    ([n, i]) => `${n}${i.optional ? "?" : ""}: ${i.type}`,
  );
  const params = Object.entries(callee.params).map(([n, p]) => `${n}: ${paramSummary(p)}`);
  const lines = [`**${callee.name}** (${callee.what})`];
  if (callee.doc) lines.push("", callee.doc);
  if (inputs.length) lines.push("", `inputs: ${inputs.join(", ")}`);
  if (params.length) lines.push("", "parameters:", ...params.map((p) => `- ${p}`));
  if (callee.block) lines.push("", `block: ${callee.block.doc}`);
  return lines.join("\n");
}

/** Every kind, for completion after `stage x = `. */
export function allKinds(): Callee[] {
  return [...kinds.values()].map(fromKind);
}
