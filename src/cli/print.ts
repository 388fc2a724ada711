import { stripVTControlCharacters } from "node:util";
import stringWidth from "string-width";
import type { Diagnostic } from "../core/diagnostic.js";
import { renderDiagnostics } from "../core/render.js";
import { stderr, stdout } from "./io.js";

/** Output helpers every command shares; light, so `rnnp --help` and failures load nothing more. */

/** Diagnostics on stderr, rendered once (coloured when stderr is a terminal). */
export function printDiagnostics(
  ds: readonly Diagnostic[],
  sources?: ReadonlyMap<string, string>,
): void {
  if (!ds.length) return;
  const err = stderr();
  err.write(
    renderDiagnostics(ds, {
      color: err.c.isColorSupported,
      ...(sources ? { sources } : {}),
    }) + "\n",
  );
}

export function printJson(value: unknown): void {
  stdout().write(JSON.stringify(value, null, 2) + "\n");
}

export { formatBytes, formatDuration } from "../core/units.js";

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Columns padded to their widest cell, by display width: colour codes take none, CJK characters and
 * most emoji two columns, combining marks none.
 */
export function table(rows: string[][]): string {
  const visible = (s: string) =>
    // Printable ASCII (most cells) is one column a character: no need for the Unicode tables,
    // which took half of `cache ls` over 100,000 records.
    PRINTABLE_ASCII.test(s) ? s.length : stringWidth(stripVTControlCharacters(s));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c))));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - visible(c))))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
