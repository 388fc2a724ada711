import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Digest } from "../../core/digest.js";
import { LocalExecutor } from "../../run/executor.js";
import { Runner } from "../../run/runner.js";
import { EXIT, openPlan, printJson, type CommonOptions } from "../context.js";

/** The hidden worker: rebuild one stage, write its outputs' bytes to --out, print their digests. */
export async function rebuildStageCommand(
  file: string,
  opts: CommonOptions & { stage: string; out: string },
): Promise<number> {
  const planner = openPlan(file, opts, { create: true });
  const outputs = await new Runner(planner, new LocalExecutor()).rebuild(opts.stage);
  const digests: Record<string, Digest> = {};
  for (const [name, enc] of Object.entries(outputs)) {
    writeFileSync(join(opts.out, `${name}.bin`), enc.bytes);
    digests[name] = enc.ref.digest;
  }
  printJson(digests);
  return EXIT.ok;
}
