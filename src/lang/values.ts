import { foreignHint } from "./foreign.js";
import type * as A from "../../grammar/ast.js";
import type { Json } from "../core/canonical.js";
import { Collector, type Span } from "../core/diagnostic.js";
import { describeType, type ParamsSpec, type ParamType } from "../stages/schema.js";
import { computed, evaluateNumber } from "./arithmetic.js";
import { printValue } from "./print.js";
import { didYouMean, listNames } from "./suggest.js";

/**
 * Typing of parameter values: an AST value checked against a declared ParamType becomes canonical
 * JSON, or diagnostics pointing at the exact sub-value that is wrong. Names a user writes (object
 * keys, parameter names) are data: they are looked up with Object.hasOwn and stored with
 * Object.fromEntries, so `__proto__` or `toString` is a key like any other.
 */

/** A pipeline param as the checker sees it once evaluated. */
export interface PipelineParam {
  /** A literal: numbers computed, references to other params replaced by their values. Absent when it could not be evaluated (that was reported where it is declared). */
  value?: A.Value;
  /** Set when the value came from `-P name=text` rather than the file. */
  override?: string;
}

export interface ValueScope {
  file: string;
  params: ReadonlyMap<string, PipelineParam>;
  stageNames: ReadonlySet<string>;
  /** Pipeline params referenced while checking, recorded for `why`. */
  used: Set<string>;
  out: Collector;
}

