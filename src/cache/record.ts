import { canonicalJson, type Json, sameJson } from "../core/canonical.js";
import { UserError } from "../core/diagnostic.js";
import { isDigest, sha256, short, type Digest, type StageKey } from "../core/digest.js";

/** One stored output of a stage. */
export interface OutputRef {
  digest: Digest;
  size: number;
  /** Artifact type name ("table", ...). */
  type: string;
  /** One line for `cache ls/show`: "table, 1461 rows x 6 columns: ...". */
  summary: string;
}

/** Where a cached input came from, for explanations; not part of the key. */
export interface InputOrigin {
  stage: string;
  key: StageKey;
}

/**
 * What the cache remembers about one successful stage execution, stored under its key. `manifest`
 * is the exact record the key was hashed from (plan/fingerprint.ts), so `why` can diff it field by
 * field; everything else is context that is deliberately not part of the key.
 */
export interface StageRecord<M = Json> {
  key: StageKey;
  kind: string;
  outputs: Record<string, OutputRef>;
  manifest: M;
  /** Input slot -> producing stage (by name and key) at the time it ran. */
  inputsFrom: Record<string, InputOrigin>;
  provenance: {
    pipeline: string;
    file: string;
    stage: string;
    createdAt: string;
    durationMs: number;
    rnnpVersion: string;
    /**
     * The pipeline's params as they were for this run (`-P` overrides applied): how `rnnp compare`
     * tells a run by hand from the pipeline as written. Absent in records made before rnnp 0.1.1.
     */
    params?: Record<string, Json>;
  };
}

/**
 * A stage key: the SHA-256 of the canonical JSON of the manifest (the Fingerprint of
 * plan/fingerprint.ts, whose keyOf is this function). Here, below the planner, so that the cache can
 * check every record it is handed against the key it is filed under.
 */
export function keyOfManifest(manifest: unknown): StageKey {
  return sha256(canonicalJson(manifest)) as StageKey;
}

/** A record that cannot be trusted: undecodable, malformed, or not matching its key. */
export class BadRecordError extends UserError {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`record ${short(key as StageKey)} is damaged (${problem})`, {
      code: "cache-corrupt",
      hint: "run `rnnp cache verify`: it drops damaged records, and their stages recompute",
    });
  }
}

/**
 * How a record's stored text ends: `,"seal":"` and the SHA-256 of the record's JSON text without
 * it, then `"}`. The key covers only the manifest; the seal covers the rest (output names and
 * digests, inputsFrom, provenance), so that a flipped byte anywhere in a stored record is found
 * when it is read: a flip that renamed `parts`'s output `val` to `Ial` passed every other check,
 * and the stages reading `parts.val` failed as if rnnp had a bug. Only the store seals: records
 * travel (bundles, the remote cache) as checked values and are sealed where they are stored.
 */
const SEAL = ',"seal":"';
const SEALED_TAIL = SEAL.length + 64 + 2;

/** A record's JSON text as the store keeps it: sealed. */
export function sealRecordText(json: string): string {
  return `${json.slice(0, -1)}${SEAL}${sha256(json)}"}`;
}

/**
 * The JSON text of a stored record, its seal checked (BadRecordError when it does not match). A
 * record written before records were sealed has none and is returned as it is: a damaged seal
 * cannot pass for that, as the text then holds an unknown field or is not JSON.
 */
export function unsealRecordText(key: string, text: string): string {
  const at = text.length - SEALED_TAIL;
  if (at <= 0 || !text.endsWith('"}') || !text.startsWith(SEAL, at)) return text;
  const json = `${text.slice(0, at)}}`;
  if (sha256(json) !== text.slice(at + SEAL.length, -2))
    throw new BadRecordError(key, "its seal does not match: it changed after it was written");
  return json;
}

const RECORD_FIELDS = new Set(["key", "kind", "outputs", "manifest", "inputsFrom", "provenance"]);

/** Deeper than any real record (a manifest's model params nest about ten levels). */
export const MAX_RECORD_DEPTH = 64;

/**
 * Checks a record from anywhere (the store, a bundle, the remote cache) and returns a clean copy
 * holding only the known fields: its shape, that it is filed under `expectedKey`, that this key is
 * the digest of its canonical manifest (a changed parameter cannot keep its old key), and that its
 * provenance is well formed. Throws BadRecordError saying what is wrong.
 *
 * `hashed`, when given, is a manifest the caller has just hashed to `expectedKey` (the planner's
 * fingerprint): a record whose manifest is the same JSON hashes to the key too, which saves writing
 * and hashing its canonical JSON again, and the record returned holds `hashed` itself as its
 * manifest (the caller keeps it anyway: a cached run of 10,000 stages keeps one copy, not two); any
 * other manifest is hashed and checked as always.
 */
