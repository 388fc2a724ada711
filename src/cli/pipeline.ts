import type { Diagnostic } from "../core/diagnostic.js";
import type { PipelineIR } from "../lang/ir.js";
import { loadPipeline } from "../lang/load.js";
import { EXIT, Exit } from "./exit.js";
import { io } from "./io.js";
import { printDiagnostics, printJson } from "./print.js";

/**
 * Parsing and checking, for the CLI. Its own module because it loads the parser (Chevrotain, the
 * grammar, the checker): commands that plan (`openPlan` in context.ts) import it only when the
 * pipeline's checked IR is not kept, so a cached run never loads it.
 */

/**
 * Parses and checks a pipeline, printing diagnostics; exits 2 on any error. With `json`, an invalid
 * pipeline's diagnostics go to stdout as JSON (`{file, valid: false, diagnostics}`), so a script that
 * asked for JSON gets JSON.
 */
export function openPipeline(
  file: string,
  overrides: readonly string[] = [],
  how: { json?: boolean } = {},
): PipelineIR {
  return checkedPipeline(file, overrides, how).ir;
}

/** A checked pipeline, with its warnings and text (to print them again when it is kept). */
export interface Checked {
  ir: PipelineIR;
  diagnostics: Diagnostic[];
  source: string | undefined;
}

/** `bytes`: the file's contents, if read already (the checked IR is kept under their digest). */
export function checkedPipeline(
  file: string,
  overrides: readonly string[],
  how: { json?: boolean },
  bytes?: Uint8Array,
): Checked {
  const loaded = loadPipeline(file, overrides, io().cwd, bytes);
  if (how.json && !loaded.ir) {
    printJson({ file, valid: false, diagnostics: loaded.diagnostics });
    throw new Exit(EXIT.invalid);
  }
  printDiagnostics(
    loaded.diagnostics,
    loaded.source !== undefined ? new Map([[file, loaded.source]]) : undefined,
  );
  if (!loaded.ir) throw new Exit(EXIT.invalid);
  return { ir: loaded.ir, diagnostics: loaded.diagnostics, source: loaded.source };
}
