import { parse } from "../../grammar/api.js";
import type * as A from "../../grammar/ast.js";
import type { Diagnostic, Position, Span } from "../core/diagnostic.js";
import { printArgument, printKey, printValue } from "./print.js";

/**
 * `rnnp fmt`: one canonical layout for a pipeline. Two-space indent, one item per line, arguments
 * on one line unless they do not fit in WIDTH columns (or hold a comment), then one per line with
 * a trailing comma. Numbers and strings keep their spelling. Every comment is kept: a comment on
 * its own line stays before what follows it, one after code on the same line stays at that line's end.
 * A single blank line between items is kept; more are folded into one.
 */
const WIDTH = 100;
const INDENT = "  ";

export function format(source: string, file: string): { text?: string; diagnostics: Diagnostic[] } {
  const parsed = parse(source, file);
  if (!parsed.ast || parsed.diagnostics.some((d) => d.severity === "error"))
    return { diagnostics: parsed.diagnostics };
  return { text: new Formatter(source, parsed.comments).pipeline(parsed.ast), diagnostics: [] };
}

class Formatter {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(
    private readonly source: string,
    private readonly comments: readonly A.Comment[],
  ) {}

  pipeline(p: A.PipelineAst): string {
    this.leading(p.span.start.offset, 0);
    this.emit(0, `pipeline ${p.name.text} {`, p.name.span.end);
    p.items.forEach((item, i) => {
      // Blank lines around comments are leading()'s to keep; here only a blank line between two items.
      const pending = this.comments[this.next];
      const commentFirst =
        pending !== undefined && pending.span.start.offset < item.span.start.offset;
      if (
        i > 0 &&
        !commentFirst &&
        this.blankBefore(p.items[i - 1]!.span.end.offset, item.span.start.offset)
      )
        this.lines.push("");
      this.item(item);
    });
    this.leading(p.span.end.offset - 1, 1);
    this.emit(0, "}", p.span.end);
    this.leading(Infinity, 0);
    return this.lines.join("\n") + "\n";
  }

  private item(item: A.Item): void {
    this.leading(item.span.start.offset, 1);
    if (item.type === "setting")
      this.emit(1, `${item.name.text} ${this.value(item.value)}`, item.span.end);
    else if (item.type === "params") {
      this.emit(1, "params {", item.span.start);
      for (const p of item.params) {
        this.leading(p.span.start.offset, 2);
        this.emit(2, `${p.name.text} = ${this.value(p.value)}`, p.span.end);
      }
      this.leading(item.span.end.offset - 1, 2);
      this.emit(1, "}", item.span.end);
    } else this.invocation(item.body, 1, `stage ${item.name.text} = `, item.span);
  }

  private invocation(inv: A.Invocation, depth: number, prefix: string, outer: Span): void {
    const head = `${prefix}${inv.name.text}`;
    const blockOpen = inv.block ? " {" : "";
    // A line that opens a block ends, in the source, where the arguments (or the name) end.
    const argsEnd = inv.argsSpan?.end ?? inv.name.span.end;
    const lineEnd = inv.block ? argsEnd : outer.end;
    if (!inv.args) {
      this.emit(depth, head + blockOpen, lineEnd);
    } else {
      const inline = `${head}(${inv.args.map((a) => this.argument(a)).join(", ")})${blockOpen}`;
      const commentInside = this.hasCommentBetween(inv.name.span.end.offset, argsEnd.offset);
      if (!commentInside && INDENT.length * depth + inline.length <= WIDTH) {
        this.emit(depth, inline, lineEnd);
      } else {
        this.emit(depth, `${head}(`, inv.name.span.end);
        for (const a of inv.args) {
          this.leading(a.span.start.offset, depth + 1);
          const lines = this.broken(a.name ? `${a.name.text}: ` : "", a.value, depth + 1);
          for (const l of lines.slice(0, -1)) this.lines.push(INDENT.repeat(depth + 1) + l);
          this.emit(depth + 1, `${lines.at(-1)},`, a.span.end);
        }
        this.leading(argsEnd.offset - 1, depth + 1);
        this.emit(depth, `)${blockOpen}`, lineEnd);
      }
    }
    if (inv.block) {
      for (const b of inv.block) {
        this.leading(b.span.start.offset, depth + 1);
        this.invocation(b, depth + 1, "", b.span);
      }
      this.leading(outer.end.offset - 1, depth + 1);
      this.emit(depth, "}", outer.end);
    }
  }

