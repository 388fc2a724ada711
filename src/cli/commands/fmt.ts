import { writeFileSync } from "node:fs";
import { format } from "../../lang/format.js";
import { readPipelineSource } from "../../lang/load.js";
import { EXIT, Exit, printDiagnostics } from "../context.js";
import { fromCwd, stdout } from "../io.js";

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