export function checkValue(
  v: A.Value,
  type: ParamType,
  scope: ValueScope,
  what: string,
): Json | undefined {
  const fail = (span: Span, message: string, hint?: string): undefined => {
    scope.out.report("param-type", message, span, { expected: describeType(type), hint });
    return undefined;
  };

  if (v.type === "ref") return checkRef(v, type, scope, what, fail);
  if (v.type === "group") return checkValue(v.value, type, scope, what);
  if (v.type === "arithmetic" || v.type === "negated") {
    const n = evaluateNumber(v, scope);
    return n === undefined ? undefined : checkValue(computed(v, n), type, scope, what);
  }

  switch (type.t) {
    case "number":
      if (v.type !== "number")
        return fail(
          v.span,
          `${what} must be ${describeType(type)}, not ${describeValue(v)}`,
          v.type === "string" && /^-?[\d.]+(e-?\d+)?$/.test(v.value)
            ? `write ${v.value} without quotes`
            : undefined,
        );
      if (!Number.isFinite(v.value)) {
        scope.out.report("non-finite", `${what} is too large to represent: ${v.raw}`, v.span, {
          expected: describeType(type),
          hint: "numbers must be finite (at most about 1.8e308)",
        });
        return undefined;
      }
      if (type.int && !Number.isInteger(v.value))
        return fail(
          v.span,
          `${what} must be an integer, not ${v.raw}`,
          v.computedFrom !== undefined
            ? `\`${v.computedFrom}\` is ${v.raw}: write an integer, or change the params so that it divides exactly`
            : undefined,
        );
      if (type.min !== undefined && v.value < type.min)
        return fail(v.span, `${what} must be >= ${type.min}, not ${v.raw}`, computedHint(v));
      if (type.max !== undefined && v.value > type.max)
        return fail(v.span, `${what} must be <= ${type.max}, not ${v.raw}`, computedHint(v));
      if (type.greaterThan !== undefined && !(v.value > type.greaterThan))
        return fail(v.span, `${what} must be > ${type.greaterThan}, not ${v.raw}`, computedHint(v));
      return v.value;
    case "string":
      if (v.type !== "string")
        return fail(v.span, `${what} must be ${describeType(type)}, not ${describeValue(v)}`);
      if (type.oneOf && !type.oneOf.includes(v.value))
        return fail(
          v.span,
          `${what} must be ${describeType(type)}, not ${v.raw}`,
          didYouMean(v.value, type.oneOf)?.replace(/`(.*)`/, '"$1"'),
        );
      return v.value;
    case "bool":
      if (v.type !== "bool")
        return fail(v.span, `${what} must be true or false, not ${describeValue(v)}`);
      return v.value;
    case "list": {
      const items = v.type === "list" ? v.items : undefined;
      if (!items)
        return fail(
          v.span,
          `${what} must be ${describeType(type)}, not ${describeValue(v)}`,
          `write a list: [${v.type === "string" ? v.raw : "..."}]`,
        );
      if (type.minItems !== undefined && items.length < type.minItems)
        return fail(
          v.span,
          `${what} needs at least ${type.minItems} item${type.minItems === 1 ? "" : "s"}`,
        );
      const out = items.map((item, i) => checkValue(item, type.of, scope, `${what}[${i}]`));
      return out.every((x) => x !== undefined) ? (out as Json[]) : undefined;
    }
    case "map": {
      if (v.type !== "object")
        return fail(v.span, `${what} must be ${describeType(type)}, not ${describeValue(v)}`);
      const entries: [string, Json][] = [];
      const seen = new Set<string>();
      let ok = true;
      for (const e of v.entries) {
        if (seen.has(e.key.text)) {
          fail(e.key.span, `${what} has the key "${e.key.text}" twice`);
          ok = false;
        }
        seen.add(e.key.text);
        const x = checkValue(e.value, type.of, scope, `${what}.${e.key.text}`);
        if (x === undefined) ok = false;
        else entries.push([e.key.text, x]);
      }
      // fromEntries defines own properties: a key `__proto__` stays a key, never a prototype.
      return ok ? Object.fromEntries(entries) : undefined;
    }
    case "call": {
      if (v.type !== "call") {
        const hint =
          v.type === "string" && Object.hasOwn(type.variants, v.value)
            ? `write ${v.value}() to use the defaults`
            : undefined;
        return fail(v.span, `${what} must be ${describeType(type)}, not ${describeValue(v)}`, hint);
      }
      if (!Object.hasOwn(type.variants, v.name.text))
        return fail(
          v.name.span,
          `${what}: unknown ${v.name.text}(...)`,
          didYouMean(v.name.text, Object.keys(type.variants)),
        );
      const spec = type.variants[v.name.text]!;
      const args = bindNamed(v.args, spec, scope, `${v.name.text}(...)`, v.name.span);
      return args && { call: v.name.text, args };
    }
    case "either": {
      // Take the first alternative that fits, without reporting the misses of the others.
      for (const alt of type.of) {
        const trial: ValueScope = { ...scope, out: new Collector(scope.file), used: new Set() };
        const x = checkValue(v, alt, trial, what);
        if (x !== undefined && trial.out.diagnostics.length === 0) {
          trial.used.forEach((u) => scope.used.add(u));
          return x;
        }
      }
      return fail(v.span, `${what} must be ${describeType(type)}, not ${describeValue(v)}`);
    }
  }
}

function computedHint(v: A.NumberValue): string | undefined {
  return v.computedFrom !== undefined ? `\`${v.computedFrom}\` is ${v.raw}` : undefined;
}

/** Named arguments against a ParamsSpec: unknown names, missing required ones, defaults. */
export function bindNamed(
  args: readonly A.Argument[],
  spec: ParamsSpec,
  scope: ValueScope,
  owner: string,
  ownerSpan: Span,
): Record<string, Json> | undefined {
  const out = new Map<string, Json>();
  let ok = true;
  const seen = new Set<string>();
  const names = Object.keys(spec);
  for (const a of args) {
    // A bare value binds to the parameter declared positional (`bidirectional(lstm(...))`), once.
    const name = a.name?.text ?? names.find((k) => spec[k]!.isPositional && !seen.has(k));
    if (name === undefined) {
      scope.out.report("positional-arg", `${owner} takes named arguments only`, a.span, {
        expected: `name: value, one of ${names.join(", ")}`,
      });
      ok = false;
      continue;
    }
    const nameSpan = a.name?.span ?? a.span;
    if (!Object.hasOwn(spec, name)) {
      scope.out.report("unknown-param", `${owner} has no parameter \`${name}\``, nameSpan, {
        expected: `one of ${names.join(", ")}`,
        hint: foreignHint(name, names) ?? didYouMean(name, names),
      });
      ok = false;
      continue;
    }
    if (seen.has(name)) {
      scope.out.report("duplicate-arg", `\`${name}\` is given twice`, nameSpan);
      ok = false;
      continue;
    }
    seen.add(name);
    const x = checkValue(a.value, spec[name]!.type, scope, `\`${name}\``);
    if (x === undefined) ok = false;
    else out.set(name, x);
  }
  for (const [name, param] of Object.entries(spec)) {
    if (seen.has(name)) continue;
    if (param.fallback !== undefined) out.set(name, param.fallback);
    else if (param.required) {
      scope.out.report("missing-param", `${owner} needs \`${name}\``, ownerSpan, {
        expected: `${name}: ${describeType(param.type)}`,
        hint: param.doc,
      });
      ok = false;
    }
  }
  return ok ? Object.fromEntries(out) : undefined;
}

