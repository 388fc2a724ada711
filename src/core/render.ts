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
 *
 * Output is bounded whatever the input: each source is split into lines once, at most `limit`
 * diagnostics are shown (then how many more), a long line is shown as a window around the caret,
 * and messages are cut at MAX_TEXT characters.
 */
export interface RenderOptions {
  /** Source texts by file name; files not given are read from disk when needed. */
  sources?: ReadonlyMap<string, string>;
  color?: boolean;
  /** How many diagnostics renderDiagnostics shows; the rest are counted. Default 50. */
  limit?: number;
}

export const DEFAULT_LIMIT = 50;
/** Source lines longer than this are shown as a window of WINDOW columns around the caret. */
const MAX_LINE = 120;
const WINDOW = 100;
/** Characters of a message, `expected` or hint shown. */
const MAX_TEXT = 1000;

export function renderDiagnostic(d: Diagnostic, options: RenderOptions = {}): string {
  return new Renderer(options).render(d);
}

export function renderDiagnostics(ds: readonly Diagnostic[], options: RenderOptions = {}): string {
  const renderer = new Renderer(options);
  const limit = Math.max(0, options.limit ?? DEFAULT_LIMIT);
  const parts = ds.slice(0, limit).map((d) => renderer.render(d));
  const errors = ds.filter((d) => d.severity === "error").length;
  if (ds.length > limit) {
    const hidden = ds.slice(limit);
    const e = hidden.filter((d) => d.severity === "error").length;
    const counts = [plural(e, "error"), plural(hidden.length - e, "warning")].filter(
      (s) => !s.startsWith("0 "),
    );
    parts.push(`... and ${hidden.length} more not shown (${counts.join(", ")})`);
  }
  const summary = errors > 0 ? `\n\n${plural(errors, "error")}` : "";
  return parts.join("\n\n") + summary;
}

class Renderer {
  private readonly c: ReturnType<typeof pc.createColors>;
  private readonly lines = new Map<string, Lines | undefined>();

  constructor(private readonly options: RenderOptions) {
    this.c = pc.createColors(options.color ?? false);
  }

  render(d: Diagnostic): string {
    const c = this.c;
    const sev = d.severity === "error" ? c.red(c.bold("error")) : c.yellow(c.bold("warning"));
    const out = [`${sev}${c.dim(`[${d.code}]`)}: ${c.bold(clip(d.message))}`];
    if (d.file) {
      const where = d.span ? `${d.file}:${d.span.start.line}:${d.span.start.column}` : d.file;
      out.push(`  ${c.blue("-->")} ${visible(where)}`);
    }
    const gutterWidth = d.span ? String(d.span.start.line).length : 0;
    const gutter = (s = "") => c.blue(`${s.padStart(gutterWidth)} |`);
    const lines = d.file && d.span ? this.linesOf(d.file) : undefined;
    if (lines && d.span) {
      const lineText = lines.line(d.span.start.line);
      const startCol = Math.max(1, d.span.start.column);
      const endCol =
        d.span.end.line === d.span.start.line
          ? Math.max(d.span.end.column, startCol + 1)
          : lineText.length + 1;
      const shown = window(lineText, startCol, Math.min(endCol, lineText.length + 1));
      out.push(gutter(), `${gutter(String(d.span.start.line))} ${shown.text}`);
      out.push(`${gutter()} ${" ".repeat(shown.caretAt)}${c.red("^".repeat(shown.caretLength))}`);
    }
    const pad = " ".repeat(gutterWidth + 1);
    if (d.expected) out.push(`${pad}${c.blue("=")} expected: ${clip(d.expected)}`);
    if (d.hint) out.push(`${pad}${c.blue("=")} hint: ${clip(d.hint)}`);
    return out.join("\n");
  }

  private linesOf(file: string): Lines | undefined {
    if (!this.lines.has(file)) {
      const text = sourceOf(file, this.options.sources);
      this.lines.set(file, text === undefined ? undefined : new Lines(text));
    }
    return this.lines.get(file);
  }
}

/** A text split into lines once: the offset where each line starts. */
class Lines {
  private readonly starts: number[] = [0];
  constructor(private readonly text: string) {
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1))
      this.starts.push(i + 1);
  }

  /** Line `n` (1-based) without its line break; empty past the end. */
  line(n: number): string {
    const start = this.starts[n - 1];
    if (start === undefined) return "";
    const next = this.starts[n];
    const end = next === undefined ? this.text.length : next - 1;
    return this.text.slice(start, this.text[end - 1] === "\r" ? end - 1 : end);
  }
}

/**
 * The part of a line to show, with the caret's place and length in display columns: the whole
 * line when short, else WINDOW columns around the caret, cut ends marked with `...`. Tabs become four
 * spaces and control characters `�`, so what is printed is what the caret lines up with.
 */
function window(
  line: string,
  startCol: number,
  endCol: number,
): { text: string; caretAt: number; caretLength: number } {
  let from = 0;
  let to = line.length;
  if (line.length > MAX_LINE) {
    from = Math.max(0, Math.min(startCol - 1 - WINDOW / 4, line.length - WINDOW));
    to = Math.min(line.length, from + WINDOW);
  }
  const head = from > 0 ? "..." : "";
  const tail = to < line.length ? "..." : "";
  const before = display(line.slice(from, Math.max(from, startCol - 1)));
  const marked = display(line.slice(Math.max(from, startCol - 1), Math.min(to, endCol - 1)));
  return {
    text: head + display(line.slice(from, to)) + tail,
    caretAt: head.length + before.length,
    caretLength: Math.max(1, marked.length),
  };
}

function display(s: string): string {
  return mapControls(s.replace(/\t/g, "    "), () => "\uFFFD");
}

/** Control characters (a terminal would act on them) shown as escapes; tabs and line breaks kept. */
function visible(s: string): string {
  return mapControls(s, (ch) =>
    ch === "\t" || ch === "\n" ? ch : `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `s` with each C0 control, DEL and C1 control replaced by `f` of it. */
function mapControls(s: string, f: (ch: string) => string): string {
  let out = "";
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      out += s.slice(last, i) + f(s[i]!);
      last = i + 1;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

function clip(s: string): string {
  return s.length <= MAX_TEXT
    ? visible(s)
    : `${visible(s.slice(0, MAX_TEXT))}... (${s.length - MAX_TEXT} more characters)`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
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
