import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import type { Diagnostic } from "../core/diagnostic.js";
import { kinds, onlyShippedKinds } from "../kinds/registry.js";
import type { PipelineIR } from "./ir.js";

/**
 * Checked pipelines kept beside the stage cache, so that a command on an unchanged pipeline skips
 * loading the parser, parsing and checking: on Node 20 those were a third of a fully cached run.
 *
 * A checked IR is a function of exactly these, and an entry is used only when every one is equal:
 * - the pipeline file's bytes (the language has no includes: the file is the whole source);
 * - the path as given (it names the file in the IR and in messages) and the absolute path (the IR's
 *   `dir`, against which data paths resolve);
 * - the `-P` overrides, in order;
 * - the code that parses and checks (grammar, checker, every kind's parameters and rules): `build`,
 *   a digest of the bundled CLI made when it is built, and rnnp's version. Without a build identity
 *   (rnnp run from its TypeScript sources), or with stage kinds other than those rnnp ships (a
 *   plugin preloaded with `node --import`, whose code the digest does not cover), nothing is cached.
 * Checking reads nothing else: no environment, no data file, no clock. Only valid pipelines are
 * kept; an entry holds the warnings to print again. One entry per pipeline path and overrides,
 * replaced when the file changes; a damaged or foreign entry is a miss.
 */
const FORMAT = "rnnp-ir-1";

export interface IrIdentity {
  /** The CLI's build digest; undefined when rnnp runs unbundled (then there is no IR cache). */
  build: string | undefined;
  version: string;
  /** The path as given. */
  file: string;
  /** The absolute path. */
  abs: string;
  overrides: readonly string[];
}

export interface CachedIr {
  ir: PipelineIR;
  /** The warnings the check gave (never errors: only valid pipelines are kept). */
  diagnostics: Diagnostic[];
  /** The decoded text, for rendering those warnings; absent when there are none. */
  source?: string;
}

interface Entry {
  format: string;
  identity: string[];
  digest: string;
  ir: Omit<PipelineIR, "stages"> & {
    stages: (Omit<PipelineIR["stages"][0], "kind"> & { kind: string })[];
  };
  diagnostics: Diagnostic[];
  source?: string;
}

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function identityOf(id: IrIdentity): string[] | undefined {
  if (id.build === undefined || !onlyShippedKinds()) return undefined;
  return [
    FORMAT,
    id.build,
    id.version,
    id.file,
    id.abs,
    String(id.overrides.length),
    ...id.overrides,
  ];
}

function entryPath(dir: string, identity: string[]): string {
  return join(dir, `${sha256(JSON.stringify(identity)).slice(0, 40)}.ir`);
}

/** The checked IR of a pipeline file whose bytes are `bytes`, if one is kept for exactly this. */
export function readCachedIr(dir: string, id: IrIdentity, bytes: Uint8Array): CachedIr | undefined {
  const identity = identityOf(id);
  if (!identity) return undefined;
  let entry: Entry;
  try {
    entry = deserialize(readFileSync(entryPath(dir, identity))) as Entry;
  } catch {
    return undefined; // none, unreadable or damaged: parse
  }
  if (
    entry?.format !== FORMAT ||
    !Array.isArray(entry.identity) ||
    entry.identity.length !== identity.length ||
    entry.identity.some((v, i) => v !== identity[i]) ||
    entry.digest !== sha256(bytes)
  )
    return undefined;
  const stages: PipelineIR["stages"] = [];
  for (const s of entry.ir.stages) {
    const kind = kinds.get(s.kind);
    if (!kind) return undefined;
    stages.push({ ...s, kind });
  }
  return {
    ir: { ...entry.ir, stages },
    diagnostics: entry.diagnostics,
    ...(entry.source !== undefined ? { source: entry.source } : {}),
  };
}

/**
 * Keeps a checked IR for the next command. Written whole under a temporary name and renamed, so a
 * reader sees the old entry or the new one, never part of one; failing to write is not an error.
 */
export function writeCachedIr(
  dir: string,
  id: IrIdentity,
  bytes: Uint8Array,
  cached: CachedIr,
): void {
  const identity = identityOf(id);
  if (!identity) return;
  const entry: Entry = {
    format: FORMAT,
    identity,
    digest: sha256(bytes),
    ir: { ...cached.ir, stages: cached.ir.stages.map((s) => ({ ...s, kind: s.kind.name })) },
    diagnostics: cached.diagnostics,
    ...(cached.diagnostics.length && cached.source !== undefined ? { source: cached.source } : {}),
  };
  const path = entryPath(dir, identity);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, serialize(entry));
    renameSync(tmp, path);
  } catch {
    rmSync(tmp, { force: true });
  }
}
