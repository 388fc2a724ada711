import { createRequire } from "node:module";
import { builtAddon, loadAddon } from "./addons.js";

/** A SHA-256 content digest, lowercase hex. Branded so a key is never confused with a blob digest. */
export type Digest = string & { readonly __brand: "Digest" };

/** A stage key: the SHA-256 of a stage's canonical fingerprint (see plan/fingerprint.ts). */
export type StageKey = string & { readonly __brand: "StageKey" };

const HEX64 = /^[0-9a-f]{64}$/;

/** The SHA-256 of `data` (a string as UTF-8, lone surrogates as U+FFFD), lowercase hex. */
export function sha256(data: Uint8Array | string): string {
  const native = nativeDigest();
  return native && (typeof data === "string" || inOwnMemory(data))
    ? native.sha256(data)
    : sha256WithCrypto(data);
}

/** node:crypto, loaded on first use: a command whose hashing the add-on does never loads it. */
let cryptoModule: typeof import("node:crypto") | undefined;
const nodeCrypto = () => (cryptoModule ??= createRequire(import.meta.url)("node:crypto"));

/** The same digest from node:crypto: for large inputs, shared memory, and where no add-on loads. */
export function sha256WithCrypto(data: Uint8Array | string): string {
  const crypto = nodeCrypto();
  // One call, no Hash object: a fully cached run of 10,000 stages hashes 10,000 keys.
  const oneShot = (crypto as { hash?: typeof crypto.hash }).hash; // Node 20.12 and later
  if (oneShot && (typeof data === "string" || data.byteLength < SLICE))
    return oneShot("sha256", data, "hex");
  const h = crypto.createHash("sha256");
  if (typeof data === "string") return h.update(data).digest("hex");
  // Node hashes at most 2 GiB per update: larger artifacts go in slices.
  for (let at = 0; at < data.byteLength; at += SLICE) h.update(data.subarray(at, at + SLICE));
  return h.digest("hex");
}

/** Bytes the add-on may read in one call: below node:crypto's slice, in an ArrayBuffer of their own. */
const inOwnMemory = (data: Uint8Array) =>
  data.byteLength < SLICE && data.buffer instanceof ArrayBuffer;

interface NativeDigest {
  sha256(data: Uint8Array | string): string;
}

/**
 * Answers the add-on must give before it is used: ASCII, UTF-8 of every length class with a lone
 * surrogate, bytes at an offset, and a text longer than its stack buffer.
 */
const KNOWN: readonly (readonly [Uint8Array | string, string])[] = [
  ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["é€😀\ud800", "45daa580257db319c42d3efe65a1e43abe7df0645cbe2c41c53e7bcade9d5fbd"],
  [
    new Uint8Array([0, 97, 98, 99]).subarray(1),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  ],
  ["x".repeat(9000), "e797e2af6f05c24cdd064793ce60a9d01302d9a3b0e5dff5bb0c046b87f2f668"],
];

/** undefined: not looked for yet; null: none (not built, does not load, or gave a wrong answer). */
let loaded: NativeDigest | null | undefined;

/**
 * rnnp's digest add-on (native/digest.c: OpenSSL's SHA-256, the one node:crypto runs), built at
 * install beside the native kernels. It spares a command loading node:crypto, which costs a fully
 * cached run more than all its hashing. Used only after it gives every known answer.
 */
export function nativeDigest(): NativeDigest | null {
  if (loaded !== undefined) return loaded;
  const path = builtAddon("rnnp_digest");
  loaded = path ? digestAddonAt(path) : null;
  return loaded;
}

/**
 * The digest add-on at `path` if it loads (symbols bound as it loads: a Node without OpenSSL's
 * fails here, not at the first hash) and gives every known answer, else null.
 */
export function digestAddonAt(path: string): NativeDigest | null {
  return trusted(loadAddon(path));
}

/** The add-on if it gives every known answer (and throws on none of them), else null. */
export function trusted(addon: unknown): NativeDigest | null {
  const candidate = addon as Partial<NativeDigest> | null;
  if (typeof candidate?.sha256 !== "function") return null;
  try {
    return KNOWN.every(([input, hex]) => candidate.sha256!(input) === hex)
      ? (candidate as NativeDigest)
      : null;
  } catch {
    return null;
  }
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
