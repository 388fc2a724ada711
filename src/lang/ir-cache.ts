import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { writeAtomically } from "../core/atomic-write.js";
import { sha256 } from "../core/digest.js";
import { isDeepStrictEqual } from "node:util";
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
 * replaced when the file changes. An entry is its payload's SHA-256 then the payload: a damaged
 * entry (even one that still decodes) and anything unexpected in one are a miss, and the command
 * parses and writes it again.
 *
 * The payload is JSON: a checked IR is plain data, and JSON.parse reads the 6 MB IR of a 10,000-stage
 * pipeline about ten times faster than v8.deserialize did. An IR that JSON would not give back
 * exactly (an `undefined` property, a -0) is not kept: its pipeline is checked on every command.
 *
 * The folder stays small by itself: writing an entry (on a miss) drops entries of other builds,
 * temporary files left by a killed writer, and the least recently used entries beyond
 * {@link MAX_ENTRIES}; `rnnp cache gc` drops other builds' entries and, with --max-age, old ones.
 */
const FORMAT = "rnnp-ir-3";
/** Entries kept per cache: pipelines and -P lists in use at once, with room to spare. */
export const MAX_ENTRIES = 256;
/** A temporary file older than this was left by a writer that died before renaming it. */
const STALE_TMP_MS = 10 * 60 * 1000;

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

/** Entries are named `<build>-<identity>.ir`, so other builds' are found without reading them. */
const buildTag = (identity: string[]) => sha256(JSON.stringify(identity.slice(0, 3))).slice(0, 16);

function entryPath(dir: string, identity: string[]): string {
  return join(dir, `${buildTag(identity)}-${sha256(JSON.stringify(identity)).slice(0, 40)}.ir`);
}

/** The payload of an entry whose digest checks, else undefined. */
function verified(file: Buffer): Buffer | undefined {
  if (file.length < 32) return undefined;
  const payload = file.subarray(32);
  return sha256(payload) === file.toString("hex", 0, 32) ? payload : undefined;
}

/** The checked IR of a pipeline file whose bytes are `bytes`, if one is kept for exactly this. */
export function readCachedIr(dir: string, id: IrIdentity, bytes: Uint8Array): CachedIr | undefined {
  const identity = identityOf(id);
  if (!identity) return undefined;
  const path = entryPath(dir, identity);
  try {
    const payload = verified(readFileSync(path));
    if (!payload) return undefined; // damaged
    const entry = JSON.parse(payload.toString("utf8")) as Entry;
    if (
      entry?.format !== FORMAT ||
      !Array.isArray(entry.identity) ||
      entry.identity.length !== identity.length ||
      entry.identity.some((v, i) => v !== identity[i]) ||
      entry.digest !== sha256(bytes) ||
      !Array.isArray(entry.ir?.stages) ||
      !Array.isArray(entry.diagnostics)
    )
      return undefined;
    const stages: PipelineIR["stages"] = [];
    for (const s of entry.ir.stages) {
      const kind = typeof s?.kind === "string" ? kinds.get(s.kind) : undefined;
      if (!kind) return undefined;
      stages.push({ ...s, kind });
    }
    utimesSync(path, new Date(), new Date()); // recently used: pruning drops it last
    return {
      ir: { ...entry.ir, stages },
      diagnostics: entry.diagnostics,
      ...(entry.source !== undefined ? { source: entry.source } : {}),
    };
  } catch {
    return undefined; // none, unreadable, or not what this version writes: parse
  }
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
  const payload = exactJson(entry);
  if (!payload) return;
  try {
    mkdirSync(dir, { recursive: true });
    writeAtomically(
      entryPath(dir, identity),
      Buffer.concat([Buffer.from(sha256(payload), "hex"), payload]),
    );
  } catch {
    return;
  }
  pruneCachedIrs(dir, { build: buildTag(identity), keep: MAX_ENTRIES });
}

/** The entry as JSON, if JSON gives it back exactly (no -0, no undefined property, no BigInt). */
function exactJson(entry: Entry): Buffer | undefined {
  try {
    const text = JSON.stringify(entry);
    return isDeepStrictEqual(JSON.parse(text), entry) ? Buffer.from(text, "utf8") : undefined;
  } catch {
    return undefined;
  }
}

export interface PruneOptions {
  /** The tag of the build whose entries stay (`currentBuildTag`); others' go. */
  build: string | undefined;
  /** At most this many entries stay, the most recently used. */
  keep?: number;
  /** Entries unused for longer than this (ms) go. */
  maxAgeMs?: number;
  /** Report only. */
  dryRun?: boolean;
}

/** The tag naming this build's entries, or undefined when nothing is kept (no build identity). */
export function currentBuildTag(build: string | undefined, version: string): string | undefined {
  return build === undefined ? undefined : buildTag([FORMAT, build, version]);
}

/**
 * Drops what is not worth keeping in an IR folder: other builds' entries, stale temporary files,
 * entries unused for longer than `maxAgeMs`, and the least recently used beyond `keep`. Returns the
 * number of files removed (or that would be).
 */
export function pruneCachedIrs(dir: string, o: PruneOptions): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  const now = Date.now();
  const mtime = (name: string) => {
    try {
      return statSync(join(dir, name)).mtimeMs;
    } catch {
      return now;
    }
  };
  const drop: string[] = [];
  const kept: { name: string; used: number }[] = [];
  for (const name of names) {
    if (name.endsWith(".tmp")) {
      if (now - mtime(name) > STALE_TMP_MS) drop.push(name);
      continue;
    }
    if (!name.endsWith(".ir")) continue;
    const used = mtime(name);
    if (name.slice(0, 16) !== o.build) drop.push(name);
    else if (o.maxAgeMs !== undefined && now - used > o.maxAgeMs) drop.push(name);
    else kept.push({ name, used });
  }
  if (o.keep !== undefined && kept.length > o.keep)
    drop.push(
      ...kept
        .sort((a, b) => b.used - a.used)
        .slice(o.keep)
        .map((k) => k.name),
    );
  if (!o.dryRun) for (const name of drop) rmSync(join(dir, name), { force: true });
  return drop.length;
}
