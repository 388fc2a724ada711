import { io, stdout } from "../io.js";
import type { PipelineIR } from "../../lang/ir.js";
import { loadPipeline } from "../../lang/load.js";
import { EXIT, Exit, printJson, type CommonOptions } from "../context.js";
import { openPipeline } from "../pipeline.js";

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