export function parseRecord(
  value: unknown,
  expectedKey: string,
  hashed?: unknown,
): StageRecord<unknown> {
  const fail = (what: string): never => {
    throw new BadRecordError(expectedKey, what);
  };
  // The manifest against the caller's first: sameJson recurses no deeper than `hashed` nests. When
  // they are the same, only the provenance's params (the rest is read field by field) can nest
  // deeper than the manifest, and only they are measured.
  const same =
    hashed !== undefined &&
    isPlainObject(value) &&
    sameJson((value as Record<string, unknown>).manifest, hashed);
  const depth = same
    ? 2 +
      depthOf((value as { provenance?: { params?: unknown } }).provenance?.params, MAX_RECORD_DEPTH)
    : depthOf(value, MAX_RECORD_DEPTH);
  if (depth > MAX_RECORD_DEPTH) fail(`nested deeper than ${MAX_RECORD_DEPTH} levels`);
  if (!isPlainObject(value)) fail("not an object");
  const r = value as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !RECORD_FIELDS.has(k));
  if (unknown.length) fail(`unknown field ${JSON.stringify(unknown[0])}`);
  if (r.key !== expectedKey)
    fail(`it names key ${typeof r.key === "string" ? short(r.key as StageKey) : typeof r.key}`);
  if (!isName(r.kind)) fail("no kind");
  if (!isPlainObject(r.manifest)) fail("no manifest");
  const manifest = r.manifest as Record<string, unknown>;
  if (Object.hasOwn(manifest, "kind") && manifest.kind !== r.kind)
    fail(`its manifest is of kind ${JSON.stringify(manifest.kind)}, the record of ${r.kind}`);
  if (!same) checkKey(manifest, expectedKey, fail);
  return {
    key: expectedKey as StageKey,
    kind: r.kind as string,
    outputs: outputsOf(r.outputs, fail),
    manifest: same ? hashed : manifest,
    inputsFrom: inputsFromOf(r.inputsFrom, fail),
    provenance: provenanceOf(r.provenance, fail),
  };
}

/** That a manifest hashes to the key it is filed under. */
function checkKey(manifest: unknown, key: string, fail: (what: string) => never): void {
  let hashed: string;
  try {
    hashed = keyOfManifest(manifest);
  } catch (e) {
    fail(`its manifest is not canonical JSON: ${(e as Error).message}`);
  }
  if (hashed !== key)
    fail(`its manifest hashes to ${short(hashed as StageKey)}: changed after it was keyed`);
}

function outputsOf(v: unknown, fail: (what: string) => never): Record<string, OutputRef> {
  if (!isPlainObject(v) || Object.keys(v as object).length === 0) fail("no outputs");
  const out: [string, OutputRef][] = [];
  for (const [name, o] of Object.entries(v as Record<string, unknown>)) {
    const ref = o as Partial<OutputRef> | null;
    if (
      !name ||
      !isPlainObject(ref) ||
      typeof ref!.digest !== "string" ||
      !isDigest(ref!.digest) ||
      !Number.isSafeInteger(ref!.size) ||
      ref!.size! < 0 ||
      !isName(ref!.type) ||
      typeof ref!.summary !== "string"
    )
      fail(`output ${JSON.stringify(name)} is malformed`);
    out.push([
      name,
      { digest: ref!.digest!, size: ref!.size!, type: ref!.type!, summary: ref!.summary! },
    ]);
  }
  // fromEntries defines properties: an output named "__proto__" stays data.
  return Object.fromEntries(out);
}

function inputsFromOf(v: unknown, fail: (what: string) => never): Record<string, InputOrigin> {
  if (!isPlainObject(v)) fail("no inputsFrom");
  const out: [string, InputOrigin][] = [];
  for (const [slot, o] of Object.entries(v as Record<string, unknown>)) {
    const origin = o as Partial<InputOrigin> | null;
    if (
      !isPlainObject(origin) ||
      typeof origin!.stage !== "string" ||
      typeof origin!.key !== "string" ||
      !isDigest(origin!.key)
    )
      fail(`inputsFrom.${slot} is malformed`);
    out.push([slot, { stage: origin!.stage!, key: origin!.key! }]);
  }
  return Object.fromEntries(out);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function provenanceOf(v: unknown, fail: (what: string) => never): StageRecord["provenance"] {
  if (!isPlainObject(v)) fail("no provenance");
  const p = v as Record<string, unknown>;
  for (const field of ["pipeline", "file", "stage", "rnnpVersion"] as const)
    if (typeof p[field] !== "string") fail(`provenance.${field} is not a string`);
  if (
    typeof p.createdAt !== "string" ||
    !ISO_TIME.test(p.createdAt) ||
    !Number.isFinite(Date.parse(p.createdAt))
  )
    fail("provenance.createdAt is not a UTC timestamp");
  if (typeof p.durationMs !== "number" || !(p.durationMs >= 0) || !Number.isFinite(p.durationMs))
    fail("provenance.durationMs is not a duration");
  if (p.params !== undefined && !isPlainObject(p.params))
    fail("provenance.params is not an object");
  return {
    pipeline: p.pipeline as string,
    file: p.file as string,
    stage: p.stage as string,
    createdAt: p.createdAt as string,
    durationMs: p.durationMs as number,
    rnnpVersion: p.rnnpVersion as string,
    ...(p.params !== undefined ? { params: p.params as Record<string, Json> } : {}),
  };
}

function isPlainObject(v: unknown): boolean {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isName(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 200;
}

/** How deeply a parsed JSON value nests, counted without recursion and stopping past `limit`. */
export function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  // Objects and arrays still to visit, with their depths (two stacks: no pair allocated per value).
  const values: object[] = [];
  const depths: number[] = [];
  if (value !== null && typeof value === "object") {
    values.push(value);
    depths.push(1);
  }
  while (values.length) {
    const v = values.pop()!;
    const d = depths.pop()!;
    if (d > deepest) deepest = d;
    if (deepest > limit) return deepest;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (let i = 0; i < children.length; i++) {
      const child = children[i];
      if (child !== null && typeof child === "object") {
        values.push(child);
        depths.push(d + 1);
      }
    }
  }
  return deepest;
}

/**
 * An output's bytes checked against what its record says of them, by a layer that can decode
 * artifacts (the cache sits below the artifact model): the problem, or undefined when they agree.
 */
export type OutputCheck = (bytes: Uint8Array, ref: OutputRef) => string | undefined;

/** A record checked against what the layers above know of its kind (output names and types): the problem, or undefined. */
export type RecordCheck = (record: StageRecord<unknown>) => string | undefined;
