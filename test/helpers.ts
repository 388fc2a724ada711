import { createHash } from "node:crypto";
import {
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after } from "node:test";
import { CacheStore } from "../src/cache/store.js";
import { canonicalJson } from "../src/core/canonical.js";
import { checkSource } from "../src/lang/load.js";
import type { PipelineIR } from "../src/lang/ir.js";
import { Planner } from "../src/plan/planner.js";
import { LocalExecutor } from "../src/run/executor.js";
import { Runner, type StageResult } from "../src/run/runner.js";

const IGNORED = new Set(["CI", "FORCE_COLOR", "NODE_EXTRA_CA_CERTS"]);

/**
 * This process's environment without the caller's rnnp settings (RNNP_*, CI): see test/rig.ts. Nor
 * NODE_EXTRA_CA_CERTS: no test speaks TLS, and with it set every Node process a test starts parses
 * the certificate bundle before anything else (40-50 ms of CPU each, hundreds of processes).
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("RNNP_") || IGNORED.has(k)) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = join(ROOT, "bin", "rnnp.js");

/** A fresh directory, removed when the test file ends. */
export function tempDir(prefix = "rnnp-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/** Parses and checks pipeline text; throws with the diagnostics if it is invalid. */
export function ir(source: string, file: string, overrides: string[] = []): PipelineIR {
  const r = checkSource(source, file, overrides);
  if (!r.ir) throw new Error(r.diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n"));
  return r.ir;
}

/** Runs a pipeline in-process against a cache directory; returns per-stage results and the planner. */
export async function runIn(
  source: string,
  file: string,
  cacheDir: string,
  overrides: string[] = [],
): Promise<{ results: StageResult[]; planner: Planner; store: CacheStore }> {
  const store = CacheStore.open(cacheDir);
  const planner = new Planner(ir(source, file, overrides), store);
  const results = await new Runner(planner, new LocalExecutor()).run();
  return { results, planner, store };
}

export function statuses(results: StageResult[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.name, r.status]));
}

/** A small CSV of names and labels for stage tests. */
export const NAMES_CSV =
  [
    "name,label,score",
    "Alice,f,1.5",
    "bob,m,2",
    "Carol,f,3.25",
    "dave,m,",
    " Eve ,f,4",
    "Alice,f,1.5",
    "frank,m,5",
    "Gina,f,6",
    "hal,m,7",
    "Ivy,f,8",
  ].join("\n") + "\n";

/**
 * A folder input's digest as defined, from scratch: every entry stat'ed (links followed), hidden
 * names skipped, names sorted, each file read whole and hashed, paths from path.relative, no cache.
 * The reference the stat cache's walks and folder entries must give byte for byte.
 */
export function folderDigestFromScratch(root: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith(".")) continue;
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.push(full);
    }
  };
  walk(root);
  const hex = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
  const text = canonicalJson(files.map((f) => [relative(root, f), hex(f)]));
  return createHash("sha256").update(text).digest("hex");
}
