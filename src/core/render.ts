import pc from "picocolors";
import { readFileSync } from "node:fs";
import type { Diagnostic } from "./diagnostic.js";

/**
 * The one place diagnostics become text:
 *
 *   error[unknown-kind]: unknown stage kind `lstn`
 *     --> pipelines/names.rnnp:12:18
 *      |
 *   12 |   stage net = lstn(units: 3)
 *      |               ^^^^
 *      = expected: a stage kind (load.csv, clean, split, ...)
 *      = hint: did you mean `lstm`?
 */
export interface RenderOptions {
  /** Source texts by file name; files not given are read from disk when needed. */
  sources?: ReadonlyMap<string, string>;
  color?: boolean;
}

export function renderDiagnostic(d: Diagnostic, options: RenderOptions = {}): string {
  const c = pc.createColors(options.color ?? false);
  const sev = d.severity === "error" ? c.red(c.bold("error")) : c.yellow(c.bold("warning"));
  const out = [`${sev}${c.dim(`[${d.code}]`)}: ${c.bold(d.message)}`];
  if (d.file) {
    const where = d.span ? `${d.file}:${d.span.start.line}:${d.span.start.column}` : d.file;
    out.push(`  ${c.blue("-->")} ${where}`);
  }
  const source = d.file && d.span ? sourceOf(d.file, options.sources) : undefined;
  const gutterWidth = d.span ? String(d.span.start.line).length : 0;
  const gutter = (s = "") => c.blue(`${s.padStart(gutterWidth)} |`);
  if (source !== undefined && d.span) {
    const whole = lineAt(source, d.span.start);
    const wholeEnd =
      d.span.end.line === d.span.start.line
        ? Math.max(d.span.end.column, d.span.start.column + 1)
        : whole.length + 1;
    // A long line (a minified record, a 50 MB JSON line) is shown as a window around the column.
    const { text: lineText, startCol, endCol } = around(whole, d.span.start.column, wholeEnd);
    const caretLen = Math.max(1, Math.min(endCol, lineText.length + 1) - startCol);
    out.push(gutter(), `${gutter(String(d.span.start.line))} ${expandTabs(lineText)}`);
    out.push(
      `${gutter()} ${" ".repeat(expandTabs(lineText.slice(0, startCol - 1)).length)}${c.red("^".repeat(caretLen))}`,
    );
  }
  const pad = " ".repeat(gutterWidth + 1);
  if (d.expected) out.push(`${pad}${c.blue("=")} expected: ${d.expected}`);
  if (d.hint) out.push(`${pad}${c.blue("=")} hint: ${d.hint}`);
  return out.join("\n");
}

export function renderDiagnostics(ds: readonly Diagnostic[], options: RenderOptions = {}): string {
  const errors = ds.filter((d) => d.severity === "error").length;
  const body = ds.map((d) => renderDiagnostic(d, options)).join("\n\n");
  const summary = errors > 0 ? `\n\n${errors} error${errors === 1 ? "" : "s"}` : "";
  return body + summary;
}

function sourceOf(file: string, sources?: ReadonlyMap<string, string>): string | undefined {
  const given = sources?.get(file);
  if (given !== undefined) return given;
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The text of the span's line, found from its offset when it has one (no split of a huge file). */
function lineAt(source: string, start: { line: number; offset: number }): string {
  let from: number;
  if (start.offset >= 0 && start.offset <= source.length) {
    from = source.lastIndexOf("\n", start.offset - 1) + 1;
  } else {
    from = 0;
    for (let l = 1; l < start.line && from !== -1; l++) from = source.indexOf("\n", from) + 1 || -1;
    if (from === -1) return "";
  }
  const end = source.indexOf("\n", from);
  return source.slice(from, end < 0 ? undefined : end).replace(/\r$/, "");
}

const WIDE = 160;

/** At most WIDE characters of a line around [startCol, endCol), with "..." where it was cut. */
function around(
  line: string,
  startCol: number,
  endCol: number,
): { text: string; startCol: number; endCol: number } {
  if (line.length <= WIDE) return { text: line, startCol, endCol };
  const from = Math.max(0, Math.min(startCol - 1 - 40, line.length - WIDE));
  const to = Math.min(line.length, from + WIDE);
  const head = from > 0 ? "..." : "";
  const text = `${head}${line.slice(from, to)}${to < line.length ? "..." : ""}`;
  const shift = head.length - from;
  return {
    text,
    startCol: startCol + shift,
    endCol: Math.min(endCol + shift, head.length + (to - from) + 1),
  };
}

function expandTabs(s: string): string {
  return s.replace(/\t/g, "    ");
}
