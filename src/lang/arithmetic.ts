import type * as A from "../../grammar/ast.js";
import { printValue } from "./print.js";
import { describeValue, lookupParam, type ValueScope } from "./values.js";

/**
 * Arithmetic on params (`params.length - 1`, `params.base * 2`), evaluated when the pipeline is
 * checked: only the result reaches a stage, so a key sees `13` whether the file says `13` or
 * `14 - 1`. Operands must be numbers; a division by zero or a result that is not finite is an error
 * at the place that caused it.
 */

/** The number `v` evaluates to, or undefined after reporting why it has none. */
export function evaluateNumber(v: A.Value, scope: ValueScope): number | undefined {
  switch (v.type) {
    case "number":
      if (!Number.isFinite(v.value)) {
        scope.out.report("non-finite", `the number ${v.raw} is too large to represent`, v.span, {
          hint: "numbers must be finite (at most about 1.8e308)",
        });
        return undefined;
      }
      return v.value;
    case "group":
      return evaluateNumber(v.value, scope);
    case "negated": {
      const x = evaluateNumber(v.operand, scope);
      return x === undefined ? undefined : -x;
    }
    case "arithmetic":
      return evaluateChain(v, scope);
    case "ref": {
      if (v.path[0]!.text !== "params") break;
      const param = lookupParam(v, scope);
      if (!param?.value) return undefined;
      if (param.value.type === "number") return param.value.value;
      const from =
        param.override !== undefined ? ` (from -P ${v.path[1]!.text}=${param.override})` : "";
      scope.out.report(
        "param-type",
        `arithmetic takes numbers, and \`${printValue(v)}\` is ${describeValue(param.value)}${from}`,
        v.span,
        { expected: "a number" },
      );
      return undefined;
    }
  }
  scope.out.report("param-type", `arithmetic takes numbers, not ${describeValue(v)}`, v.span, {
    expected: "a number",
    hint:
      v.type === "string" && Number.isFinite(Number(v.value)) && v.value.trim() !== ""
        ? `write ${v.value} without quotes`
        : undefined,
  });
  return undefined;
}

/** Left to right; every operand is evaluated (and its problems reported) even after a failure. */
function evaluateChain(v: A.ArithmeticValue, scope: ValueScope): number | undefined {
  const values = v.operands.map((x) => evaluateNumber(x, scope));
  if (!values.every((x): x is number => x !== undefined)) return undefined;
  let acc = values[0]!;
  for (let i = 1; i < values.length; i++) {
    const { op } = v.operators[i - 1]!;
    const x = values[i]!;
    if (op === "/" && x === 0) {
      const divisor = v.operands[i]!;
      scope.out.report(
        "non-finite",
        divisor.type === "number"
          ? "division by zero"
          : `division by zero: \`${printValue(divisor)}\` is 0`,
        divisor.span,
        { hint: "a divisor must not be 0" },
      );
      return undefined;
    }
    acc = op === "+" ? acc + x : op === "-" ? acc - x : op === "*" ? acc * x : acc / x;
  }
  if (!Number.isFinite(acc)) {
    scope.out.report("non-finite", `\`${printValue(v)}\` is too large to represent`, v.span, {
      hint: "numbers must be finite (at most about 1.8e308)",
    });
    return undefined;
  }
  return acc;
}

/** The number an expression gave, as a value that remembers the expression (for messages). */
export function computed(v: A.Value, n: number): A.NumberValue {
  return {
    type: "number",
    value: n,
    raw: String(Object.is(n, -0) ? 0 : n),
    span: v.span,
    computedFrom: printValue(v),
  };
}
