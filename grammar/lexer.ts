import type { ILexingError, IToken } from "chevrotain";
import { Lexer } from "./chevrotain.js";
import { allTokens } from "./tokens.js";

/** `validate` runs Chevrotain's token checks; the shared instance skips them (start-up time), lexer.spec.ts runs them. */
export function makeLexer({ validate = false } = {}): InstanceType<typeof Lexer> {
  // Positions are needed for every diagnostic.
  return new Lexer(allTokens, {
    positionTracking: "full",
    ensureOptimizations: false,
    skipValidations: !validate,
  });
}

export const rnnpLexer = makeLexer();

export interface LexResult {
  tokens: IToken[];
  comments: IToken[];
  errors: ILexingError[];
}

export function lex(text: string): LexResult {
  const result = rnnpLexer.tokenize(text);
  return { tokens: result.tokens, comments: result.groups.comments ?? [], errors: result.errors };
}
