import type { Span } from "../src/core/diagnostic.js";

/** The syntax tree of one .rnnp file: what was written, with a span on every node. No meaning yet. */

export interface Name {
  text: string;
  span: Span;
}

export type Value =
  | NumberValue
  | StringValue
  | BoolValue
  | ListValue
  | ObjectValue
  | RefValue
  | CallValue
  | ArithmeticValue
  | NegatedValue
  | GroupValue;

export interface NumberValue {
  type: "number";
  /** May be infinite (`1e400`): the checker reports it where the value is used. */
  value: number;
  /** As written (`1e-3` stays `1e-3` through fmt; `-2` and `- 2` are both `-2`). */
  raw: string;
  span: Span;
  /** Set on a number the checker computed: the expression it came from, as written. */
  computedFrom?: string;
}

export interface StringValue {
  type: "string";
  value: string;
  raw: string;
  span: Span;
}

export interface BoolValue {
  type: "bool";
  value: boolean;
  span: Span;
}

export interface ListValue {
  type: "list";
  items: Value[];
  span: Span;
}

export interface ObjectEntry {
  key: Name;
  value: Value;
  span: Span;
}

export interface ObjectValue {
  type: "object";
  entries: ObjectEntry[];
  span: Span;
}

/** `raw`, `parts.train`, `params.lr`: a dotted path, resolved by the checker. */
export interface RefValue {
  type: "ref";
  path: Name[];
  span: Span;
}

/** `adam(lr: 0.001)`: a named constructor with arguments. */
export interface CallValue {
  type: "call";
  name: Name;
  args: Argument[];
  span: Span;
}

export type Operator = "+" | "-" | "*" | "/";

/**
 * `a + b - c` or `a * b / c`: the operands of one precedence level, applied left to right. Kept flat
 * (not a tree of pairs) so that a long sum nests no deeper than its parentheses.
 */
export interface ArithmeticValue {
  type: "arithmetic";
  /** Two or more. */
  operands: Value[];
  /** `operators[i]` stands between `operands[i]` and `operands[i + 1]`. */
  operators: { op: Operator; span: Span }[];
  span: Span;
}

/** `-params.x`, `-(a + b)`; a minus before a number literal is folded into the number instead. */
export interface NegatedValue {
  type: "negated";
  operand: Value;
  span: Span;
}

/** `(a + b)`: parentheses as written, so fmt keeps them. */
export interface GroupValue {
  type: "group";
  value: Value;
  span: Span;
}

export interface Argument {
  name?: Name;
  value: Value;
  span: Span;
}

/** `load.csv(path: "x")`, `model { lstm(units: 8) }`, `bidirectional { lstm(units: 8) }`. */
export interface Invocation {
  name: Name;
  /** Absent when written without parentheses. */
  args?: Argument[];
  /** The parenthesised argument list, parentheses included. */
  argsSpan?: Span;
  block?: Invocation[];
  span: Span;
}

export interface StageDecl {
  type: "stage";
  name: Name;
  body: Invocation;
  span: Span;
}

export interface ParamDecl {
  name: Name;
  value: Value;
  span: Span;
}

export interface ParamsBlock {
  type: "params";
  params: ParamDecl[];
  span: Span;
}

export interface Setting {
  type: "setting";
  name: Name;
  value: Value;
  span: Span;
}

export type Item = StageDecl | ParamsBlock | Setting;

export interface PipelineAst {
  name: Name;
  items: Item[];
  span: Span;
}

export interface Comment {
  text: string;
  span: Span;
}
