import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import pc from "picocolors";
import type { Diagnostic } from "../core/diagnostic.js";
import { renderDiagnostics } from "../core/render.js";
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

export { EXIT, Exit };

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

export const color = pc.isColorSupported;

export function printDiagnostics(
  ds: readonly Diagnostic[],
  sources?: ReadonlyMap<string, string>,
): void {
  if (ds.length)
    process.stderr.write(
      renderDiagnostics(ds, {
        color: process.stderr.isTTY && color,
        ...(sources ? { sources } : {}),
      }) + "\n",
    );
}

/** The pipeline file: as given, or the only .rnnp file in the working directory. */
export function pipelineFile(given?: string): string {
  if (given) return given;
  const here = readdirSync(".").filter((f) => f.endsWith(".rnnp"));
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
  const loaded = loadPipeline(file, overrides);
  printDiagnostics(
    loaded.diagnostics,
    loaded.source !== undefined ? new Map([[file, loaded.source]]) : undefined,
  );
  if (!loaded.ir) throw new Exit(EXIT.invalid);
  return loaded.ir;
}

/** The cache directory: --cache, else $RNNP_CACHE, else ./cache. */
export function cacheDir(opts: CommonOptions): string {
  return resolve(opts.cache ?? process.env.RNNP_CACHE ?? "cache");
}

export function openCache(opts: CommonOptions): CacheStore {
  return CacheStore.open(cacheDir(opts));
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

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Columns padded to their widest cell (visible width, ignoring colour codes). */
export function table(rows: string[][]): string {
  const visible = (s: string) => stripVTControlCharacters(s).length;
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c))));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - visible(c))))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
