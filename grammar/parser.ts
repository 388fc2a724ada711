import type { CstNode } from "chevrotain";
import { CstParser } from "./chevrotain.js";
import * as T from "./tokens.js";
import { messages } from "./messages.js";

/**
 * The .rnnp grammar. The EBNF in rnnp.ebnf and the railroad diagram in diagram.html are generated
 * from this class (npm run grammar) and a spec fails when they drift.
 */
export class RnnpParser extends CstParser {
  /**
   * `validate` runs Chevrotain's grammar checks (ambiguities, left recursion...). They cost ~20 ms at
   * every start-up, so the shared instance skips them and parser.spec.ts runs them on a fresh one.
   */
  constructor({ validate = false }: { validate?: boolean } = {}) {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "full",
      errorMessageProvider: messages,
      skipValidations: !validate,
    });
    this.performSelfAnalysis();
  }

  /** pipeline NAME { (stage | params | setting)* } */
  public pipeline = this.RULE("pipeline", () => {
    this.CONSUME(T.Pipeline);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.item));
    this.CONSUME(T.RCurly);
  });

  public item = this.RULE("item", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.stageDecl) },
      { ALT: () => this.SUBRULE(this.paramsBlock) },
      { ALT: () => this.SUBRULE(this.setting) },
    ]);
  });

  /** A pipeline-wide setting such as `seed 42`; which names exist is checked semantically. */
  public setting = this.RULE("setting", () => {
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.value);
  });

  /** params { name = value ... }; commas between entries are optional. */
  public paramsBlock = this.RULE("paramsBlock", () => {
    this.CONSUME(T.Params);
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.SUBRULE(this.paramEntry);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RCurly);
  });

  public paramEntry = this.RULE("paramEntry", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.value);
  });

  /** stage NAME = kind(args) { block } */
  public stageDecl = this.RULE("stageDecl", () => {
    this.CONSUME(T.Stage);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.invocation);
  });

  /** A stage body or a layer: a dotted name, optional arguments, optional block of nested invocations. */
  public invocation = this.RULE("invocation", () => {
    this.SUBRULE(this.qualifiedName);
    this.OPTION(() => this.SUBRULE(this.argumentList));
    this.OPTION2(() => this.SUBRULE(this.block));
  });

  public block = this.RULE("block", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.SUBRULE(this.invocation);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RCurly);
  });

  public qualifiedName = this.RULE("qualifiedName", () => {
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier);
    });
  });

  /** ( arg, arg, ... ) with an optional trailing comma. */
  public argumentList = this.RULE("argumentList", () => {
    this.CONSUME(T.LParen);
    this.commaList(() => this.SUBRULE(this.argument));
    this.CONSUME(T.RParen);
  });

  /** `name: value` binds a parameter or a named input; a bare value fills the next input. */
  public argument = this.RULE("argument", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier);
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.value);
  });

  public value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.object) },
      { ALT: () => this.SUBRULE(this.reference) },
    ]);
  });

  public list = this.RULE("list", () => {
    this.CONSUME(T.LSquare);
    this.commaList(() => this.SUBRULE(this.value));
    this.CONSUME(T.RSquare);
  });

  public object = this.RULE("object", () => {
    this.CONSUME(T.LCurly);
    this.commaList(() => this.SUBRULE(this.objectEntry));
    this.CONSUME(T.RCurly);
  });

  public objectEntry = this.RULE("objectEntry", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
    ]);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.value);
  });

  /** `raw`, `parts.train`, `params.lr`, or a call such as `adam(lr: 0.001)`. */
  public reference = this.RULE("reference", () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.Params) }]);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier);
    });
    this.OPTION(() => this.SUBRULE(this.argumentList));
  });

  /**
   * `item { "," item } [","]`, possibly empty. The parser also accepts a missing comma between two items
   * so that it can go on and report it precisely (api.ts turns it into an error): recovery from a
   * mismatch here would otherwise skip the rest of the stage and cascade.
   */
  private commaList(item: () => void): void {
    this.MANY9(() => {
      item();
      this.OPTION9(() => this.CONSUME9(T.Comma));
    });
  }
}

/** One parser instance per process: construction runs the grammar analysis, which is the costly part. */
export const parser = new RnnpParser();

export type { CstNode };
