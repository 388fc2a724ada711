import { UserError } from "../core/diagnostic.js";
import { decode, encode } from "../core/codec.js";
import { digestOf, type Digest } from "../core/digest.js";
import type { CacheStore } from "../cache/store.js";
import type { OutputRef } from "../cache/record.js";
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

/** Reads an artifact, verifying its bytes against the digest before decoding them. */
export function readArtifact(store: CacheStore, digest: Digest): Artifact {
  const bytes = store.getBlob(digest);
  if (!bytes) throw new BadBlobError(digest, "missing");
  if (digestOf(bytes) !== digest) throw new BadBlobError(digest, "corrupt");
  return artifactFromValue(decode(bytes));
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
