import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { CacheStore } from "../cache/store.js";
import { loadPipeline } from "../lang/load.js";
import type { PipelineIR } from "../lang/ir.js";
import { Planner } from "../plan/planner.js";
import {
  BACKENDS,
  describeRuntime,
  RuntimeUnavailable,
  type KernelsName,
  type Runtime,
} from "../runtime/descriptor.js";
import { EXIT, Exit } from "./exit.js";

import { io, onEnd } from "./io.js";
import { printDiagnostics } from "./print.js";

export { EXIT, Exit };
export { formatBytes, formatDuration, printDiagnostics, printJson, table } from "./print.js";

export interface CommonOptions {
  cache?: string;
  param?: string[];
  backend?: string;
  kernels?: string;
}

/** The options that choose what a pipeline computes, for a child rnnp process (workers, rebuilds). */
export function computeArgs(opts: CommonOptions): string[] {
  return [
    ...(opts.backend ? ["--backend", opts.backend] : []),
    ...(opts.kernels ? ["--kernels", opts.kernels] : []),
    ...(opts.param ?? []).flatMap((p) => ["-P", p]),
  ];
}

/** The pipeline file: as given, or the only .rnnp file in the working directory. */
export function pipelineFile(given?: string): string {
  if (given) return given;
  const here = readdirSync(io().cwd).filter((f) => f.endsWith(".rnnp"));
  if (here.length === 1) return here[0]!;
  throw new Exit(
    EXIT.invalid,
    here.length === 0
      ? "no pipeline file given, and no .rnnp file here"
      : `several .rnnp files here (${here.join(", ")}); name one`,
  );
}

/** Parses and checks a pipeline, printing diagnostics; exits 2 on any error. */
export function openPipeline(file: string, overrides: readonly string[] = []): PipelineIR {
  const loaded = loadPipeline(file, overrides, io().cwd);
  printDiagnostics(
    loaded.diagnostics,
    loaded.source !== undefined ? new Map([[file, loaded.source]]) : undefined,
  );
  if (!loaded.ir) throw new Exit(EXIT.invalid);
  return loaded.ir;
}

/** The cache directory: --cache, else $RNNP_CACHE, else ./cache. */
export function cacheDir(opts: CommonOptions): string {
  return resolve(io().cwd, opts.cache ?? io().env.RNNP_CACHE ?? "cache");
}

/** The cache, closed when the command ends. */
export function openCache(opts: CommonOptions): CacheStore {
  const store = CacheStore.open(cacheDir(opts));
  onEnd(() => store.close());
  return store;
}

export function openPlan(file: string | undefined, opts: CommonOptions): Planner {
  const ir = openPipeline(pipelineFile(file), opts.param ?? []);
  return new Planner(ir, openCache(opts), runtimeFor(ir, opts));
}

/**
 * The numeric runtime: --backend, else the pipeline's `backend` setting, else wasm; recurrent layers
 * on --kernels, else the `kernels` setting, else fused. Described without loading TensorFlow.js; when
 * it cannot run here, stages that need it fail and say why.
 */
export function runtimeFor(ir: PipelineIR, opts: CommonOptions): Runtime | RuntimeUnavailable {
  const name = opts.backend ?? ir.backend ?? "wasm";
  if (!(BACKENDS as readonly string[]).includes(name))
    throw new Exit(EXIT.invalid, `--backend ${name}: expected one of ${BACKENDS.join(", ")}`);
  try {
    return describeRuntime(name, (opts.kernels ?? ir.kernels ?? "fused") as KernelsName);
  } catch (e) {
    if (e instanceof RuntimeUnavailable) return e;
    throw e;
  }
}
