import { EXIT, table } from "../context.js";
import { stdout } from "../io.js";
import { topics, topicsText } from "../reference.js";

/** `rnnp kinds`: the stage kinds, layers, optimizers and schedules, one line each. */
export function kindsCommand(opts: { json?: boolean }): number {
  if (opts.json) {
    stdout().write(`${JSON.stringify(topics(), null, 2)}\n`);
    return EXIT.ok;
  }
  stdout().write(topicsText(table));
  return EXIT.ok;
}
