import { UserError } from "../core/diagnostic.js";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { writeAtomically } from "../core/atomic-write.js";
import { canonicalJson, type Json } from "../core/canonical.js";
import { type Digest, type StageKey, sha256 } from "../core/digest.js";
import { RNNP_VERSION } from "../core/version.js";
import { BUILD_ID } from "../core/build.js";
import { processAlive } from "../core/process.js";
import type { StageRecord } from "../cache/record.js";
import type { Runtime } from "../runtime/descriptor.js";
import type { Fingerprint } from "./fingerprint.js";
import type { Planner } from "./planner.js";
import type { Past } from "./why.js";
import { currentSpelling } from "../lang/sweep.js";

/**
 * `<pipeline>.lock`: what a pipeline built, committed by users like package-lock.json. One entry per
 * stage, in execution order: its key, its output digests, where its inputs came from, and the full
 * fingerprint the key hashes, so a diff of the lock reads as a diff of causes ("param lr 0.001 ->
 * 0.003") and `rnnp run --frozen` can say why a stage no longer matches without any cache.
 */
export const LOCKFILE_VERSION = 1;

export interface LockedStage {
  kind: string;
  key: StageKey;
  outputs: Record<string, Digest>;
  inputsFrom: Record<string, { stage: string; key: StageKey }>;
  manifest: Fingerprint;
}

export interface Lockfile {
  lockfileVersion: number;
  pipeline: string;
  /** The rnnp that wrote it. */
  rnnp: string;
  /** The numeric runtime backend-dependent stages were built with, when there are any. */
  runtime?: Runtime;
  stages: Record<string, LockedStage>;
}

export function lockPathOf(pipelineFile: string): string {
  return pipelineFile.replace(/\.rnnp$/, "") + ".lock";
}

export class LockfileError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "lockfile", hint });
  }
}

export function readLockfile(path: string): Lockfile | undefined {
  if (!existsSync(path)) return undefined;
  let lock: Lockfile;
  try {
    lock = JSON.parse(readFileSync(path, "utf8")) as Lockfile;
  } catch (e) {
    throw new LockfileError(
      `${path} is not valid JSON (${(e as Error).message}); restore it from version control or delete it`,
    );
  }
  if (lock.lockfileVersion !== LOCKFILE_VERSION || typeof lock.stages !== "object") {
    throw new LockfileError(
      `${path} has lockfileVersion ${String(lock.lockfileVersion)}; this rnnp reads version ${LOCKFILE_VERSION}`,
    );
  }
  return respelled(lock);
}

/**
 * A lock written before variants were named `fit@units=64` reads as if written today (its
 * `fit[units=64]` entries under their new names), so it still matches the pipeline it locks.
 */
function respelled(lock: Lockfile): Lockfile {
  const names = Object.keys(lock.stages);
  if (!names.some((n) => n.endsWith("]"))) return lock;
  const stages = new Map<string, LockedStage>();
  for (const n of names) {
    const entry = lock.stages[n]!;
    const inputsFrom = new Map(
      Object.entries(entry.inputsFrom).map(([slot, o]) => [
        slot,
        { ...o, stage: currentSpelling(o.stage) },
      ]),
    );
    stages.set(currentSpelling(n), { ...entry, inputsFrom: Object.fromEntries(inputsFrom) });
  }
  return { ...lock, stages: Object.fromEntries(stages) };
}

/**
 * A stage's entry, from its record. `canonical`: the canonical JSON of the record's manifest, when
 * the caller has it (of the planner's fingerprint, which hashes to the same key): parsed, it is the manifest with
 * its keys sorted, as sorting the record's would give, value for value and key for key.
 */
export function lockEntry(record: StageRecord<Fingerprint>, canonical?: string): LockedStage {
  return {
    ...entryHead(record),
    manifest: (canonical !== undefined
      ? JSON.parse(canonical)
      : sortKeys(record.manifest as unknown as Json)) as unknown as Fingerprint,
  };
}

/** A lock entry but its manifest. */
function entryHead(record: StageRecord<Fingerprint>): Omit<LockedStage, "manifest"> {
  return {
    kind: record.kind,
    key: record.key,
    outputs: Object.fromEntries(Object.entries(record.outputs).map(([k, o]) => [k, o.digest])),
    inputsFrom: record.inputsFrom,
  };
}

/**
 * Writes the lock atomically (write, then rename), with keys in a fixed order: an unchanged build
 * rewrites the same bytes, and a changed one shows only what changed. Returns the lock's text. The temporary file's name is
 * this write's own, so concurrent runs of one pipeline never rename each other's file away: the last
 * rename wins, whole.
 */
export function writeLockfile(path: string, lock: Lockfile): string {
  removeStaleTemps(path);
  const text = `${JSON.stringify(lock, null, 2)}\n`;
  if (existsSync(path) && readFileSync(path, "utf8") === text) return text;
  writeAtomically(path, text);
  return text;
}

/** Temporary files of writers that were killed between writing and renaming (their pid is gone). */
function removeStaleTemps(path: string): void {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = name.startsWith(prefix)
      ? /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length))?.[1]
      : undefined;
    if (pid !== undefined && !processAlive(Number(pid)))
      rmSync(join(dirname(path), name), { force: true });
  }
}

/** Looks pasts up in a lock (by key), for explanations in frozen runs. */
export function lockLookup(lock: Lockfile): (key: StageKey) => Past | undefined {
  const byKey = new Map(Object.values(lock.stages).map((s) => [s.key, s]));
  return (key) => byKey.get(key);
}

export function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k]!)]),
    );
  return v;
}

