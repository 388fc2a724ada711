import type * as A from "../../grammar/ast.js";

/**
 * A value on one line, as `rnnp fmt` writes it: numbers and strings keep their spelling, expressions
 * their parentheses, one space around each operator. Messages quote expressions with it too.
 */
export function printValue(v: A.Value): string {
  switch (v.type) {
    case "number":
    case "string":
      return v.raw;
    case "bool":
      return String(v.value);
    case "list":
      return `[${v.items.map(printValue).join(", ")}]`;
    case "object":
      return `{${v.entries.map((e) => `${printKey(e.key.text)}: ${printValue(e.value)}`).join(", ")}}`;
    case "ref":
      return v.path.map((p) => p.text).join(".");
    case "call":
      return `${v.name.text}(${v.args.map(printArgument).join(", ")})`;
    case "arithmetic":
      return v.operands
        .map((x, i) => (i === 0 ? printValue(x) : `${v.operators[i - 1]!.op} ${printValue(x)}`))
        .join(" ");
    case "negated":
      return `-${printValue(v.operand)}`;
    case "group":
      return `(${printValue(v.value)})`;
  }
}

export function printArgument(a: A.Argument): string {
  return a.name ? `${a.name.text}: ${printValue(a.value)}` : printValue(a.value);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An object key: bare when it is a name, else quoted. */
export function printKey(key: string): string {
  return IDENT.test(key) && !KEYWORDS.has(key) ? key : quote(key);
}

/** A string literal for `s`: JSON's quoting, with DEL and C1 controls escaped too (rnnp refuses them raw). */
export function quote(s: string): string {
  return JSON.stringify(s).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Keywords lex as keywords, not names: as object keys they must stay quoted. */
const KEYWORDS = new Set(["pipeline", "stage", "params", "true", "false"]);
