import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CacheStore } from "../cache/store.js";
import { findProjectRoot, projectCacheDir } from "../project/root.js";
import { BUILD_ID } from "../core/build.js";
import { RNNP_VERSION } from "../core/version.js";
import { type IrIdentity, readCachedIr, writeCachedIr } from "../lang/ir-cache.js";
import type { Checked } from "./pipeline.js";
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

export async function openPlan(
  file: string | undefined,
  opts: CommonOptions,
  how: { create?: boolean } = {},
): Promise<Planner> {
  const path = pipelineFile(file);
  const abs = resolve(io().cwd, path);
  const from = dirname(abs);
  // Checked pipelines are kept in the cache's folder (src/lang/ir-cache.ts): an unchanged file is
  // not parsed again. Its bytes are read once, here: a miss parses exactly those.
  const irs = join(cacheDir(opts, from), "ir");
  const id: IrIdentity = {
    build: BUILD_ID,
    version: RNNP_VERSION,
    file: path,
    abs,
    overrides: opts.param ?? [],
  };
  const bytes = readBytes(abs);
  let ir: PipelineIR;
  let fresh: Checked | undefined;
  const kept = bytes && readCachedIr(irs, id, bytes);
  if (kept) {
    printDiagnostics(
      kept.diagnostics,
      kept.source !== undefined ? new Map([[path, kept.source]]) : undefined,
    );
    ir = kept.ir;
  } else {
    const { checkedPipeline } = await import("./pipeline.js");
    // The very bytes digested above are parsed: a file changing meanwhile cannot be kept under
    // another version's digest.
    fresh = checkedPipeline(
      path,
      opts.param ?? [],
      { json: (opts as { json?: boolean }).json === true },
      bytes,
    );
    ir = fresh.ir;
  }
  mark("parsed");
  const store = openCache(opts, { from, ...how });
  mark("cache opened");
  // Kept by the verbs that write the cache (run, check); the others only read.
  if (fresh && bytes && how.create)
    writeCachedIr(irs, id, bytes, {
      ir: fresh.ir,
      diagnostics: fresh.diagnostics,
      ...(fresh.source !== undefined ? { source: fresh.source } : {}),
    });
  const planner = new Planner(ir, store, runtimeFor(ir, opts));
  mark("planned");
  return planner;
}

function readBytes(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined; // the parser reports it
  }
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
