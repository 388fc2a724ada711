import type { IToken } from "chevrotain";
import { type Diagnostic, diagnostic, type Position, type Span } from "../src/core/diagnostic.js";
import { mark } from "../src/core/timing.js";
import type * as A from "./ast.js";
import { EmbeddedActionsParser } from "./chevrotain.js";
import { messages } from "./messages.js";
import { decodeString } from "./strings.js";
import * as T from "./tokens.js";

/**
 * The .rnnp grammar, building the syntax tree as it parses (no concrete syntax tree in between: on a
 * 100,000-stage file that tree cost a gigabyte and most of the time). The EBNF in rnnp.ebnf and the
 * railroad diagram in diagram.html are generated from this class (npm run grammar) and a spec fails
 * when they drift.
 *
 * Every rule returns undefined for what error recovery left incomplete (its error is reported);
 * callers drop it. AST building happens in ACTIONs, which Chevrotain skips while it records the
 * grammar.
 */
export class RnnpParser extends EmbeddedActionsParser {
  /** Problems found while building the tree (a missing comma, a bad escape), for api.ts. */
  found: Diagnostic[] = [];
  private file = "";

  /**
   * `validate` runs Chevrotain's grammar checks (ambiguities, left recursion...). They cost ~20 ms at
   * every start-up, so the shared instance skips them and parser.spec.ts runs them on a fresh one.
   */
  constructor({ validate = false }: { validate?: boolean } = {}) {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      errorMessageProvider: messages,
      skipValidations: !validate,
    });
    this.performSelfAnalysis();
  }

  /** Sets the tokens of the next parse and forgets the last one's problems. */
  begin(tokens: IToken[], file: string): void {
    this.input = tokens;
    this.file = file;
    this.found = [];
  }

  /** pipeline NAME { (stage | params | setting)* } */
  public pipeline = this.RULE("pipeline", (): A.PipelineAst | undefined => {
    const first = this.CONSUME(T.Pipeline);
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    const items: A.Item[] = [];
    this.MANY(() => {
      const item = this.SUBRULE(this.item);
      this.ACTION(() => item && items.push(item));
    });
    this.CONSUME(T.RCurly);
    return this.ACTION(() =>
      real(name) ? { name: nameOf(name), items, span: this.spanFrom(first) } : undefined,
    );
  });

  public item = this.RULE("item", (): A.Item | undefined =>
    this.OR<A.Item | undefined>([
      { ALT: () => this.SUBRULE(this.stageDecl) },
      { ALT: () => this.SUBRULE(this.paramsBlock) },
      { ALT: () => this.SUBRULE(this.setting) },
    ]),
  );

  /** A pipeline-wide setting such as `seed 42`; which names exist is checked semantically. */
  public setting = this.RULE("setting", (): A.Setting | undefined => {
    const name = this.CONSUME(T.Identifier);
    const value = this.SUBRULE(this.value);
    return this.ACTION(() =>
      real(name) && value
        ? { type: "setting", name: nameOf(name), value, span: this.spanFrom(name) }
        : undefined,
    );
  });

  /** params { name = value ... }; commas between entries are optional. */
  public paramsBlock = this.RULE("paramsBlock", (): A.ParamsBlock | undefined => {
    const first = this.CONSUME(T.Params);
    this.CONSUME(T.LCurly);
    const params: A.ParamDecl[] = [];
    this.MANY(() => {
      const p = this.SUBRULE(this.paramEntry);
      this.ACTION(() => p && params.push(p));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RCurly);
    return this.ACTION(() => ({ type: "params", params, span: this.spanFrom(first) }));
  });

  public paramEntry = this.RULE("paramEntry", (): A.ParamDecl | undefined => {
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    const value = this.SUBRULE(this.value);
    return this.ACTION(() =>
      real(name) && value ? { name: nameOf(name), value, span: this.spanFrom(name) } : undefined,
    );
  });

  /** stage NAME = kind(args) { block } */
  public stageDecl = this.RULE("stageDecl", (): A.StageDecl | undefined => {
    const first = this.CONSUME(T.Stage);
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    const body = this.SUBRULE(this.invocation);
    return this.ACTION(() =>
      real(name) && body
        ? { type: "stage", name: nameOf(name), body, span: this.spanFrom(first) }
        : undefined,
    );
  });

  /** A stage body or a layer: a dotted name, optional arguments, optional block of nested invocations. */
  public invocation = this.RULE("invocation", (): A.Invocation | undefined => {
    const first = this.LA(1);
    const name = this.SUBRULE(this.qualifiedName);
    let args: { args: A.Argument[]; span: Span } | undefined;
    let block: A.Invocation[] | undefined;
    this.OPTION(() => {
      args = this.SUBRULE(this.argumentList);
    });
    this.OPTION2(() => {
      block = this.SUBRULE(this.block);
    });
    return this.ACTION(() =>
      name
        ? {
            name,
            ...(args ? { args: args.args, argsSpan: args.span } : {}),
            ...(block ? { block } : {}),
            span: this.spanFrom(first),
          }
        : undefined,
    );
  });

  public block = this.RULE("block", (): A.Invocation[] => {
    this.CONSUME(T.LCurly);
    const items: A.Invocation[] = [];
    this.MANY(() => {
      const inv = this.SUBRULE(this.invocation);
      this.ACTION(() => inv && items.push(inv));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RCurly);
    return items;
  });

  public qualifiedName = this.RULE("qualifiedName", (): A.Name | undefined => {
    const parts = [this.CONSUME(T.Identifier)];
    this.MANY(() => {
      this.CONSUME(T.Dot);
      parts.push(this.CONSUME2(T.Identifier));
    });
    return this.ACTION(() => {
      const named = parts.filter(real);
      return named.length
        ? { text: named.map((t) => t.image).join("."), span: this.spanFrom(parts[0]!) }
        : undefined;
    });
  });

  /** ( arg, arg, ... ) with an optional trailing comma. */
  public argumentList = this.RULE(
    "argumentList",
    (): { args: A.Argument[]; span: Span } | undefined => {
      const first = this.CONSUME(T.LParen);
      const args = this.commaList(() => this.SUBRULE(this.argument), "arguments");
      this.CONSUME(T.RParen);
      return this.ACTION(() => ({ args, span: this.spanFrom(first) }));
    },
  );

  /** `name: value` binds a parameter or a named input; a bare value fills the next input. */
  public argument = this.RULE("argument", (): A.Argument | undefined => {
    const first = this.LA(1);
    let name: IToken | undefined;
    this.OPTION(() => {
      name = this.CONSUME(T.Identifier);
      this.CONSUME(T.Colon);
    });
    const value = this.SUBRULE(this.value);
    return this.ACTION(() =>
      value
        ? {
            ...(name && real(name) ? { name: nameOf(name) } : {}),
            value,
            span: this.spanFrom(first),
          }
        : undefined,
    );
  });

  /**
   * A value, possibly computed: `params.length - 1`, `params.base * 2`. Arithmetic is over numbers,
   * `*` and `/` bind tighter than `+` and `-`, and operators of one level apply left to right.
   */
  public value = this.RULE("value", (): A.Value | undefined => {
    const first = this.LA(1);
    const operands = [this.SUBRULE(this.term)];
    const operators: IToken[] = [];
    this.MANY(() => {
      operators.push(
        this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]),
      );
      operands.push(this.SUBRULE2(this.term));
    });
    return this.ACTION(() => this.chain(first, operands, operators));
  });

  public term = this.RULE("term", (): A.Value | undefined => {
    const first = this.LA(1);
    const operands = [this.SUBRULE(this.factor)];
    const operators: IToken[] = [];
    this.MANY(() => {
      operators.push(
        this.OR([{ ALT: () => this.CONSUME(T.Star) }, { ALT: () => this.CONSUME(T.Slash) }]),
      );
      operands.push(this.SUBRULE2(this.factor));
    });
    return this.ACTION(() => this.chain(first, operands, operators));
  });

  /** One leading minus at most: `-2`, `-params.x`, `-(a + b)`. A minus before a number is part of the number. */
  public factor = this.RULE("factor", (): A.Value | undefined => {
    const first = this.LA(1);
    let minus: IToken | undefined;
    this.OPTION(() => {
      minus = this.CONSUME(T.Minus);
    });
    const operand = this.SUBRULE(this.atom);
    return this.ACTION(() => {
      if (!operand || !minus || !real(minus)) return operand;
      const span = this.spanFrom(first);
      return operand.type === "number"
        ? { type: "number", value: -operand.value, raw: `-${operand.raw}`, span }
        : { type: "negated", operand, span };
    });
  });

  public atom = this.RULE("atom", (): A.Value | undefined =>
    this.OR<A.Value | undefined>([
      {
        ALT: () => {
          const t = this.CONSUME(T.NumberLiteral);
          return this.ACTION(() =>
            real(t)
              ? { type: "number", value: Number(t.image), raw: t.image, span: tokenSpan(t) }
              : undefined,
          );
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.StringLiteral);
          return this.ACTION(() =>
            real(t)
              ? { type: "string", value: this.string(t), raw: t.image, span: tokenSpan(t) }
              : undefined,
          );
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.True);
          return this.ACTION(() =>
            real(t) ? { type: "bool", value: true, span: tokenSpan(t) } : undefined,
          );
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.False);
          return this.ACTION(() =>
            real(t) ? { type: "bool", value: false, span: tokenSpan(t) } : undefined,
          );
        },
      },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.object) },
      { ALT: () => this.SUBRULE(this.reference) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
    ]),
  );

  public parenthesized = this.RULE("parenthesized", (): A.Value | undefined => {
    const first = this.CONSUME(T.LParen);
    const value = this.SUBRULE(this.value);
    const close = this.CONSUME(T.RParen);
    return this.ACTION(() =>
      value && real(close) ? { type: "group", value, span: this.spanFrom(first) } : undefined,
    );
  });

  public list = this.RULE("list", (): A.Value | undefined => {
    const first = this.CONSUME(T.LSquare);
    const items = this.commaList(() => this.SUBRULE(this.value), "list items");
    this.CONSUME(T.RSquare);
    return this.ACTION(() => ({ type: "list", items, span: this.spanFrom(first) }));
  });

  public object = this.RULE("object", (): A.Value | undefined => {
    const first = this.CONSUME(T.LCurly);
    const entries = this.commaList(() => this.SUBRULE(this.objectEntry), "object entries");
    this.CONSUME(T.RCurly);
    return this.ACTION(() => ({ type: "object", entries, span: this.spanFrom(first) }));
  });

  public objectEntry = this.RULE("objectEntry", (): A.ObjectEntry | undefined => {
    const key = this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
    ]);
    this.CONSUME(T.Colon);
    const value = this.SUBRULE(this.value);
    return this.ACTION(() => {
      if (!real(key) || !value) return undefined;
      const text = key.tokenType === T.StringLiteral ? this.string(key) : key.image;
      return { key: { text, span: tokenSpan(key) }, value, span: this.spanFrom(key) };
    });
  });

  /** `raw`, `parts.train`, `params.lr`, or a call such as `adam(lr: 0.001)`. */
  public reference = this.RULE("reference", (): A.Value | undefined => {
    const first = this.LA(1);
    const path = [
      this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.Params) }]),
    ];
    this.MANY(() => {
      this.CONSUME(T.Dot);
      path.push(this.CONSUME2(T.Identifier));
    });
    let args: { args: A.Argument[]; span: Span } | undefined;
    this.OPTION(() => {
      args = this.SUBRULE(this.argumentList);
    });
    return this.ACTION(() => {
      const names = path.filter(real).map(nameOf);
      if (names.length === 0) return undefined;
      const span = this.spanFrom(first);
      if (!args) return { type: "ref", path: names, span };
      const name = {
        text: names.map((p) => p.text).join("."),
        span: { start: names[0]!.span.start, end: names[names.length - 1]!.span.end },
      };
      return { type: "call", name, args: args.args, span };
    });
  });

  /**
   * `item { "," item } [","]`, possibly empty. The parser also accepts a missing comma between two items
   * so that it can go on and report it precisely: recovery from a mismatch here would otherwise skip
   * the rest of the stage and cascade.
   */
  private commaList<X>(item: () => X | undefined, what: string): X[] {
    const items: X[] = [];
    let afterItem = false;
    this.MANY9(() => {
      const first = this.LA(1);
      const x = item();
      this.ACTION(() => {
        if (afterItem) this.missingComma(first, what);
        if (x !== undefined) items.push(x);
      });
      afterItem = true;
      this.OPTION9(() => {
        this.CONSUME9(T.Comma);
        afterItem = false;
      });
    });
    return items;
  }

  private missingComma(first: IToken, what: string): void {
    if (!real(first)) return;
    const span = this.spanFrom(first);
    this.found.push(
      diagnostic(
        "syntax",
        `missing ',' between ${what}`,
        {
          file: this.file,
          span: {
            start: span.start,
            end:
              span.start.line === span.end.line
                ? span.end
                : { ...span.start, column: span.start.column + 1, offset: span.start.offset + 1 },
          },
        },
        { expected: "','", hint: `separate ${what} with commas` },
      ),
    );
  }

  /** A string literal's value; a bad escape or a raw control character is reported where it is. */
  private string(t: IToken): string {
    const { value, problem } = decodeString(t.image);
    if (problem) {
      const at = tokenSpan(t).start;
      const start = { ...at, column: at.column + problem.index, offset: at.offset + problem.index };
      const end = {
        ...start,
        column: start.column + problem.length,
        offset: start.offset + problem.length,
      };
      this.found.push(
        diagnostic(
          "syntax",
          problem.message,
          { file: this.file, span: { start, end } },
          {
            hint: problem.hint,
          },
        ),
      );
    }
    return value;
  }

  /** From the start of `first` to the end of the last token consumed (tokens inserted by recovery are never consumed). */
  private spanFrom(first: IToken): Span {
    const last = this.LA(0);
    const start = startOf(real(first) ? first : last);
    const end = real(last) && last.startOffset >= start.offset ? endOf(last) : start;
    return { start, end };
  }

  /** `a + b - c`: one operand is that operand; more are kept flat, left to right. */
  private chain(
    first: IToken,
    operands: (A.Value | undefined)[],
    operators: IToken[],
  ): A.Value | undefined {
    if (!operands.every((x): x is A.Value => x !== undefined)) return undefined;
    if (operands.length === 1) return operands[0];
    if (!operators.every(real) || operators.length !== operands.length - 1) return undefined;
    return {
      type: "arithmetic",
      operands,
      operators: operators.map((t) => ({ op: t.image as A.Operator, span: tokenSpan(t) })),
      span: this.spanFrom(first),
    };
  }
}

/** A token the input holds (not one that error recovery made up, nor the end of input). */
function real(t: IToken | undefined): t is IToken {
  return t !== undefined && !t.isInsertedInRecovery && Number.isFinite(t.startOffset);
}

export function tokenSpan(t: IToken): Span {
  return { start: startOf(t), end: endOf(t) };
}

function startOf(t: IToken): Position {
  return { line: t.startLine!, column: t.startColumn!, offset: t.startOffset };
}

/** Exclusive. */
function endOf(t: IToken): Position {
  return { line: t.endLine!, column: t.endColumn! + 1, offset: t.endOffset! + 1 };
}

const nameOf = (t: IToken): A.Name => ({ text: t.image, span: tokenSpan(t) });

/** One parser instance per process: construction runs the grammar analysis, which is the costly part. */
export const parser = new RnnpParser();
// Seen in RNNP_TIMING's line: a cached run must not get here (test/cli/startup.test.ts).
mark("parser built");
