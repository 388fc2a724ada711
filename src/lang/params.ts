import type * as A from "../../grammar/ast.js";
import { type Collector, diagnostic, type Span } from "../core/diagnostic.js";
import { cycles, Digraph, describeCycle, topologicalOrder } from "../core/graph.js";
import { computed, evaluateNumber } from "./arithmetic.js";
import type { Override } from "./check.js";
import { didYouMean, listNames } from "./suggest.js";
import { lookupParam, type PipelineParam, type ValueScope } from "./values.js";

/**
 * Pipeline params: `params { base = 32, units = params.base * 2 }`. A param's value may use other
 * params and arithmetic; it is evaluated once, in dependency order, to a literal that stages read.
 * `-P` and sweeps replace a param's value as written, so the params derived from it follow.
 */
export interface ParamDecl {
  name: string;
  /** As written, or as given with -P or by a sweep variant. */
  value: A.Value;
  span: Span;
  nameSpan: Span;
  /** The text after `-P name=`, when overridden. */
  override?: string;
}

/** Declared params by name, in declaration order; the first of two with one name wins. */
export function readParams(ast: A.PipelineAst, out: Collector): Map<string, ParamDecl> {
  const declared = new Map<string, ParamDecl>();
  for (const item of ast.items) {
    if (item.type !== "params") continue;
    for (const pd of item.params) {
      const prior = declared.get(pd.name.text);
      if (prior)
        out.report("duplicate-param", `param \`${pd.name.text}\` is declared twice`, pd.name.span, {
          hint: `the first is at line ${prior.nameSpan.start.line}`,
        });
      else
        declared.set(pd.name.text, {
          name: pd.name.text,
          value: pd.value,
          span: pd.span,
          nameSpan: pd.name.span,
        });
    }
  }
  return declared;
}

/** `-P name=value`: replaces the declared value; naming no declared param is an error. */
export function applyOverrides(
  declared: Map<string, ParamDecl>,
  overrides: readonly Override[],
  out: Collector,
): void {
  for (const o of overrides) {
    const p = declared.get(o.name);
    if (p) declared.set(o.name, { ...p, value: o.value, override: o.text });
    // Not in the file: a diagnostic without a place.
    else
      out.add(
        diagnostic(
          "unknown-override",
          `-P ${o.name}: the pipeline has no param \`${o.name}\``,
          {},
          {
            expected: declared.size
              ? `one of ${listNames(declared.keys())}`
              : "a param declared in `params { ... }`",
            hint: didYouMean(o.name, declared.keys()),
          },
        ),
      );
  }
}

/** The params that some param's value refers to. */
export function paramsUsedByParams(declared: ReadonlyMap<string, ParamDecl>): Set<string> {
  const used = new Set<string>();
  for (const p of declared.values()) forEachParamRef(p.value, (ref) => used.add(ref));
  return used;
}

/** Which params each param's value refers to (`units -> base` for `units = params.base * 2`). */
export function paramGraph(declared: ReadonlyMap<string, ParamDecl>): Digraph {
  const g = new Digraph();
  for (const [name, p] of declared) {
    g.addNode(name);
    forEachParamRef(p.value, (ref) => {
      if (declared.has(ref)) g.addEdge(name, ref);
    });
  }
  return g;
}

/** Params that refer to each other in a cycle, each cycle reported once at its first param. */
export function reportParamCycles(
  declared: ReadonlyMap<string, ParamDecl>,
  graph: Digraph,
  out: Collector,
): void {
  for (const path of cycles(graph)) {
    const first = declared.get(path[0]!)!;
    out.report(
      "param-cycle",
      path.length === 1
        ? `param \`${path[0]}\` is defined from itself`
        : `params form a cycle: ${describeCycle(path)}`,
      first.nameSpan,
      { hint: "a param may use other params, but not itself, directly or through others" },
    );
  }
}

