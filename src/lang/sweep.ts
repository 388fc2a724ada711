import type * as A from "../../grammar/ast.js";
import { canonicalJson, type Json } from "../core/canonical.js";
import type { Diagnostic } from "../core/diagnostic.js";
import { didYouMean } from "./suggest.js";
import { hintOf } from "./values.js";

/**
 * Sweeps: `sweep {units: [32, 64], lr: [0.001, 0.003]}` runs the pipeline over the matrix of values.
 * Only stages that depend on a swept param (through their own arguments or their inputs) fan out;
 * the others are computed once and shared. Each variant is a stage of its own, addressed as
 * `fit[units=64,lr=0.003]`, with its own key: the rest of rnnp (keys, cache, locks) sees plain stages.
 */
export type Sweep = Map<string, A.Value[]>;

/** Reads the `sweep` setting; every name must be a declared param and every value a non-empty list of literals. */
export function readSweep(
  value: A.Value,
  declared: ReadonlySet<string>,
  file: string,
  diagnostics: Diagnostic[],
): Sweep {
  const sweep: Sweep = new Map();
  const err = (message: string, span: A.Value["span"], extra: Partial<Diagnostic> = {}) =>
    diagnostics.push({ code: "sweep", severity: "error", message, file, span, ...extra });
  if (value.type !== "object") {
    err(
      "`sweep` takes an object of lists, e.g. sweep {units: [32, 64], lr: [0.001, 0.003]}",
      value.span,
    );
    return sweep;
  }
  for (const e of value.entries) {
    if (!declared.has(e.key.text)) {
      err(`cannot sweep \`${e.key.text}\`: it is not a param`, e.key.span, {
        expected: "a param declared in `params { ... }`",
        ...hintOf(didYouMean(e.key.text, declared)),
      });
      continue;
    }
    if (e.value.type !== "list" || e.value.items.length === 0) {
      err(`the values of \`${e.key.text}\` to sweep must be a non-empty list`, e.value.span, {
        hint: `${e.key.text}: [${e.value.type === "number" ? `${e.value.raw}, ...` : "..."}]`,
      });
      continue;
    }
    if (e.value.items.some((x) => x.type === "ref" || x.type === "call")) {
      err(`the values of \`${e.key.text}\` to sweep must be literals`, e.value.span);
      continue;
    }
    sweep.set(e.key.text, e.value.items);
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

/** The variant's name: `fit[units=64,lr=0.003]`. */
export function variantName(base: string, values: ReadonlyMap<string, A.Value>): string {
  return `${base}[${[...values].map(([k, v]) => `${k}=${canonicalJson(literal(v))}`).join(",")}]`;
}

/** A literal value as JSON (calls as {call, args}; references, which literals exclude, as their text). */
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
    case "ref":
      return v.path.map((p) => p.text).join(".");
  }
}