  /**
   * A value as lines (indented relative to `depth`): one line when it fits, else a list or object
   * with one item per line and a trailing comma, recursively.
   */
  private broken(prefix: string, v: A.Value, depth: number): string[] {
    const inline = prefix + this.value(v);
    if (
      INDENT.length * depth + inline.length + 1 <= WIDTH ||
      (v.type !== "list" && v.type !== "object")
    )
      return [inline];
    const [open, close] = v.type === "list" ? ["[", "]"] : ["{", "}"];
    const items =
      v.type === "list"
        ? v.items.map((x) => this.broken("", x, depth + 1))
        : v.entries.map((e) => this.broken(`${printKey(e.key.text)}: `, e.value, depth + 1));
    return [
      `${prefix}${open}`,
      ...items.flatMap((lines) =>
        [...lines.slice(0, -1), `${lines.at(-1)},`].map((l) => INDENT + l),
      ),
      close,
    ];
  }

  private argument(a: A.Argument): string {
    return printArgument(a);
  }

  private value(v: A.Value): string {
    return printValue(v);
  }

  /**
   * Writes one output line for the source code that ends at `codeEnd`, with the comment that followed
   * that code on its source line, if any (only brackets and commas between).
   */
  private emit(depth: number, text: string, codeEnd: Position): void {
    let line = INDENT.repeat(depth) + text;
    const c = this.comments[this.next];
    if (
      c &&
      c.span.start.line === codeEnd.line &&
      /^[\s,()[\]{}]*$/.test(this.source.slice(codeEnd.offset, c.span.start.offset))
    ) {
      line += ` ${c.text.trimEnd()}`;
      this.next++;
    }
    this.lines.push(line);
  }

  /**
   * Comments that start before `offset` become lines of their own, at this depth. A blank line the
   * source had before a comment, or between the last one and the code it precedes, is kept.
   */
  private leading(offset: number, depth: number): void {
    let last: A.Comment | undefined;
    while (
      this.next < this.comments.length &&
      this.comments[this.next]!.span.start.offset < offset
    ) {
      const c = this.comments[this.next++]!;
      if (this.blankJustBefore(c.span.start.offset)) this.blankLine();
      this.lines.push(INDENT.repeat(depth) + c.text.trimEnd());
      last = c;
    }
    if (
      last &&
      offset !== Infinity &&
      this.blankBefore(last.span.end.offset, offset) &&
      !/^\s*\}/.test(this.source.slice(offset))
    )
      this.blankLine();
  }

  private blankLine(): void {
    const prev = this.lines.at(-1);
    if (prev !== undefined && prev !== "" && !prev.endsWith("{") && !prev.endsWith("("))
      this.lines.push("");
  }

  /** Whether only white space, including an empty line, separates `offset` from the code or comment before it. */
  private blankJustBefore(offset: number): boolean {
    const before = this.source.slice(0, offset);
    const tail = /[ \t\r\n]*$/.exec(before)![0];
    return before.length > tail.length && /\n[ \t\r]*\n/.test(tail);
  }

  private hasCommentBetween(from: number, to: number): boolean {
    return this.comments.some((c) => c.span.start.offset > from && c.span.start.offset < to);
  }

  private blankBefore(from: number, to: number): boolean {
    return /\n[ \t\r]*\n/.test(this.source.slice(from, to));
  }
}
