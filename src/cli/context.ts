import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CacheStore } from "../cache/store.js";
import { findProjectRoot, projectCacheDir } from "../project/root.js";
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
import { mark } from "../core/timing.js";
import { EXIT, Exit } from "./exit.js";

import { io, onEnd } from "./io.js";
import { printDiagnostics, printJson } from "./print.js";

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
  const loaded = loadPipeline(file, overrides, io().cwd);
  if (how.json && !loaded.ir) {
    printJson({ file, valid: false, diagnostics: loaded.diagnostics });
    throw new Exit(EXIT.invalid);
  }
  printDiagnostics(
    loaded.diagnostics,
    loaded.source !== undefined ? new Map([[file, loaded.source]]) : undefined,
  );
  if (!loaded.ir) throw new Exit(EXIT.invalid);
  return loaded.ir;
}

/**
 * The cache directory: --cache, else $RNNP_CACHE (both relative to the current directory), else the
 * project's: `cache` in rnnp.config.json, else `cache/` at the project root found from `from` (the
 * pipeline's folder, or the current one). So one project has one cache from any folder.
 */
export function cacheDir(opts: CommonOptions, from: string = io().cwd): string {
  const given = opts.cache ?? io().env.RNNP_CACHE;
  if (given !== undefined && given !== "") return resolve(io().cwd, given);
  return projectCacheDir(findProjectRoot(from));
}

export interface OpenCacheOptions {
  /** Where to look for the project root (default: the current directory). */
  from?: string;
  /**
   * Verbs that store results (run, check, cache import) create the cache; the others only read, and
   * where there is no cache yet they see an empty one that leaves nothing behind.
   */
  create?: boolean;
}

/** The cache, closed when the command ends. */
export function openCache(opts: CommonOptions, how: OpenCacheOptions = {}): CacheStore {
  const dir = cacheDir(opts, how.from);
  if (!how.create && !existsSync(join(dir, "data.mdb"))) return emptyCache();
  const store = CacheStore.open(dir);
  onEnd(() => store.close());
  return store;
}

/** An empty cache in a temporary folder, removed when the command ends: what a read-only verb sees before anything ran. */
function emptyCache(): CacheStore {
  const dir = mkdtempSync(join(tmpdir(), "rnnp-empty-cache-"));
  const store = CacheStore.open(dir);
  onEnd(() => rmSync(dir, { recursive: true, force: true }));
  onEnd(() => store.close());
  return store;
}

export function openPlan(
  file: string | undefined,
  opts: CommonOptions,
  how: { create?: boolean } = {},
): Planner {
  const path = pipelineFile(file);
  const ir = openPipeline(path, opts.param ?? [], {
    json: (opts as { json?: boolean }).json === true,
  });
  mark("parsed");
  const store = openCache(opts, { from: dirname(resolve(io().cwd, path)), ...how });
  mark("cache opened");
  const planner = new Planner(ir, store, runtimeFor(ir, opts));
  mark("planned");
  return planner;
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
