import type { TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

/** The vocabulary of the .rnnp language. Order matters: the lexer tries tokens in `allTokens` order. */

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n]+/,
  line_breaks: true,
  group: Lexer.SKIPPED,
});
/** `#` and `//` comments run to the end of the line; kept in their own group so `fmt` can put them back. */
export const Comment = createToken({
  name: "Comment",
  pattern: /(?:#|\/\/)[^\n\r]*/,
  group: "comments",
});

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

const keyword = (word: string): TokenType =>
  createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(`${word}\\b`),
    longer_alt: Identifier,
    label: `'${word}'`,
  });

export const Pipeline = keyword("pipeline");
export const Stage = keyword("stage");
export const Params = keyword("params");
export const True = keyword("true");
export const False = keyword("false");

/** Unsigned: `-2` is a minus and a number, so that `params.n -1` subtracts (the AST folds `-2` back). */
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/,
  label: "a number",
});
/**
 * One line between double quotes. Escapes and control characters are checked when the string is
 * decoded (strings.ts), so that a bad one is reported where it is instead of breaking the token.
 */
export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/,
  label: "a string",
});

const punct = (name: string, text: string): TokenType =>
  createToken({ name, pattern: text, label: `'${text}'` });

export const LCurly = punct("LCurly", "{");
export const RCurly = punct("RCurly", "}");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const LSquare = punct("LSquare", "[");
export const RSquare = punct("RSquare", "]");
export const Comma = punct("Comma", ",");
export const Colon = punct("Colon", ":");
export const Equals = punct("Equals", "=");
export const Dot = punct("Dot", ".");
export const Plus = punct("Plus", "+");
export const Minus = punct("Minus", "-");
export const Star = punct("Star", "*");
/** After Comment in `allTokens`, so `//` stays a comment. */
export const Slash = punct("Slash", "/");

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Pipeline,
  Stage,
  Params,
  True,
  False,
  Identifier,
  NumberLiteral,
  StringLiteral,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LSquare,
  RSquare,
  Comma,
  Colon,
  Equals,
  Dot,
  Plus,
  Minus,
  Star,
  Slash,
];
