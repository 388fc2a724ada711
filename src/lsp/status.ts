import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { findProjectRoot, projectCacheDir } from "../project/root.js";
import { CacheStore } from "../cache/store.js";
import type { PipelineIR } from "../lang/ir.js";
import { Planner } from "../plan/planner.js";
import { describeRuntime, type KernelsName, RuntimeUnavailable } from "../runtime/descriptor.js";

/**
 * A stage's key and whether the cache holds it, for hover. The editor only ever reads the cache: a
 * cache that does not exist is reported as such, never created, and nothing is written to one that
 * does (not even the stat cache the planner keeps of hashed data files).
 */
export type StageStatus =
  | { state: "cached"; key: string; when: string; ms: number }
  | { state: "not cached"; key: string }
  /** Its key depends on outputs of stages that are not cached yet. */
  | { state: "waiting"; on: string[] }
  | { state: "invalid"; message: string }
  | { state: "no cache"; dir: string };

/** The cache a pipeline uses by default, as the CLI finds it: its project's (rnnp.config.json's `cache`, else `cache/` at the root). */
export function defaultCacheDir(pipelineFile: string): string {
  return projectCacheDir(findProjectRoot(dirname(pipelineFile)));
}

export function stageStatus(ir: PipelineIR, stage: string, cacheDir: string): StageStatus {
  if (!existsSync(join(cacheDir, "data.mdb"))) return { state: "no cache", dir: cacheDir };
  const store = CacheStore.open(cacheDir, { readOnly: true });
  try {
    const readOnly = Object.create(store) as CacheStore;
    readOnly.putStats = () => {};
    const planner = new Planner(ir, readOnly, runtimeOf(ir));
    // Keys use upstream outputs: resolve the stages above first, in order.
    for (const s of planner.closure([stage])) planner.resolve(s.name);
    const r = planner.resolve(stage);
    if (r.state === "waiting") return { state: "waiting", on: r.on };
    if (r.state === "invalid")
      return { state: "invalid", message: r.diagnostics.map((d) => d.message).join("; ") };
    if (!r.record) return { state: "not cached", key: r.key };
    return {
      state: "cached",
      key: r.key,
      when: r.record.provenance.createdAt,
      ms: r.record.provenance.durationMs,
    };
  } finally {
    void store.close();
  }
}

function runtimeOf(ir: PipelineIR) {
  try {
    return describeRuntime(ir.backend ?? "wasm", (ir.kernels ?? "fused") as KernelsName);
  } catch (e) {
    if (e instanceof RuntimeUnavailable) return e;
    throw e;
  }
}
