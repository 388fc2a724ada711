import { writeFileSync } from "node:fs";
import type { Diagnostic } from "../../core/diagnostic.js";
import { format } from "../../lang/format.js";
import { readPipelineSource } from "../../lang/load.js";
import { EXIT, Exit, printDiagnostics, printJson } from "../context.js";
import { fromCwd, stdout } from "../io.js";

export interface FmtOptions {
  write?: boolean;
  check?: boolean;
  json?: boolean;
}

/** One file's outcome, as `--json` prints it. */
interface Formatted {
  file: string;
  /** The file already was in canonical format (false: --check lists it, --write rewrote it). */
  formatted?: boolean;
  written?: boolean;
  /** The canonical text, when neither --write nor --check was given. */
  text?: string;
  diagnostics?: Diagnostic[];
}

/**
 * Prints the canonical formatting, or rewrites files with --write, or lists unformatted files with
 * --check (exit 1 if any). A file that does not parse is an error (exit 2); with --json every file is
 * still reported, its diagnostics included.
 */
export function fmtCommand(files: string[], opts: FmtOptions): number {
  const results = files.map((file) => formatFile(file, opts));
  const broken = results.filter((r) => r.diagnostics);
  const unformatted = results.filter((r) => r.formatted === false).length;
  const code = broken.length ? EXIT.invalid : opts.check && unformatted ? EXIT.failed : EXIT.ok;
  if (opts.json) {
    printJson(results);
    return code;
  }
  for (const r of results) {
    if (r.diagnostics) continue;
    if (opts.check && r.formatted === false) stdout().write(`${r.file}\n`);
    else if (r.text !== undefined) stdout().write(r.text);
  }
  return code;
}

function formatFile(file: string, opts: FmtOptions): Formatted {
  const read = readPipelineSource(file, fromCwd(file));
  if ("diagnostic" in read) {
    if (read.diagnostic.code === "no-file" && !opts.json)
      throw new Exit(EXIT.invalid, `no such file: ${file}`);
    return failed(file, [read.diagnostic], read.source ?? "", opts);
  }
  const source = read.source;
  const r = format(source, file);
  if (r.text === undefined) return failed(file, r.diagnostics, source, opts);
  const formatted = r.text === source;
  if (opts.write) {
    if (!formatted) writeFileSync(fromCwd(file), r.text);
    return { file, formatted, written: !formatted };
  }
  return opts.check ? { file, formatted } : { file, formatted, text: r.text };
}

/** A file that cannot be formatted: its diagnostics, printed now unless the output is JSON. */
function failed(
  file: string,
  diagnostics: Diagnostic[],
  source: string,
  opts: FmtOptions,
): Formatted {
  if (!opts.json) printDiagnostics(diagnostics, new Map([[file, source]]));
  return { file, diagnostics };
}
