import type * as A from "../../grammar/ast.js";
import { canonicalJson, type Json } from "../core/canonical.js";
import { Collector } from "../core/diagnostic.js";
import { type Digraph, topologicalOrder } from "../core/graph.js";
import type { InputRef, StageIR } from "./ir.js";
import { evaluateParams, type ParamDecl, resolveParamValue } from "./params.js";
import { draftStage, type StageDraft } from "./stages.js";
import { didYouMean } from "./suggest.js";

/**
 * Sweeps: `sweep {units: [32, 64], lr: [0.001, 0.003]}` runs the pipeline over the matrix of values.
 * Only stages that depend on a swept param (through their own arguments, the params those are
 * derived from, or their inputs) fan out; the others are computed once and shared. Each variant is
 * a stage of its own, addressed as `fit@units=64+lr=0.003`, with its own key: the rest of rnnp
 * (keys, cache, locks) sees plain stages.
 */
export type Sweep = Map<string, A.Value[]>;

/** More variants than this is a typo (or an attack), not an experiment. */
export const MAX_VARIANTS = 10_000;

/**
 * Reads the `sweep` setting; every name must be a declared param and every value a non-empty list of
 * literals (arithmetic is evaluated: `[2 * 16]` sweeps 32).
 */
export function readSweep(
  value: A.Value,
  declared: ReadonlyMap<string, ParamDecl>,
  out: Collector,
): Sweep {
  const sweep: Sweep = new Map();
  if (value.type !== "object") {
    out.report(
      "sweep",
      "`sweep` takes an object of lists, e.g. sweep {units: [32, 64], lr: [0.001, 0.003]}",
      value.span,
    );
    return sweep;
  }
  const scope = {
    file: out.file ?? "",
    params: new Map(),
    stageNames: new Set<string>(),
    used: new Set<string>(),
    out,
  };
  for (const e of value.entries) {
    const name = e.key.text;
    if (!declared.has(name)) {
      out.report("sweep", `cannot sweep \`${name}\`: it is not a param`, e.key.span, {
        expected: "a param declared in `params { ... }`",
        hint: didYouMean(name, declared.keys()),
      });
      continue;
    }
    if (sweep.has(name)) {
      out.report("sweep", `\`${name}\` is swept twice`, e.key.span);
      continue;
    }
    if (e.value.type !== "list" || e.value.items.length === 0) {
      out.report(
        "sweep",
        `the values of \`${name}\` to sweep must be a non-empty list`,
        e.value.span,
        {
          hint: `${name}: [${e.value.type === "number" ? `${e.value.raw}, ...` : "..."}]`,
        },
      );
      continue;
    }
    if (e.value.items.some((x) => x.type === "ref" || x.type === "call")) {
      out.report("sweep", `the values of \`${name}\` to sweep must be literals`, e.value.span);
      continue;
    }
    const items = e.value.items.map((x) => resolveParamValue(x, scope));
    if (items.every((x) => x !== undefined)) sweep.set(name, items);
  }
  const count = [...sweep.values()].reduce((n, vs) => n * vs.length, 1);
  if (count > MAX_VARIANTS) {
    out.report(
      "sweep",
      `the sweep has ${count} combinations, more than ${MAX_VARIANTS}`,
      value.span,
      {
        hint: "sweep fewer values, or split the experiment in several pipelines",
      },
    );
    return new Map();
  }
  return sweep;
}

/** All combinations of the given params' values, in sweep order (the first param varies slowest). */
export function combinations(sweep: Sweep, names: readonly string[]): Map<string, A.Value>[] {
  let out: Map<string, A.Value>[] = [new Map()];
  for (const name of names)
    out = out.flatMap((c) => sweep.get(name)!.map((v) => new Map([...c, [name, v]])));
  return out;
}

/**
 * The variant's name: `fit@units=64+lr=0.003`, typed unquoted in bash, zsh, fish and PowerShell. No
 * brackets (zsh globs `fit[...]`), commas (PowerShell's array operator), spaces, quotes or `$`; `@`,
 * `=`, `+`, `.` and `-` inside a word are literal in all four. A string value is written bare when
 * it is a plain word (`path=d.csv`), quoted as JSON when it could be read as another value or holds
 * other characters (then the name needs shell quotes). `fit[units=64,lr=0.003]`, the spelling before,
 * is still accepted as input (parseVariantName).
 */
