import type { CstNode, IRecognitionException, IToken, ILexingError } from "chevrotain";
import type { Diagnostic, Position, Span } from "../src/core/diagnostic.js";
import type * as A from "./ast.js";
import { lex } from "./lexer.js";
import type { SyntaxMessage } from "./messages.js";
import { parser } from "./parser.js";

/** The grammar's entry point: source text -> syntax tree, comments and syntax diagnostics. */
export interface ParseResult {
  /** Absent only when nothing could be recovered (e.g. the file does not start with `pipeline`). */
  ast?: A.PipelineAst;
  comments: A.Comment[];
  diagnostics: Diagnostic[];
}

export function parse(text: string, file: string): ParseResult {
  const lexed = lex(text);
  parser.input = lexed.tokens;
  const cst = parser.pipeline();
  const builder = new AstBuilder(file);
  const ast = cst && tok(cst, "Identifier") ? builder.pipeline(cst) : undefined;
  const syntax = [
    ...parser.errors.map((e) => parseDiagnostic(e, file, lexed.tokens)),
    ...builder.diagnostics,
  ];
  const diagnostics = [...lexDiagnostics(lexed.errors, text, file), ...firstPerLine(syntax)];
  diagnostics.sort((a, b) => a.span!.start.offset - b.span!.start.offset);
  return {
    ...(ast ? { ast } : {}),
    comments: lexed.comments.map((t) => ({ text: t.image, span: tokenSpan(t)! })),
    diagnostics,
  };
}

// ---- diagnostics --------------------------------------------------------------------------

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

function lexDiagnostic(e: ILexingError, ch: string, file: string): Diagnostic {
  const start: Position = { line: e.line ?? 1, column: e.column ?? 1, offset: e.offset };
  const span: Span = {
    start,
    end: { ...start, column: start.column + ch.length, offset: e.offset + ch.length },
  };
  const base = { code: "syntax" as const, severity: "error" as const, file, span };
  if (ch.startsWith('"')) {
    return {
      ...base,
      message: "unterminated string",
      expected: 'a closing `"` on the same line',
      hint: 'strings cannot span lines; write `\\n` for a line break and `\\"` for a quote',
    };
  }
  if (ch.startsWith("'")) {
    return {
      ...base,
      message: "single-quoted string",
      expected: "a double-quoted string",
      hint: `write ${JSON.stringify(ch.replace(/^'|'$/g, ""))}: strings use double quotes`,
    };
  }
  return {
    ...base,
    message: `unexpected character \`${ch}\``,
    expected: "a name, a value, punctuation ({ } ( ) [ ] , : = .) or a comment (# or //)",
  };
}

function parseDiagnostic(e: IRecognitionException, file: string, tokens: IToken[]): Diagnostic {
  let m: SyntaxMessage;
  try {
    m = JSON.parse(e.message) as SyntaxMessage;
  } catch {
    m = { message: e.message, expected: "" };
  }
  // At end of input the token has no position: point just after the last real token.
  let span = tokenSpan(e.token);
  if (!span) {
    const last = tokens[tokens.length - 1];
    const end = last ? tokenSpan(last)!.end : { line: 1, column: 1, offset: 0 };
    span = { start: end, end: { ...end, column: end.column + 1, offset: end.offset + 1 } };
  }
  return {
    code: "syntax",
    severity: "error",
    message: m.message,
    file,
    span,
    expected: m.expected,
    ...(m.hint ? { hint: m.hint } : {}),
  };
}

// ---- CST -> AST ---------------------------------------------------------------------------

type Children = Record<string, (CstNode | IToken)[]>;

function tokenSpan(t: IToken): Span | undefined {
  if (!Number.isFinite(t.startOffset) || t.isInsertedInRecovery) return undefined;
  return {
    start: { line: t.startLine!, column: t.startColumn!, offset: t.startOffset },
    end: { line: t.endLine!, column: t.endColumn! + 1, offset: t.endOffset! + 1 },
  };
}

function nodeSpan(n: CstNode): Span {
  const l = n.location!;
  return {
    start: { line: l.startLine!, column: l.startColumn!, offset: l.startOffset },
    end: { line: l.endLine!, column: l.endColumn! + 1, offset: l.endOffset! + 1 },
  };
}

const kids = (n: CstNode) => n.children as Children;
const tok = (n: CstNode, key: string, i = 0) => {
  const t = kids(n)[key]?.[i] as IToken | undefined;
  return t && tokenSpan(t) ? t : undefined;
};
const sub = (n: CstNode, key: string) => (kids(n)[key] ?? []) as CstNode[];
const tokens = (n: CstNode, key: string) =>
  ((kids(n)[key] ?? []) as IToken[]).filter((t) => tokenSpan(t));
const nameOf = (t: IToken): A.Name => ({ text: t.image, span: tokenSpan(t)! });
const defined = <T>(x: T | undefined): x is T => x !== undefined;

