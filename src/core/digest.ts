import * as crypto from "node:crypto";

/** Node's one-shot hash (20.12 and later): no Hash object per call. */
const oneShot = (crypto as { hash?: typeof crypto.hash }).hash;

/** A SHA-256 content digest, lowercase hex. Branded so a key is never confused with a blob digest. */
export type Digest = string & { readonly __brand: "Digest" };

/** A stage key: the SHA-256 of a stage's canonical fingerprint (see plan/fingerprint.ts). */
export type StageKey = string & { readonly __brand: "StageKey" };

const HEX64 = /^[0-9a-f]{64}$/;

export function sha256(data: Uint8Array | string): string {
  // One call, no Hash object: a fully cached run of 10,000 stages hashes 10,000 keys.
  if (oneShot && (typeof data === "string" || data.byteLength < SLICE))
    return oneShot("sha256", data, "hex");
  const h = crypto.createHash("sha256");
  if (typeof data === "string") return h.update(data).digest("hex");
  // Node hashes at most 2 GiB per update: larger artifacts go in slices.
  for (let at = 0; at < data.byteLength; at += SLICE) h.update(data.subarray(at, at + SLICE));
  return h.digest("hex");
}

const SLICE = 1 << 30;

export function digestOf(bytes: Uint8Array): Digest {
  return sha256(bytes) as Digest;
}

export function isDigest(text: string): text is Digest {
  return HEX64.test(text);
}

/** The short form users see and may type (like git's abbreviated hashes). */
export function short(d: Digest | StageKey): string {
  return d.slice(0, 12);
}
