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