/**
 * A record names the stages its inputs came from as they were called when it ran; the lock names
 * them as the pipeline does now (a renamed stage, or a variant named in an older spelling, keeps
 * its key and cache entry). The keys of the stages are looked up once, and only if a name is stale.
 */
function currentNames(
  planner: Planner,
): <E extends Pick<LockedStage, "inputsFrom">>(entry: E) => E {
  let byKey: Map<StageKey, string> | undefined;
  const nameOf = (key: StageKey) => {
    if (!byKey) {
      byKey = new Map();
      for (const s of planner.order) {
        const r = planner.resolve(s.name);
        if (r.state === "keyed" && !byKey.has(r.key)) byKey.set(r.key, s.name);
      }
    }
    return byKey.get(key);
  };
  const keyed = (name: string, key: StageKey) => {
    const r = planner.has(name) ? planner.resolve(name) : undefined;
    return r?.state === "keyed" && r.key === key;
  };
  return <E extends Pick<LockedStage, "inputsFrom">>(entry: E): E => {
    // Usually every input is named as it is now: the entry is kept as it is.
    let current = true;
    for (const o of Object.values(entry.inputsFrom)) if (!keyed(o.stage, o.key)) current = false;
    if (current) return entry;
    const inputsFrom = new Map(Object.entries(entry.inputsFrom));
    for (const [slot, o] of inputsFrom) {
      if (keyed(o.stage, o.key)) continue;
      const now = nameOf(o.key);
      if (now !== undefined) inputsFrom.set(slot, { ...o, stage: now });
    }
    return { ...entry, inputsFrom: Object.fromEntries(inputsFrom) };
  };
}

/** How a stage of the run ended, for its lock entry. */
export type LockOutcome = "ran" | "cached" | "failed";

/**
 * The lock after a run: stages that ran or were cached get their entry from the cache record; stages
 * this run did not touch keep their previous entry; failed stages and stages no longer in the
 * pipeline have none.
 */
export function updatedLock(
  planner: Planner,
  outcome: ReadonlyMap<string, LockOutcome>,
  previous?: Lockfile,
): Lockfile {
  // Stage names are data (`stage __proto__ = ...`): collected in a Map, made own properties at the end.
  const stages = new Map<string, LockedStage>();
  const named = currentNames(planner);
  for (const s of planner.order) {
    const o = outcome.get(s.name);
    if (o === "ran" || o === "cached") {
      const record = recordOf(planner, s.name, o);
      const res = planner.resolve(s.name);
      if (record && res.state === "keyed")
        stages.set(s.name, named(lockEntry(record, canonicalJson(res.fingerprint))));
    } else if (o === undefined && previous && Object.hasOwn(previous.stages, s.name)) {
      stages.set(s.name, previous.stages[s.name]!);
    }
  }
  const usesRuntime = planner.order.some((s) => s.kind.backendDependent);
  const rt = planner.runtime;
  return {
    lockfileVersion: LOCKFILE_VERSION,
    pipeline: planner.ir.name,
    rnnp: RNNP_VERSION,
    ...(usesRuntime && rt && !(rt instanceof Error) ? { runtime: rt } : {}),
    stages: Object.fromEntries(stages),
  };
}

/**
 * The record a stage's entry comes from: a cached stage's is the one it was planned with (read and
 * checked once); a stage that ran has a new one in the store (a forced rerun replaces the planned one).
 */
function recordOf(
  planner: Planner,
  name: string,
  o: "ran" | "cached",
): StageRecord<Fingerprint> | undefined {
  const res = planner.resolve(name);
  if (res.state !== "keyed") return undefined;
  return (o === "cached" ? res.record : undefined) ?? planner.store.getRecord<Fingerprint>(res.key);
}

/**
 * What a lock written after a run whose every stage ran or was cached holds, as a digest, without its
 * manifests (each is a function of its stage's key) and without building its text; undefined when
 * some stage failed or did not run (then the lock also keeps entries of the previous one). Equal
 * digests, equal lock bytes: the run command compares it with the one it remembers for the file
 * (src/plan/lock-memo.ts) instead of rebuilding a lock that is already as it would write it.
 */
export function lockIdentity(
  planner: Planner,
  outcome: ReadonlyMap<string, LockOutcome>,
): string | undefined {
  // The code that writes locks (its build; from its sources, the version alone says it), then the
  // lock's head, then each stage's entry but its manifest: one text, hashed once.
  const rt = planner.runtime;
  const usesRuntime = planner.order.some((s) => s.kind.backendDependent);
  let text = JSON.stringify([
    LOCKFILE_VERSION,
    RNNP_VERSION,
    BUILD_ID ?? null,
    planner.ir.name,
    usesRuntime && rt && !(rt instanceof Error) ? rt : null,
  ]);
  const named = currentNames(planner);
  // Each entry as one line of fields, every name prefixed by its length (keys and digests are hex),
  // no JSON of whole records, no native call per stage.
  for (const s of planner.order) {
    const o = outcome.get(s.name);
    if (o !== "ran" && o !== "cached") return undefined;
    const record = recordOf(planner, s.name, o);
    text += `\n${s.name.length}:${s.name}`;
    if (record) {
      text += ` ${record.kind.length}:${record.kind} ${record.key}`;
      for (const [name, ref] of Object.entries(record.outputs))
        text += ` >${name.length}:${name}=${ref.digest}`;
      const { inputsFrom } = named({ inputsFrom: record.inputsFrom });
      for (const [slot, from] of Object.entries(inputsFrom))
        text += ` <${slot.length}:${slot}=${from.stage.length}:${from.stage}@${from.key}`;
    } else text += " none";
  }
  return sha256(text);
}
