import { type Code, type Severity, severityOf } from "./codes.js";

/**
 * Errors are values with positions. Every problem rnnp reports about a user's files — a syntax error
 * in a pipeline, an unknown parameter, a bad row in a CSV — is a Diagnostic, rendered by render.ts.
 */
export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units like the editor columns users see. */
  column: number;
  offset: number;
}

export interface Span {
  start: Position;
  /** Exclusive. */
  end: Position;
}

export interface Diagnostic {
  /** Stable identifier for tests and tooling, from the catalogue in codes.ts, e.g. `unknown-kind`. */
  code: Code;
  /** The catalogue's severity for `code` (see diagnostic()). */
  severity: Severity;
  message: string;
  /** The file the span points into; absent for problems without a place (e.g. a bad -P flag). */
  file?: string;
  span?: Span;
  /** What would have been valid here. */
  expected?: string;
  /** One actionable suggestion, e.g. "did you mean `lstm`?". */
  hint?: string;
}

/** Where a diagnostic points: a file, and a span in it. */
export interface Where {
  file?: string | undefined;
  span?: Span | undefined;
}

/** What a diagnostic adds to its message: what would have been valid, and one suggestion. */
export interface Advice {
  expected?: string | undefined;
  hint?: string | undefined;
}

/** The one way to make a Diagnostic: the severity comes from the catalogue, absent fields stay absent. */
export function diagnostic(
  code: Code,
  message: string,
  where: Where = {},
  advice: Advice = {},
): Diagnostic {
  const d: Diagnostic = { code, severity: severityOf(code), message };
  if (where.file !== undefined) d.file = where.file;
  if (where.span !== undefined) d.span = where.span;
  if (advice.expected !== undefined) d.expected = advice.expected;
  if (advice.hint !== undefined) d.hint = advice.hint;
  return d;
}

/** @deprecated name kept for readers of data files: an error-severity diagnostic. */
export const error = diagnostic;

/**
 * Collects the diagnostics of one pass over one file (a check, a parse): each report names its code,
 * the collector fills the file and the severity.
 */
export class Collector {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file?: string) {}

  report(code: Code, message: string, span?: Span, advice: Advice = {}): Diagnostic {
    const d = diagnostic(code, message, { file: this.file, span }, advice);
    this.diagnostics.push(d);
    return d;
  }

  add(...ds: Diagnostic[]): void {
    this.diagnostics.push(...ds);
  }

  get hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === "error");
  }
}

/**
 * A problem a user can act on (bad input, a missing tool, a damaged cache entry), as opposed to a bug
 * in rnnp: rendered as a diagnostic with its code and hint, never as a stack trace. Every runtime
 * error meant for users extends it; the CLI and the runner recognise it with `instanceof`.
 */
export class UserError extends Error {
  readonly code: Code;
  readonly hint: string | undefined;
  constructor(
    message: string,
    options: { code?: Code; hint?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = options.code ?? "stage-failed";
    this.hint = options.hint;
  }

  /** This error as a diagnostic, at a place when one is known. */
  toDiagnostic(where: Where = {}, prefix = ""): Diagnostic {
    return diagnostic(this.code, prefix + this.message, where, { hint: this.hint });
  }
}

/** Thrown where a caller cannot go on; carries the diagnostics to render. */
export class DiagnosticError extends UserError {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.message).join("; "), {
      ...(diagnostics[0] ? { code: diagnostics[0].code } : {}),
      hint: diagnostics[0]?.hint,
    });
  }

  override toDiagnostic(): Diagnostic {
    return this.diagnostics[0] ?? super.toDiagnostic();
  }
}

/** Position of `offset` in `text`; used by readers of data files, which know offsets, not lines. */
export function positionAt(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1, offset };
}

/** A span covering the whole of line `line` (1-based) of `text`. */
export function lineSpan(text: string, line: number): Span {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", start);
    if (nl === -1) break;
    start = nl + 1;
  }
  let end = text.indexOf("\n", start);
  if (end === -1) end = text.length;
  if (end > start && text[end - 1] === "\r") end--;
  return {
    start: { line, column: 1, offset: start },
    end: { line, column: end - start + 1, offset: end },
  };
}
