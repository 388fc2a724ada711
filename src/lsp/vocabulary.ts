import type { TokenType } from "chevrotain";
import * as T from "../../grammar/tokens.js";
import { kinds } from "../kinds/registry.js";
import { SETTING_NAMES } from "../lang/check.js";
import { LAYERS } from "../numerics/layers/index.js";
import type { BlockSpec } from "../stages/kind.js";
import type { ParamsSpec, ParamType } from "../stages/schema.js";

/**
 * The words an editor knows, read off the declarations they come from: keywords from the Chevrotain
 * tokens, stage kinds from the kinds' registry, layers from the layers' registry, the parts of
 * blocks (`encoder { ... }`) and the named calls (`adam(...)`) from the kinds' parameter types, the
 * settings from the checker. The TextMate grammar and the language server both read them here, so
 * a new kind, layer or keyword reaches the editor without anyone writing its name twice.
 */
export interface Vocabulary {
  /** Words the lexer reserves that start declarations: `pipeline`, `stage`, `params`. */
  keywords: string[];
  /** Reserved words that are values: `true`, `false`. */
  constants: string[];
  /** Stage kinds: `load.csv`, `clean`, `train`... */
  kinds: string[];
  /** Layers a model block holds: `lstm`, `dense`... */
  layers: string[];
  /** Items of blocks that are not layers: `encoder`, `decoder`. */
  blockParts: string[];
  /** Named calls that are not layers, as parameter values: `adam`, `sgd`, schedules... */
  calls: string[];
  /** Pipeline-wide settings: `seed`, `backend`... */
  settings: string[];
}

/** A keyword token's word: tokens.ts makes them with `createToken({pattern: /word\b/, longer_alt: Identifier})`. */
export function keywordOf(token: TokenType): string | undefined {
  const pattern = token.PATTERN;
  if (!(pattern instanceof RegExp) || token.LONGER_ALT !== T.Identifier) return undefined;
  return /^([A-Za-z_][A-Za-z0-9_]*)\\b$/.exec(pattern.source)?.[1];
}

/** The reserved words that are values rather than declarations. */
const VALUE_WORDS: ReadonlySet<TokenType> = new Set([T.True, T.False]);

export function vocabulary(): Vocabulary {
  const reserved = T.allTokens.filter((t) => keywordOf(t) !== undefined);
  const layers = LAYERS.all.map((l) => l.name);
  const layerSet = new Set(layers);
  const parts = new Set<string>();
  const calls = new Set<string>();
  const seeParams = (spec: ParamsSpec) => {
    for (const param of Object.values(spec)) seeType(param.type);
  };
  const seeType = (type: ParamType): void => {
    if (type.t === "list" || type.t === "map") seeType(type.of);
    else if (type.t === "either") for (const t of type.of) seeType(t);
    else if (type.t === "call")
      for (const [name, spec] of Object.entries(type.variants)) {
        if (!layerSet.has(name)) calls.add(name);
        seeParams(spec);
      }
  };
  const seeBlock = (block: BlockSpec) => {
    for (const [name, spec] of Object.entries(block.items)) {
      if (!layerSet.has(name)) parts.add(name);
      seeParams(spec);
    }
    for (const nested of Object.values(block.nested ?? {})) seeBlock(nested);
  };
  for (const kind of kinds.values()) {
    seeParams(kind.params);
    if (kind.block) seeBlock(kind.block);
  }
  for (const layer of LAYERS.all) seeParams(layer.params);
  return {
    keywords: reserved.filter((t) => !VALUE_WORDS.has(t)).map((t) => keywordOf(t)!),
    constants: reserved.filter((t) => VALUE_WORDS.has(t)).map((t) => keywordOf(t)!),
    kinds: [...kinds.keys()],
    layers,
    blockParts: [...parts],
    calls: [...calls],
    settings: [...SETTING_NAMES],
  };
}