/**
 * Every param's value, evaluated in dependency order. A param on a cycle, or one using a param that
 * failed, gets no value and no second report; uses of it are skipped as already reported.
 */
export function evaluateParams(
  declared: ReadonlyMap<string, ParamDecl>,
  graph: Digraph,
  scope: Omit<ValueScope, "params">,
): Map<string, PipelineParam> {
  const values = new Map<string, PipelineParam>();
  const { order } = topologicalOrder(graph);
  const evaluable = new Set(order);
  for (const name of [...order].reverse()) {
    const p = declared.get(name)!;
    const ok = graph.successors(name).every((d) => values.get(d)?.value !== undefined);
    const value = ok ? resolveParamValue(p.value, { ...scope, params: values }) : undefined;
    values.set(name, {
      ...(value ? { value } : {}),
      ...(p.override !== undefined ? { override: p.override } : {}),
    });
  }
  // On or behind a cycle: known, without a value.
  for (const [name, p] of declared)
    if (!evaluable.has(name))
      values.set(name, p.override !== undefined ? { override: p.override } : {});
  // In declaration order, for messages that list params.
  return new Map([...declared.keys()].map((n) => [n, values.get(n)!]));
}

/**
 * A param's value as a literal: arithmetic computed, `params.X` replaced by X's value. Stage
 * references have no place in a param (a param is a value; stages bind inputs).
 */
export function resolveParamValue(v: A.Value, scope: ValueScope): A.Value | undefined {
  switch (v.type) {
    case "number":
      return evaluateNumber(v, scope) === undefined ? undefined : v;
    case "string":
    case "bool":
      return v;
    case "group":
      return resolveParamValue(v.value, scope);
    case "arithmetic":
    case "negated": {
      const n = evaluateNumber(v, scope);
      return n === undefined ? undefined : computed(v, n);
    }
    case "list": {
      const items = v.items.map((x) => resolveParamValue(x, scope));
      return items.every((x) => x !== undefined) ? { ...v, items } : undefined;
    }
    case "object": {
      const entries = v.entries.map((e) => {
        const value = resolveParamValue(e.value, scope);
        return value && { ...e, value };
      });
      return entries.every((x) => x !== undefined) ? { ...v, entries } : undefined;
    }
    case "call": {
      const args = v.args.map((a) => {
        const value = resolveParamValue(a.value, scope);
        return value && { ...a, value };
      });
      return args.every((x) => x !== undefined) ? { ...v, args } : undefined;
    }
    case "ref": {
      const head = v.path[0]!.text;
      if (head === "params") return lookupParam(v, scope)?.value;
      if (scope.stageNames.has(head)) {
        scope.out.report("param-ref", "param values cannot refer to stages", v.span, {
          hint: "stage references belong in stage arguments; a param may use other params (`params.NAME`)",
        });
        return undefined;
      }
      const word = v.path.map((p) => p.text).join(".");
      scope.out.report("undefined-ref", `\`${word}\` is not defined`, v.span, {
        expected: "a value, or a param reference such as `params.NAME`",
        hint: `strings are quoted: write "${word}"`,
      });
      return undefined;
    }
  }
}

/** Calls `f` with the name of every `params.NAME` inside `v`. */
export function forEachParamRef(v: A.Value, f: (name: string) => void): void {
  const todo: A.Value[] = [v];
  while (todo.length) {
    const x = todo.pop()!;
    switch (x.type) {
      case "ref":
        if (x.path[0]!.text === "params" && x.path[1]) f(x.path[1].text);
        break;
      case "list":
        for (const item of x.items) todo.push(item);
        break;
      case "object":
        for (const e of x.entries) todo.push(e.value);
        break;
      case "call":
        for (const a of x.args) todo.push(a.value);
        break;
      case "arithmetic":
        for (const operand of x.operands) todo.push(operand);
        break;
      case "negated":
        todo.push(x.operand);
        break;
      case "group":
        todo.push(x.value);
        break;
    }
  }
}
