import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Digest } from "../../core/digest.js";
import { LocalExecutor } from "../../run/executor.js";
import { Runner } from "../../run/runner.js";
import { Live } from "../progress.js";
import { EXIT, openPlan, printJson, type CommonOptions } from "../context.js";

/** The hidden worker: rebuild one stage, write its outputs' bytes to --out, print their digests. */
export async function rebuildStageCommand(
  file: string,
  opts: CommonOptions & { stage: string; out: string },
): Promise<number> {
  const planner = await openPlan(file, opts, { create: true });
  // Its logs and progress go to stderr as plain lines; `check` shows them prefixed by the stage.
  const live = new Live({ prefix: false });
  const outputs = await new Runner(planner, new LocalExecutor())
    .rebuild(opts.stage, (e) => {
      if (e.type === "log") live.log(e.stage.name, e.message);
      else if (e.type === "progress") live.progress(e.stage.name, e.done, e.total, e.unit);
    })
    .finally(() => live.stop());
  const digests: Record<string, Digest> = {};
  for (const [name, enc] of Object.entries(outputs)) {
    writeFileSync(join(opts.out, `${name}.bin`), enc.bytes);
    digests[name] = enc.ref.digest;
  }
  printJson(digests);
  return EXIT.ok;
}
