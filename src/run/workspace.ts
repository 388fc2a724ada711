import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { FileSet } from "../artifacts/files.js";
import type { StageIR } from "../lang/ir.js";
import type { Planner } from "../plan/planner.js";
import { resolveDataPath } from "../project/paths.js";
import { readArtifact } from "./artifacts.js";

/**
 * Outputs a stage writes into the working tree (an export's folder), compared with what the cache
 * holds for it, as `dvc status` compares a workspace with its .dvc files: a stage is fresh only if
 * its files are there with the bytes it made. `run` restores them.
 */
export interface WorkspaceDrift {
  /** The folder, relative to the pipeline. */
  dir: string;
  missing: string[];
  modified: string[];
}

/** What differs in a built stage's workspace outputs; undefined when they are as built (or it writes none). */
export function workspaceDrift(planner: Planner, stage: StageIR): WorkspaceDrift | undefined {
  if (!stage.kind.materialize) return undefined;
  const digests = planner.outputsOf(stage.name);
  if (!digests) return undefined;
  const missing: string[] = [];
  const modified: string[] = [];
  let dir = "";
  for (const digest of Object.values(digests)) {
    const artifact = readArtifact(planner.store, digest);
    if (artifact.type !== "files") continue;
    const set = artifact as FileSet;
    const abs = resolveDataPath(set.dir, planner.ir.dir);
    dir = relative(planner.ir.dir, abs) || ".";
    for (const [name, bytes] of Object.entries(set.files)) {
      const file = join(abs, name);
      if (!existsSync(file)) missing.push(name);
      else if (!Buffer.from(readFileSync(file)).equals(Buffer.from(bytes))) modified.push(name);
    }
  }
  return missing.length || modified.length ? { dir, missing, modified } : undefined;
}

/** `exports/names: model.json modified, weights.bin missing`. */
export function describeDrift(d: WorkspaceDrift): string {
  return `${d.dir}: ${[...d.modified.map((f) => `${f} modified`), ...d.missing.map((f) => `${f} missing`)].join(", ")}`;
}
