import type { IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";
import { EOF, tokenLabel } from "./chevrotain.js";
import * as T from "./tokens.js";

/**
 * Chevrotain reports syntax errors as strings; ours carry three parts (message, expected, hint), so the
 * provider serialises a SyntaxMessage as JSON and api.ts reads it back into a Diagnostic.
 */
export interface SyntaxMessage {
  message: string;
  expected: string;
  hint?: string;
}

/** What a rule can start with, in words a user knows. */
const RULE_EXPECTATIONS: Record<string, string> = {
  item: "`stage NAME = kind(...)`, `params { ... }`, a setting such as `seed 42`, or `}`",
  atom: "a value: number, string, true/false, [list], {object}, a reference such as `raw` or `params.lr`, or a call such as `adam(lr: 0.001)`",
  objectEntry: "`key: value`",
  argument: "an argument: `name: value` or a value",
  invocation: "a stage kind or layer, such as `load.csv(...)` or `lstm(units: 8)`",
};

function describe(t: IToken): string {
  return t.tokenType === EOF ? "end of file" : `'${t.image}'`;
}

function label(tt: TokenType): string {
  return tt === T.Identifier ? "a name" : tokenLabel(tt);
}

function hintFor(
  rule: string,
  expected: TokenType | undefined,
  actual: IToken,
  previous: IToken | undefined,
): string | undefined {
  const a = actual.tokenType;
  if (rule === "paramEntry" && a === T.Colon) return "params are written `name = value`, with `=`";
  if ((rule === "argument" || rule === "argumentList") && a === T.Equals)
    return "arguments are written `name: value`, with `:`";
  if (rule === "objectEntry" && a === T.Equals)
    return "object entries are written `key: value`, with `:`";
  if (rule === "stageDecl" && expected === T.Equals)
    return "a stage is declared `stage NAME = kind(...)`";
  if (rule === "atom" && a === T.Equals && previous?.tokenType === T.Identifier)
    return `to declare a stage write \`stage ${previous.image} = ...\``;
  // Before the first token Chevrotain's previous is its EOF sentinel: the file has nothing to close.
  if (a === EOF && (!previous || previous.tokenType === EOF))
    return "the file holds no pipeline: write `pipeline NAME { ... }`";
  if (a === EOF) return "a bracket or brace opened earlier is not closed";
  if (rule === "parenthesized") return "close the parenthesis, or join the values with + - * /";
  if (expected === T.RParen || expected === T.RSquare || expected === T.RCurly) {
    if (
      previous &&
      a !== T.Comma &&
      (a === T.Identifier || a === T.NumberLiteral || a === T.StringLiteral)
    ) {
      return "separate items with commas";
    }
  }
  return undefined;
}

const json = (m: SyntaxMessage) => JSON.stringify(m);

/**
 * Past this many syntax errors the rest of a file is noise, and recovering from each one costs time
 * (a megabyte of `x x x ...` is half a million errors): the provider throws, and parse() stops there.
 */
export class TooManySyntaxErrors extends Error {
  constructor(readonly token: IToken) {
    super("too many syntax errors");
  }
}

let budget = Number.POSITIVE_INFINITY;

/** Runs `f` (a parse) allowing at most `n` syntax errors. */
export function withErrorBudget<T>(n: number, f: () => T): T {
  const before = budget;
  budget = n;
  try {
    return f();
  } finally {
    budget = before;
  }
}

function spend(token: IToken): void {
  if (--budget < 0) throw new TooManySyntaxErrors(token);
}

export const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
    spend(actual);
    const hint = hintFor(ruleName, expected, actual, previous);
    return json({
      message: `expected ${label(expected)}, found ${describe(actual)}`,
      expected: label(expected),
      ...(hint ? { hint } : {}),
    });
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    spend(firstRedundant);
    return json({
      message: `unexpected ${describe(firstRedundant)} after the end of the pipeline`,
      expected: "end of file",
      hint: "a file holds one `pipeline NAME { ... }` block; move this inside it",
    });
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, previous, ruleName }) {
    const first = actual[0]!;
    spend(first);
    const paths = expectedPathsPerAlt.flat().map((p) => p.map(label).join(" "));
    const expected = RULE_EXPECTATIONS[ruleName] ?? [...new Set(paths)].join(", ");
    const hint = hintFor(ruleName, undefined, first, previous);
    return json({
      message: `expected ${ruleName === "atom" ? "a value" : ruleName === "item" ? "a declaration" : expected}, found ${describe(first)}`,
      expected,
      ...(hint ? { hint } : {}),
    });
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const first = actual[0]!;
    spend(first);
    const expected =
      RULE_EXPECTATIONS[ruleName] ??
      expectedIterationPaths.map((p) => p.map(label).join(" ")).join(", ");
    return json({ message: `expected ${expected}, found ${describe(first)}`, expected });
  },
};
