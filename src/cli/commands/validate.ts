import { openPipeline } from "../pipeline.js";
import { fromCwd, io, stdout } from "../io.js";
import type { PipelineIR } from "../../lang/ir.js";
import { writeFileSync } from "node:fs";
import { format } from "../../lang/format.js";
import { loadPipeline, readPipelineSource } from "../../lang/load.js";
import { EXIT, Exit, printDiagnostics, printJson, type CommonOptions } from "../context.js";

/** Every check, no execution, of each file: exit 0 when all are valid, 2 otherwise. */
export function validateCommand(
  files: string[],
  opts: CommonOptions & { quiet?: boolean; json?: boolean },
): number {
  if (opts.json) {
    const results = files.map((file) => {
      const loaded = loadPipeline(file, opts.param ?? [], io().cwd);
      return {
        file,
        valid: loaded.ir !== undefined,
        ...(loaded.ir ? { pipeline: loaded.ir.name, stages: loaded.ir.stages.length } : {}),
        diagnostics: loaded.diagnostics,
      };
    });
    printJson(results);
    return results.every((r) => r.valid) ? EXIT.ok : EXIT.invalid;
  }
  let invalid = 0;
  for (const file of files) {
    let ir: PipelineIR;
    try {
      ir = openPipeline(file, opts.param ?? []);
    } catch (e) {
      if (!(e instanceof Exit) || files.length === 1) throw e;
      invalid++;
      continue;
    }
    if (!opts.quiet)
      stdout().write(
        `${stdout().c.green("✔")} ${file}: pipeline \`${ir.name}\` is valid (${ir.stages.length} stage${ir.stages.length === 1 ? "" : "s"})\n`,
      );
  }
  return invalid ? EXIT.invalid : EXIT.ok;
}

/** Prints the canonical formatting, or rewrites files with --write, or lists unformatted files with --check. */
export function fmtCommand(files: string[], opts: { write?: boolean; check?: boolean }): number {
  let unformatted = 0;
  for (const file of files) {
    const read = readPipelineSource(file, fromCwd(file));
    if ("diagnostic" in read) {
      if (read.diagnostic.code === "no-file") throw new Exit(EXIT.invalid, `no such file: ${file}`);
      printDiagnostics([read.diagnostic], new Map([[file, read.source ?? ""]]));
      throw new Exit(EXIT.invalid);
    }
    const source = read.source;
    const r = format(source, file);
    if (r.text === undefined) {
      printDiagnostics(r.diagnostics, new Map([[file, source]]));
      throw new Exit(EXIT.invalid);
    }
    if (opts.check) {
      if (r.text !== source) {
        unformatted++;
        stdout().write(`${file}\n`);
      }
    } else if (opts.write) {
      if (r.text !== source) writeFileSync(fromCwd(file), r.text);
    } else stdout().write(r.text);
  }
  return opts.check && unformatted ? EXIT.failed : EXIT.ok;
}
