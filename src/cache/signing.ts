import { UserError } from "../core/diagnostic.js";
import { createHmac, timingSafeEqual } from "node:crypto";
import { canonicalJson } from "../core/canonical.js";
import type { StageRecord } from "./record.js";

/**
 * Records that leave this machine (bundles, the remote cache) can carry an HMAC-SHA256 made with the
 * key in RNNP_CACHE_KEY. Blobs need none: they are named by their digest and verified on arrival; a
 * signed record vouches for the digests it names.
 */
export type SignedRecord = StageRecord<unknown> & { hmac?: string };

export function cacheKeyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const key = env.RNNP_CACHE_KEY;
  return key ? key : undefined;
}

function mac(record: StageRecord<unknown>, key: string): string {
  const { hmac: _drop, ...body } = record as SignedRecord;
  return createHmac("sha256", key).update(canonicalJson(body)).digest("hex");
}

export function sign(record: StageRecord<unknown>, key: string | undefined): SignedRecord {
  return key ? { ...record, hmac: mac(record, key) } : { ...record };
}

export class SignatureError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "signature", hint });
  }
}

/** With a key, a record must carry a valid HMAC; the HMAC is dropped from what is stored. */
export function verified(
  record: SignedRecord,
  key: string | undefined,
  where: string,
): StageRecord<unknown> {
  const { hmac, ...body } = record;
  if (!key) return body;
  if (!hmac)
    throw new SignatureError(
      `${where}: record ${record.key} is not signed, and RNNP_CACHE_KEY requires signed records`,
    );
  const want = Buffer.from(mac(body, key), "hex");
  const got = Buffer.from(hmac, "hex");
  if (got.length !== want.length || !timingSafeEqual(got, want))
    throw new SignatureError(
      `${where}: record ${record.key} has a wrong signature (another key, or tampered)`,
    );
  return body;
}
