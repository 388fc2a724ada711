import type * as A from "../../grammar/ast.js";
import type { Json } from "../core/canonical.js";
import type { Diagnostic, Span } from "../core/diagnostic.js";
import { describeType, type ParamsSpec, type ParamType } from "../stages/schema.js";
import { didYouMean } from "./suggest.js";

/**
 * Typing of parameter values: an AST value checked against a declared ParamType becomes canonical
 * JSON, or diagnostics pointing at the exact sub-value that is wrong.
 */

/** A pipeline param as the checker sees it: its value, and where that value came from. */
export interface PipelineParam {
  value: A.Value;
  /** Set when the value came from `-P name=text` rather than the file. */
  override?: string;
}

export interface ValueScope {
  file: string;
  params: ReadonlyMap<string, PipelineParam>;
  stageNames: ReadonlySet<string>;
  /** Pipeline params referenced while checking, recorded for `why`. */
  used: Set<string>;
  diagnostics: Diagnostic[];
}

export function checkValue(
  v: A.Value,
  type: ParamType,
  scope: ValueScope,
  what: string,
): Json | undefined {
  const fail = (span: Span, message: string, hint?: string): undefined => {
    scope.diagnostics.push({
      code: "param-type",
      severity: "error",
      message,
      file: scope.file,
      span,
      expected: describeType(type),
      ...(hint ? { hint } : {}),
    });
    return undefined;
  };

  if (v.type === "ref") return checkRef(v, type, scope, what, fail);

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
      if (type.int && !Number.isInteger(v.value))
        return fail(v.span, `${what} must be an integer, not ${v.raw}`);
      if (type.min !== undefined && v.value < type.min)
        return fail(v.span, `${what} must be >= ${type.min}, not ${v.raw}`);
      if (type.max !== undefined && v.value > type.max)
        return fail(v.span, `${what} must be <= ${type.max}, not ${v.raw}`);
      if (type.greaterThan !== undefined && !(v.value > type.greaterThan))
        return fail(v.span, `${what} must be > ${type.greaterThan}, not ${v.raw}`);
      if (!Number.isFinite(v.value))
        return fail(v.span, `${what} is too large to represent: ${v.raw}`);
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
      const out: Record<string, Json> = {};
      let ok = true;
      for (const e of v.entries) {
        if (e.key.text in out) {
          fail(e.key.span, `${what} has the key "${e.key.text}" twice`);
          ok = false;
        }
        const x = checkValue(e.value, type.of, scope, `${what}.${e.key.text}`);
        if (x === undefined) ok = false;
        else out[e.key.text] = x;
      }
      return ok ? out : undefined;
    }
    case "call": {
      if (v.type !== "call") {
        const hint =
          v.type === "string" && v.value in type.variants
            ? `write ${v.value}() to use the defaults`
            : undefined;
        return fail(v.span, `${what} must be ${describeType(type)}, not ${describeValue(v)}`, hint);
      }
      const spec = type.variants[v.name.text];
      if (!spec)
        return fail(
          v.name.span,
          `${what}: unknown ${v.name.text}(...)`,
          didYouMean(v.name.text, Object.keys(type.variants)),
        );
      const args = bindNamed(v.args, spec, scope, `${v.name.text}(...)`, v.name.span);
      return args && { call: v.name.text, args };
    }
    case "either": {
      // Take the first alternative that fits, without reporting the misses of the others.
      for (const alt of type.of) {
        const trial: ValueScope = { ...scope, diagnostics: [], used: new Set() };
        const x = checkValue(v, alt, trial, what);
        if (x !== undefined && trial.diagnostics.length === 0) {
          trial.used.forEach((u) => scope.used.add(u));
          return x;
        }
      }
      return fail(v.span, `${what} must be ${describeType(type)}, not ${describeValue(v)}`);
    }
  }
}

