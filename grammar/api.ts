import type { IRecognitionException, IToken, ILexingError } from "chevrotain";
import { type Diagnostic, diagnostic, type Position, type Span } from "../src/core/diagnostic.js";
import type * as A from "./ast.js";
import { type EncodingProblem, textEncodingProblem } from "./encoding.js";
import { lex } from "./lexer.js";
import { type SyntaxMessage, TooManySyntaxErrors, withErrorBudget } from "./messages.js";
import { parser, tokenSpan as spanOf } from "./parser.js";
import { codePointName, isControl } from "./strings.js";
import * as T from "./tokens.js";

/** The grammar's entry point: source text -> syntax tree, comments and syntax diagnostics. */
export interface ParseResult {
  /** Absent only when nothing could be recovered (e.g. the file does not start with `pipeline`). */
  ast?: A.PipelineAst;
  comments: A.Comment[];
  diagnostics: Diagnostic[];
}

export function parse(text: string, file: string): ParseResult {
  const encoding = textEncodingProblem(text);
  if (encoding) return { comments: [], diagnostics: [encodingDiagnostic(encoding, file)] };
  // A byte order mark reads as white space; offsets and columns stay those of `text`.
  const lexed = lex(text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text);
  const comments = lexed.comments.map((t) => ({ text: t.image, span: tokenSpan(t)! }));
  const lexical = lexDiagnostics(lexed.errors, text, file);
  const tooDeep = nestingDiagnostic(lexed.tokens, file);
  if (tooDeep) return { comments, diagnostics: [...lexical, tooDeep] };

  const { ast, stopped } = runParser(lexed.tokens, file);
  const syntax = [
    ...parser.errors.map((e) => parseDiagnostic(e, file, lexed.tokens)),
    ...parser.found,
  ];
  const diagnostics = [...lexical, ...firstPerLine(syntax), ...(stopped ? [stopped] : [])];
  diagnostics.sort((a, b) => a.span!.start.offset - b.span!.start.offset);
  return { ...(ast ? { ast } : {}), comments, diagnostics };
}

/** Brackets, braces and parentheses nest at most this deep: the parser and the checker recurse per level. */
export const MAX_NESTING = 64;

/** Syntax errors reported before parse() stops reading (recovering from each one costs time). */
export const MAX_SYNTAX_ERRORS = 200;

/** Unexpected characters reported one by one; more are summed up in one diagnostic. */
const MAX_LEXICAL_ERRORS = 100;

/**
 * Runs the parser with a budget of syntax errors, and without stack traces on its recognition
 * exceptions (it makes one per error, and capturing stacks was most of the time on broken input).
 */
function runParser(
  tokens: IToken[],
  file: string,
): { ast: A.PipelineAst | undefined; stopped?: Diagnostic } {
  parser.begin(tokens, file);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return { ast: withErrorBudget(MAX_SYNTAX_ERRORS, () => parser.pipeline()) };
  } catch (e) {
    if (!(e instanceof TooManySyntaxErrors)) throw e;
    const span = tokenSpan(e.token) ?? endSpan(tokens);
    return {
      ast: undefined,
      stopped: diagnostic(
        "syntax",
        `too many syntax errors (${MAX_SYNTAX_ERRORS}): rnnp stopped reading here`,
        { file, span },
        { hint: "fix the first errors, then validate again" },
      ),
    };
  } finally {
    Error.stackTraceLimit = limit;
  }
}

// ---- diagnostics --------------------------------------------------------------------------

export function encodingDiagnostic(p: EncodingProblem, file: string): Diagnostic {
  const start: Position = { line: p.line, column: p.column, offset: p.offset };
  return diagnostic(
    "encoding",
    p.message,
    {
      file,
      span: { start, end: { ...start, column: start.column + 1, offset: start.offset + 1 } },
    },
    { hint: p.hint },
  );
}

