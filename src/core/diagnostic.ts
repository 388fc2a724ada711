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
  /** Stable identifier for tests and tooling, e.g. `unknown-kind`. */
  code: string;
  severity: "error" | "warning";
  message: string;
  /** The file the span points into; absent for problems without a place (e.g. a bad -P flag). */
  file?: string;
  span?: Span;
  /** What would have been valid here. */
  expected?: string;
  /** One actionable suggestion, e.g. "did you mean `lstm`?". */
  hint?: string;
}

/** Thrown where a caller cannot go on; carries the diagnostics to render. */
export class DiagnosticError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.message).join("; "));
    this.name = "DiagnosticError";
  }
}

export function error(
  code: string,
  message: string,
  where: { file?: string; span?: Span } = {},
  extra: Pick<Diagnostic, "expected" | "hint"> = {},
): Diagnostic {
  return { code, severity: "error", message, ...where, ...extra };
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