/** Recovered nodes may lack parts; such nodes are dropped (their error is already reported). */
class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly file: string) {}

  pipeline(n: CstNode): A.PipelineAst {
    const items: A.Item[] = [];
    for (const it of sub(n, "item")) {
      const [stage] = sub(it, "stageDecl");
      const [params] = sub(it, "paramsBlock");
      const [setting] = sub(it, "setting");
      const item = stage
        ? this.stageDecl(stage)
        : params
          ? this.paramsBlock(params)
          : setting
            ? this.setting(setting)
            : undefined;
      if (item) items.push(item);
    }
    return { name: nameOf(tok(n, "Identifier")!), items, span: nodeSpan(n) };
  }

  private stageDecl(n: CstNode): A.StageDecl | undefined {
    const id = tok(n, "Identifier");
    const [body] = sub(n, "invocation");
    const inv = body && this.invocation(body);
    return id && inv
      ? { type: "stage", name: nameOf(id), body: inv, span: nodeSpan(n) }
      : undefined;
  }

  private paramsBlock(n: CstNode): A.ParamsBlock {
    const params: A.ParamDecl[] = [];
    for (const p of sub(n, "paramEntry")) {
      const id = tok(p, "Identifier");
      const v = this.value(sub(p, "value")[0]);
      if (id && v) params.push({ name: nameOf(id), value: v, span: nodeSpan(p) });
    }
    return { type: "params", params, span: nodeSpan(n) };
  }

  private setting(n: CstNode): A.Setting | undefined {
    const id = tok(n, "Identifier");
    const v = this.value(sub(n, "value")[0]);
    return id && v ? { type: "setting", name: nameOf(id), value: v, span: nodeSpan(n) } : undefined;
  }

  private invocation(n: CstNode): A.Invocation | undefined {
    const [qn] = sub(n, "qualifiedName");
    const parts = qn ? tokens(qn, "Identifier") : [];
    if (!qn || parts.length === 0) return undefined;
    const [argList] = sub(n, "argumentList");
    const [blk] = sub(n, "block");
    return {
      name: { text: parts.map((t) => t.image).join("."), span: nodeSpan(qn) },
      ...(argList ? { args: this.argumentList(argList), argsSpan: nodeSpan(argList) } : {}),
      ...(blk
        ? {
            block: sub(blk, "invocation")
              .map((b) => this.invocation(b))
              .filter(defined),
          }
        : {}),
      span: nodeSpan(n),
    };
  }

  private argumentList(n: CstNode): A.Argument[] {
    const items = sub(n, "argument");
    this.requireCommas(n, items, "arguments");
    return items
      .map((a) => {
        const v = this.value(sub(a, "value")[0]);
        const id = tok(a, "Identifier");
        return v && { ...(id ? { name: nameOf(id) } : {}), value: v, span: nodeSpan(a) };
      })
      .filter(defined);
  }

  private value(n: CstNode | undefined): A.Value | undefined {
    if (!n) return undefined;
    const span = nodeSpan(n);
    const num = tok(n, "NumberLiteral");
    if (num) return { type: "number", value: Number(num.image), raw: num.image, span };
    const str = tok(n, "StringLiteral");
    if (str)
      return { type: "string", value: JSON.parse(str.image) as string, raw: str.image, span };
    if (tok(n, "True")) return { type: "bool", value: true, span };
    if (tok(n, "False")) return { type: "bool", value: false, span };
    const [list] = sub(n, "list");
    if (list) {
      const items = sub(list, "value");
      this.requireCommas(list, items, "list items");
      return { type: "list", items: items.map((v) => this.value(v)).filter(defined), span };
    }
    const [obj] = sub(n, "object");
    if (obj) return { type: "object", entries: this.objectEntries(obj), span };
    const [ref] = sub(n, "reference");
    return ref && this.reference(ref, span);
  }

  private objectEntries(n: CstNode): A.ObjectEntry[] {
    const entries = sub(n, "objectEntry");
    this.requireCommas(n, entries, "object entries");
    return entries
      .map((e) => {
        const id = tok(e, "Identifier");
        const str = tok(e, "StringLiteral");
        const key = id
          ? nameOf(id)
          : str
            ? { text: JSON.parse(str.image) as string, span: tokenSpan(str)! }
            : undefined;
        const v = this.value(sub(e, "value")[0]);
        return key && v && { key, value: v, span: nodeSpan(e) };
      })
      .filter(defined);
  }

  private reference(n: CstNode, span: Span): A.Value | undefined {
    // The head and the dotted tail share CST keys; order the parts by offset.
    const path = [...tokens(n, "Params"), ...tokens(n, "Identifier")]
      .sort((a, b) => a.startOffset - b.startOffset)
      .map(nameOf);
    if (path.length === 0) return undefined;
    const [argList] = sub(n, "argumentList");
    if (!argList) return { type: "ref", path, span };
    const name = {
      text: path.map((p) => p.text).join("."),
      span: { start: path[0]!.span.start, end: path[path.length - 1]!.span.end },
    };
    return { type: "call", name, args: this.argumentList(argList), span };
  }

  /** The parser lets a comma be missing so it can go on; here that becomes a precise error. */
  private requireCommas(n: CstNode, items: CstNode[], what: string): void {
    const commas = tokens(n, "Comma").map((t) => t.startOffset);
    for (let i = 1; i < items.length; i++) {
      const prevEnd = items[i - 1]!.location!.endOffset!;
      const start = items[i]!.location!.startOffset;
      if (!commas.some((c) => c > prevEnd && c < start)) {
        const span = nodeSpan(items[i]!);
        this.diagnostics.push({
          code: "syntax",
          severity: "error",
          message: `missing ',' between ${what}`,
          file: this.file,
          span: {
            start: span.start,
            end:
              span.start.line === span.end.line
                ? span.end
                : { ...span.start, column: span.start.column + 1, offset: span.start.offset + 1 },
          },
          expected: "','",
          hint: `separate ${what} with commas`,
        });
      }
    }
  }
}
