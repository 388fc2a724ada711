import { UserError } from "../core/diagnostic.js";
import { createHmac, timingSafeEqual } from "node:crypto";
import { canonicalJson } from "../core/canonical.js";
import { short, type StageKey } from "../core/digest.js";
import type { StageRecord } from "./record.js";

/**
 * Records that leave this machine (bundles, the remote cache) can carry an HMAC-SHA256 made with the
 * key in RNNP_CACHE_KEY. Blobs need none: they are named by their digest and verified on arrival; a
 * signed record vouches for the digests it names. A bundle's table of contents is signed the same way.
 */
export type SignedRecord = StageRecord<unknown> & { hmac?: string };

export function cacheKeyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const key = env.RNNP_CACHE_KEY;
  return key ? key : undefined;
}

/** The HMAC of a JSON object, over its canonical form without its own `hmac` field. */
function mac(value: object, key: string): string {
  const { hmac: _drop, ...body } = value as { hmac?: unknown };
  return createHmac("sha256", key).update(canonicalJson(body)).digest("hex");
}

export function sign(record: StageRecord<unknown>, key: string | undefined): SignedRecord {
  return key ? { ...record, hmac: mac(record, key) } : { ...record };
}

/** Any JSON object signed with the key (a bundle's table of contents). */
export function signObject<T extends object>(value: T, key: string | undefined): T {
  return key ? { ...value, hmac: mac(value, key) } : value;
}

export class SignatureError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "signature", hint });
  }
}

/** Whether a value carries a valid HMAC made with the key: "valid", "unsigned" or "wrong". */
export function signatureOf(value: object, key: string): "valid" | "unsigned" | "wrong" {
  const hmac = (value as { hmac?: unknown }).hmac;
  if (typeof hmac !== "string" || !hmac) return "unsigned";
  const want = Buffer.from(mac(value, key), "hex");
  const got = Buffer.from(hmac, "hex");
  return got.length === want.length && timingSafeEqual(got, want) ? "valid" : "wrong";
}

/** With a key, a record must carry a valid HMAC; the HMAC is dropped from what is stored. */
export function verified(record: SignedRecord, key: string | undefined): StageRecord<unknown> {
  const { hmac: _drop, ...body } = record;
  if (!key) return body;
  const which = `record ${typeof record.key === "string" ? short(record.key as StageKey) : "?"}`;
  switch (signatureOf(record, key)) {
    case "unsigned":
      throw new SignatureError(
        `${which} is not signed, and RNNP_CACHE_KEY requires signed records`,
        "export or upload it again with the same RNNP_CACHE_KEY, or unset it to accept unsigned records",
      );
    case "wrong":
      throw new SignatureError(
        `${which} has a wrong signature (another key, or tampered)`,
        "check that both machines use the same RNNP_CACHE_KEY",
      );
    default:
      return body;
  }
}