/** Named arguments against a ParamsSpec: unknown names, missing required ones, defaults. */
export function bindNamed(
  args: readonly A.Argument[],
  spec: ParamsSpec,
  scope: ValueScope,
  owner: string,
  ownerSpan: Span,
): Record<string, Json> | undefined {
  const out: Record<string, Json> = {};
  let ok = true;
  const seen = new Set<string>();
  for (const a of args) {
    // A bare value binds to the parameter declared positional (`bidirectional(lstm(...))`), once.
    const name =
      a.name?.text ?? Object.keys(spec).find((k) => spec[k]!.isPositional && !seen.has(k));
    if (name === undefined) {
      scope.diagnostics.push({
        code: "positional-arg",
        severity: "error",
        message: `${owner} takes named arguments only`,
        file: scope.file,
        span: a.span,
        expected: `name: value, one of ${Object.keys(spec).join(", ")}`,
      });
      ok = false;
      continue;
    }
    const param = spec[name];
    const nameSpan = a.name?.span ?? a.span;
    if (!param) {
      scope.diagnostics.push({
        code: "unknown-param",
        severity: "error",
        message: `${owner} has no parameter \`${name}\``,
        file: scope.file,
        span: nameSpan,
        expected: `one of ${Object.keys(spec).join(", ")}`,
        ...hintOf(didYouMean(name, Object.keys(spec))),
      });
      ok = false;
      continue;
    }
    if (seen.has(name)) {
      scope.diagnostics.push({
        code: "duplicate-arg",
        severity: "error",
        message: `\`${name}\` is given twice`,
        file: scope.file,
        span: nameSpan,
      });
      ok = false;
      continue;
    }
    seen.add(name);
    const x = checkValue(a.value, param.type, scope, `\`${name}\``);
    if (x === undefined) ok = false;
    else out[name] = x;
  }
  for (const [name, param] of Object.entries(spec)) {
    if (seen.has(name)) continue;
    if (param.fallback !== undefined) out[name] = param.fallback;
    else if (param.required) {
      scope.diagnostics.push({
        code: "missing-param",
        severity: "error",
        message: `${owner} needs \`${name}\``,
        file: scope.file,
        span: ownerSpan,
        expected: `${name}: ${describeType(param.type)}`,
        hint: param.doc,
      });
      ok = false;
    }
  }
  return ok ? out : undefined;
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
    const name = rest[0];
    if (!name || rest.length > 1) return fail(v.span, "a param reference is written `params.NAME`");
    const param = scope.params.get(name.text);
    if (!param) {
      scope.diagnostics.push({
        code: "unknown-param-ref",
        severity: "error",
        message: `there is no param \`${name.text}\``,
        file: scope.file,
        span: name.span,
        expected: scope.params.size
          ? `one of ${[...scope.params.keys()].join(", ")}`
          : "a param declared in `params { ... }`",
        ...hintOf(didYouMean(name.text, scope.params.keys())),
      });
      return undefined;
    }
    scope.used.add(name.text);
    // Check the param's value here, where its type is known, and report at the use site.
    const inner: ValueScope = { ...scope, diagnostics: [] };
    const x = checkValue(param.value, type, inner, what);
    for (const d of inner.diagnostics) {
      const from =
        param.override !== undefined ? `-P ${name.text}=${param.override}` : `params.${name.text}`;
      scope.diagnostics.push({ ...d, span: v.span, message: `${d.message} (from ${from})` });
    }
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
  scope.diagnostics.push({
    code: "undefined-ref",
    severity: "error",
    message: `\`${word}\` is not defined`,
    file: scope.file,
    span: v.span,
    expected: describeType(type),
    ...hintOf(
      quoted
        ? `strings are quoted: write "${word}"`
        : didYouMean(head!.text, [...scope.stageNames, "params"]),
    ),
  });
  return undefined;
}

function describeValue(v: A.Value): string {
  switch (v.type) {
    case "number":
      return `the number ${v.raw}`;
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
  }
}

export function hintOf(hint: string | undefined): { hint?: string } {
  return hint === undefined ? {} : { hint };
}
