import type { Json } from "../core/canonical.js";
import type { StageKey } from "../core/digest.js";
import type { AnyKind } from "../stages/kind.js";
import { type Fingerprint, keyOf } from "./fingerprint.js";

/**
 * Checkpoints of resumable stages (train's epochs). The state of a training after epoch n is, byte
 * for byte, what the same stage gives with `epochs: n` when nothing else depends on the total (the
 * shuffles and dropout masks of an epoch come from streams of its own, and the seed leaves `epochs`
 * out). So a checkpoint is an ordinary record: the stage's fingerprint with the count set to n, under
 * its own key. Lowering the count is then a plain cache hit; raising it resumes from the highest
 * checkpoint below it. Nothing new is trusted: every checkpoint is a record checked against its key.
 */

/** Why a stage with these parameters cannot resume (its kind is not resumable, or says why not). */
export function resumeBlocked(kind: AnyKind, params: Record<string, Json>): string | undefined {
  const r = kind.resumable;
  if (!r) return `${kind.name} does not train in steps`;
  if (typeof params[r.param] !== "number") return `its ${r.param} is not a number`;
  return r.blocked?.(params as never);
}

/** The fingerprint (and key) of the same stage stopped after `step` steps. */
export function checkpointOf(
  fp: Fingerprint,
  param: string,
  step: number,
): { fingerprint: Fingerprint; key: StageKey } {
  const fingerprint = { ...fp, params: { ...fp.params, [param]: step } };
  return { fingerprint, key: keyOf(fingerprint) };
}

/**
 * The highest checkpoint below the stage's own count that `has` finds (the store's records), or
 * undefined. At most `count - 1` hashes and lookups: cheap next to one epoch.
 */
export function latestCheckpoint(
  kind: AnyKind,
  fp: Fingerprint,
  has: (key: StageKey) => boolean,
): { step: number; key: StageKey } | undefined {
  if (resumeBlocked(kind, fp.params) !== undefined) return undefined;
  const param = kind.resumable!.param;
  for (let step = (fp.params[param] as number) - 1; step >= 1; step--) {
    const { key } = checkpointOf(fp, param, step);
    if (has(key)) return { step, key };
  }
  return undefined;
}

/**
 * The retention policy: which checkpoints a run leaves. Every `every`-th step (0: none), and with
 * `last` the last completed step until the run's own record lands (so a killed run resumes where it
 * died). The final step is the stage's own record, kept as any other.
 */
export interface Retention {
  every: number;
  last: boolean;
}
export const DEFAULT_RETENTION: Retention = { every: 5, last: true };

/** Whether step `step` of `total` stays as a checkpoint once the run has moved past it. */
export const keeps = (r: Retention, step: number, total: number): boolean =>
  r.every > 0 && step < total && step % r.every === 0;

/** Reads a policy as written on the command line: `5` (every 5th and the last), `5,nolast`, `off`. */
export function parseRetention(text: string): Retention | undefined {
  if (text === "off") return { every: 0, last: false };
  const m = /^(\d+)(,nolast)?$/.exec(text);
  if (!m) return undefined;
  return { every: Number(m[1]), last: !m[2] };
}