export function variantName(base: string, values: ReadonlyMap<string, A.Value>): string {
  return spellVariant(base, new Map([...values].map(([k, v]) => [k, literal(v)])));
}

/** The name of the variant of `base` with these (evaluated) values. */
export function spellVariant(base: string, values: ReadonlyMap<string, Json>): string {
  return `${base}@${[...values].map(([k, v]) => `${k}=${valueText(v)}`).join("+")}`;
}

/** A name in the spelling before `@` (`fit[units=64,lr=0.003]`) in today's; other names as they are. */
export function currentSpelling(name: string): string {
  if (!name.endsWith("]")) return name;
  const v = parseVariantName(name);
  return v ? spellVariant(v.of, v.values) : name;
}

/** A swept value as a variant's name writes it. */
export function valueText(v: Json): string {
  return typeof v === "string" && BARE.test(v) && !["true", "false", "null"].includes(v)
    ? v
    : canonicalJson(v);
}

/** A string written bare: starts as no number does, and holds only characters no shell expands. */
const BARE = /^[A-Za-z_./][\w./-]*$/;

/**
 * A variant's name as a user may type it: `fit@units=64+lr=0.003` (values bare or JSON, in any order
 * of params), or the older `fit[units=64,lr=0.003]`. Undefined when it is not such a name.
 */
export function parseVariantName(
  name: string,
): { of: string; values: Map<string, Json> } | undefined {
  const m = /^([A-Za-z_]\w*)(?:@(.+)|\[(.+)\])$/s.exec(name);
  if (!m) return undefined;
  const pairs = m[2] !== undefined ? splitPairs(m[2], "+") : splitPairs(m[3]!, ",");
  const values = new Map<string, Json>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const key = pair.slice(0, eq);
    if (eq < 1 || !/^[A-Za-z_]\w*$/.test(key) || values.has(key)) return undefined;
    values.set(key, readValue(pair.slice(eq + 1)));
  }
  return { of: m[1]!, values };
}

/**
 * `k=v+k=v` split at each separator that is outside a JSON string, list or object and followed by
 * the next `name=`.
 */
function splitPairs(text: string, separator: string): string[] {
  const pairs: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    else if (c === separator && depth === 0 && /^[A-Za-z_]\w*=/.test(text.slice(i + 1))) {
      pairs.push(text.slice(start, i));
      start = i + 1;
    }
  }
  pairs.push(text.slice(start));
  return pairs;
}

