import { UserError } from "../core/diagnostic.js";
import { decode, encode } from "../core/codec.js";
import { digestOf, type Digest } from "../core/digest.js";
import type { CacheStore } from "../cache/store.js";
import type { OutputCheck, OutputRef } from "../cache/record.js";
import {
  artifactFromValue,
  artifactToValue,
  describeArtifact,
  type Artifact,
} from "../artifacts/index.js";

/** A blob that is missing or does not hash to its digest: never served, its producer reruns. */
export class BadBlobError extends UserError {
  constructor(
    readonly digest: Digest,
    readonly problem: "missing" | "corrupt",
  ) {
    super(`artifact ${digest.slice(0, 12)} is ${problem} in the cache`, {
      code: "cache-corrupt",
      hint: "run `rnnp cache verify`",
    });
  }
}

/**
 * Reads an artifact, verifying its bytes against the digest before decoding them. The bytes are
 * read in place (LMDB's buffer, no copy) and decoded at once into values of their own (`borrowed`:
 * sections copied out), so nothing keeps them once this returns.
 */
export function readArtifact(store: CacheStore, digest: Digest): Artifact {
  const artifact = store.withBlob(digest, (bytes) => {
    if (digestOf(bytes) !== digest) throw new BadBlobError(digest, "corrupt");
    return artifactFromValue(decode(bytes, { borrowed: true }));
  });
  if (!artifact) throw new BadBlobError(digest, "missing");
  return artifact;
}

export interface EncodedArtifact {
  bytes: Uint8Array;
  ref: OutputRef;
}

export function encodeArtifact(a: Artifact): EncodedArtifact {
  const bytes = encode(artifactToValue(a));
  return {
    bytes,
    ref: {
      digest: digestOf(bytes),
      size: bytes.byteLength,
      type: a.type,
      summary: describeArtifact(a),
    },
  };
}

/**
 * An output's bytes against what its record says of them (for imports and remote fetches, where the
 * record comes from elsewhere): they decode to an artifact of the record's type, described by the
 * record's summary. The problem, or undefined.
 */
export const checkOutputBytes: OutputCheck = (bytes, ref) => {
  let artifact: Artifact;
  try {
    artifact = artifactFromValue(decode(bytes));
  } catch (e) {
    return `does not decode as an artifact (${(e as Error).message})`;
  }
  if (artifact.type !== ref.type)
    return `is a ${JSON.stringify(artifact.type)} artifact; its record says ${JSON.stringify(ref.type)}`;
  let summary: unknown;
  try {
    summary = describeArtifact(artifact);
  } catch (e) {
    return `is a malformed ${artifact.type} (${(e as Error).message})`;
  }
  if (summary !== ref.summary)
    return `is described as ${JSON.stringify(summary)}; its record says ${JSON.stringify(ref.summary)}`;
  return undefined;
};
