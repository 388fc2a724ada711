import type { Json } from "../core/canonical.js";
import type { Digest, StageKey } from "../core/digest.js";

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
  };
}

/** Checks the shape of a record that came from outside (a bundle, the remote cache) before trusting it. */
export function validateRecord(
  value: unknown,
  expectedKey: string,
  where: string,
): StageRecord<unknown> {
  const fail = (what: string): never => {
    throw new Error(`${where}: record ${expectedKey.slice(0, 12)} is malformed (${what})`);
  };
  const r = value as StageRecord<unknown>;
  if (r === null || typeof r !== "object") fail("not an object");
  if (r.key !== expectedKey) fail(`it names key ${String(r.key).slice(0, 12)}`);
  if (typeof r.kind !== "string") fail("no kind");
  if (r.outputs === null || typeof r.outputs !== "object" || Object.keys(r.outputs).length === 0)
    fail("no outputs");
  for (const [name, o] of Object.entries(r.outputs)) {
    if (
      !o ||
      !/^[0-9a-f]{64}$/.test(o.digest) ||
      typeof o.size !== "number" ||
      typeof o.type !== "string"
    )
      fail(`output ${name}`);
  }
  if (
    !r.provenance ||
    typeof r.provenance.stage !== "string" ||
    typeof r.provenance.createdAt !== "string"
  )
    fail("provenance");
  if (!r.inputsFrom || typeof r.inputsFrom !== "object") fail("inputsFrom");
  if (r.manifest === null || typeof r.manifest !== "object") fail("manifest");
  return r;
}