/** A value typed in a variant's name: JSON when it reads as JSON, else the bare string itself. */
function readValue(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** Whether a variant has exactly these values (each compared as canonical JSON). */
export function sameValues(
  variant: Record<string, Json>,
  values: ReadonlyMap<string, Json>,
): boolean {
  const keys = Object.keys(variant);
  return (
    keys.length === values.size &&
    keys.every((k) => values.has(k) && canonicalJson(values.get(k)) === canonicalJson(variant[k]))
  );
}

/**
 * A literal value as JSON (calls as {call, args}; references, which literals exclude, as their
 * text). Only for values the checker evaluated: arithmetic is already a number by then.
 */
export function literal(v: A.Value): Json {
  switch (v.type) {
    case "number":
    case "string":
    case "bool":
      return v.value;
    case "list":
      return v.items.map(literal);
    case "object":
      return Object.fromEntries(v.entries.map((e) => [e.key.text, literal(e.value)]));
    case "call":
      return {
        call: v.name.text,
        args: Object.fromEntries(
          v.args.map((a, i) => [a.name?.text ?? String(i), literal(a.value)]),
        ),
      };
    case "group":
      return literal(v.value);
    case "ref":
    case "arithmetic":
    case "negated":
      return printed(v);
  }
}

function printed(v: A.Value): string {
  return v.type === "ref" ? v.path.map((p) => p.text).join(".") : v.type;
}

export interface Expansion {
  drafts: ReadonlyMap<string, StageDraft>;
  /** The drafts' names, inputs before the stages that read them. */
  order: readonly string[];
  sweep: Sweep;
  declared: ReadonlyMap<string, ParamDecl>;
  /** Which params each param's value uses. */
  paramGraph: Digraph;
  file: string;
  stageNames: ReadonlySet<string>;
  out: Collector;
  toIR: (
    d: StageDraft,
    name?: string,
    inputs?: Record<string, InputRef>,
    variant?: StageIR["variant"],
  ) => StageIR;
  /** A kind's rules over several parameters at once, for each variant. */
  kindRules: (d: StageDraft, out: Collector) => void;
}

/**
 * Fans out the stages that depend on swept params, directly, through derived params or through
 * their inputs: one variant per combination of the values of the params it depends on, wired to
 * the matching upstream variants.
 */
export function expandSweep(x: Expansion): StageIR[] {
  const swept = [...x.sweep.keys()];
  const sweptOf = sweptParamsOfParams(x);
  const deps = new Map<string, string[]>();
  for (const name of x.order) {
    const d = x.drafts.get(name)!;
    const mine = new Set<string>();
    for (const refs of Object.values(d.paramOrigins))
      for (const r of refs) for (const p of sweptOf.get(r) ?? []) mine.add(p);
    for (const ref of Object.values(d.inputs)) for (const p of deps.get(ref.stage)!) mine.add(p);
    deps.set(
      name,
      swept.filter((p) => mine.has(p)),
    );
  }
  const seen = new Set<string>();
  const report = (c: Collector, variant: string) => {
    for (const d of c.diagnostics) {
      const id = `${d.code}\0${d.message}\0${d.span?.start.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      x.out.add({ ...d, message: `${d.message} (in sweep variant ${variant})` });
    }
  };
  const paramsFor = memoParams(x);
  const out: StageIR[] = [];
  for (const [name, d] of x.drafts) {
    const mine = deps.get(name)!;
    if (mine.length === 0) {
      out.push(x.toIR(d));
      continue;
    }
    for (const combo of combinations(x.sweep, mine)) {
      const vname = variantName(name, combo);
      const local = new Collector(x.file);
      const v = draftStage(d.decl, {
        file: x.file,
        params: paramsFor(combo, local),
        stageNames: x.stageNames,
        used: new Set(),
        out: local,
      });
      if (v?.params) x.kindRules(v, local);
      report(local, vname);
      if (!v?.params) continue;
      const inputs = Object.fromEntries(
        Object.entries(v.inputs).map(([slot, ref]) => {
          const up = deps.get(ref.stage)!;
          return [
            slot,
            up.length
              ? {
                  ...ref,
                  stage: variantName(ref.stage, new Map(up.map((p) => [p, combo.get(p)!]))),
                }
              : ref,
          ];
        }),
      );
      out.push(
        x.toIR(v, vname, inputs, {
          of: name,
          values: Object.fromEntries([...combo].map(([k, val]) => [k, literal(val)])),
        }),
      );
    }
  }
  return out;
}

/** For each param, the swept params its value depends on (itself, if swept: a sweep replaces it). */
function sweptParamsOfParams(x: Expansion): Map<string, Set<string>> {
  const of = new Map<string, Set<string>>();
  // The graph's edges go from a param to those it uses: reversed, dependencies come first.
  for (const p of topologicalOrder(x.paramGraph).order.reverse()) {
    const set = new Set<string>();
    if (x.sweep.has(p)) set.add(p);
    else for (const u of x.paramGraph.successors(p)) for (const s of of.get(u) ?? []) set.add(s);
    of.set(p, set);
  }
  return of;
}

/** The params of one combination of swept values, evaluated once per combination. */
function memoParams(x: Expansion) {
  const memo = new Map<string, ReturnType<typeof evaluateParams>>();
  return (combo: ReadonlyMap<string, A.Value>, out: Collector) => {
    const key = variantName("", combo);
    let params = memo.get(key);
    if (!params) {
      const declared = new Map(x.declared);
      for (const [k, v] of combo) declared.set(k, { ...declared.get(k)!, value: v });
      params = evaluateParams(declared, x.paramGraph, {
        file: x.file,
        stageNames: x.stageNames,
        used: new Set(),
        out,
      });
      memo.set(key, params);
    }
    return params;
  };
}