function checkRef(
  v: A.RefValue,
  type: ParamType,
  scope: ValueScope,
  what: string,
  fail: (span: Span, message: string, hint?: string) => undefined,
): Json | undefined {
  const [head, ...rest] = v.path;
  if (head!.text === "params") {
    const param = lookupParam(v, scope);
    if (!param?.value) return undefined;
    // Check the param's value here, where its type is known, and report at the use site.
    const inner: ValueScope = { ...scope, out: new Collector(scope.file) };
    const x = checkValue(param.value, type, inner, what);
    const name = rest[0]!.text;
    const from = param.override !== undefined ? `-P ${name}=${param.override}` : `params.${name}`;
    for (const d of inner.out.diagnostics)
      scope.out.add({ ...d, span: v.span, message: `${d.message} (from ${from})` });
    return x;
  }
  if (scope.stageNames.has(head!.text)) {
    return fail(
      v.span,
      `${what} must be ${describeType(type)}, not a reference to stage \`${head!.text}\``,
      "stage references bind inputs, not parameters",
    );
  }
  const word = v.path.map((p) => p.text).join(".");
  const quoted =
    type.t === "string" || type.t === "either" || (type.t === "list" && type.of.t === "string");
  scope.out.report("undefined-ref", `\`${word}\` is not defined`, v.span, {
    expected: describeType(type),
    hint: quoted
      ? `strings are quoted: write "${word}"`
      : didYouMean(head!.text, [...scope.stageNames, "params"]),
  });
  return undefined;
}

/**
 * The param a `params.NAME` reference names, marked used; a wrong reference is reported. A param
 * without a value (it failed where it is declared) is returned as is: its error is already out.
 */
export function lookupParam(v: A.RefValue, scope: ValueScope): PipelineParam | undefined {
  const [, name, ...more] = v.path;
  if (!name || more.length > 0) {
    scope.out.report("param-type", "a param reference is written `params.NAME`", v.span, {
      expected: "params.NAME",
    });
    return undefined;
  }
  const param = scope.params.get(name.text);
  if (!param) {
    scope.out.report("unknown-param-ref", `there is no param \`${name.text}\``, name.span, {
      expected: scope.params.size
        ? `one of ${listNames(scope.params.keys())}`
        : "a param declared in `params { ... }`",
      hint: didYouMean(name.text, scope.params.keys()),
    });
    return undefined;
  }
  scope.used.add(name.text);
  return param;
}

export function describeValue(v: A.Value): string {
  switch (v.type) {
    case "number":
      return v.computedFrom !== undefined
        ? `the number ${v.raw} (\`${v.computedFrom}\`)`
        : `the number ${v.raw}`;
    case "string":
      return `the string ${v.raw}`;
    case "bool":
      return String(v.value);
    case "list":
      return "a list";
    case "object":
      return "an object";
    case "call":
      return `${v.name.text}(...)`;
    case "ref":
      return `\`${v.path.map((p) => p.text).join(".")}\``;
    case "arithmetic":
    case "negated":
    case "group":
      return `\`${printValue(v)}\``;
  }
}