/** The first bracket that opens a level past MAX_NESTING, as a diagnostic. */
function nestingDiagnostic(tokens: readonly IToken[], file: string): Diagnostic | undefined {
  let depth = 0;
  for (const t of tokens) {
    const type = t.tokenType;
    if (type === T.LCurly || type === T.LParen || type === T.LSquare) {
      if (++depth > MAX_NESTING)
        return diagnostic(
          "too-deep",
          `brackets, braces and parentheses nest more than ${MAX_NESTING} levels deep here`,
          { file, span: tokenSpan(t)! },
          {
            expected: `at most ${MAX_NESTING} levels`,
            hint: "a pipeline needs far fewer: look for brackets that are never closed",
          },
        );
    } else if ((type === T.RCurly || type === T.RParen || type === T.RSquare) && depth > 0) depth--;
  }
  return undefined;
}

/** After one syntax error the rest of its line is usually fallout from recovery: report the first only. */
function firstPerLine(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<number>();
  return ds
    .sort((a, b) => a.span!.start.offset - b.span!.start.offset)
    .filter((d) => !seen.has(d.span!.start.line) && seen.add(d.span!.start.line));
}

function lexDiagnostics(errors: ILexingError[], text: string, file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i]!;
    if (out.length === MAX_LEXICAL_ERRORS) {
      const start = errorPosition(e);
      out.push(
        diagnostic(
          "syntax",
          `${errors.length - i} more unexpected characters from here on`,
          {
            file,
            span: { start, end: { ...start, column: start.column + 1, offset: start.offset + 1 } },
          },
          { hint: "is this a pipeline file?" },
        ),
      );
      break;
    }
    let length = Math.max(1, e.length);
    // 'text' gives two errors, one per quote: report it once, spanning the whole would-be string.
    const close = errors[i + 1];
    if (text[e.offset] === "'" && close && close.line === e.line && text[close.offset] === "'") {
      length = close.offset + 1 - e.offset;
      i++;
    }
    out.push(lexDiagnostic(e, text.slice(e.offset, e.offset + length), file));
  }
  return out;
}

function errorPosition(e: ILexingError): Position {
  return { line: e.line ?? 1, column: e.column ?? 1, offset: e.offset };
}

function lexDiagnostic(e: ILexingError, ch: string, file: string): Diagnostic {
  const start = errorPosition(e);
  const span: Span = {
    start,
    end: { ...start, column: start.column + ch.length, offset: e.offset + ch.length },
  };
  const where = { file, span };
  if (ch.startsWith('"'))
    return diagnostic("syntax", "unterminated string", where, {
      expected: 'a closing `"` on the same line',
      hint: 'strings cannot span lines; write `\\n` for a line break and `\\"` for a quote',
    });
  if (ch.startsWith("'"))
    return diagnostic("syntax", "single-quoted string", where, {
      expected: "a double-quoted string",
      hint: `write ${JSON.stringify(ch.replace(/^'|'$/g, ""))}: strings use double quotes`,
    });
  const code = ch.codePointAt(0) ?? 0;
  const shown = isControl(code) || code === 0xfeff || /\s/.test(ch) ? codePointName(code) : ch;
  return diagnostic("syntax", `unexpected character \`${shown}\``, where, {
    expected: "a name, a value, punctuation ({ } ( ) [ ] , : = . + - * /) or a comment (# or //)",
  });
}

function parseDiagnostic(e: IRecognitionException, file: string, tokens: IToken[]): Diagnostic {
  let m: SyntaxMessage;
  try {
    m = JSON.parse(e.message) as SyntaxMessage;
  } catch {
    m = { message: e.message, expected: "" };
  }
  // At end of input the token has no position: point just after the last real token.
  const span = tokenSpan(e.token) ?? endSpan(tokens);
  return diagnostic("syntax", m.message, { file, span }, { expected: m.expected, hint: m.hint });
}

function endSpan(tokens: readonly IToken[]): Span {
  const last = tokens[tokens.length - 1];
  const end = last ? tokenSpan(last)!.end : { line: 1, column: 1, offset: 0 };
  return { start: end, end: { ...end, column: end.column + 1, offset: end.offset + 1 } };
}

/** The span of a token the input holds; undefined for one error recovery made up, or the end of input. */
function tokenSpan(t: IToken): Span | undefined {
  return Number.isFinite(t.startOffset) && !t.isInsertedInRecovery ? spanOf(t) : undefined;
}
