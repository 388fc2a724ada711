import { keyOfManifest, type StageRecord } from "../../src/cache/record.js";
import { digestOf } from "../../src/core/digest.js";

/**
 * A record of a fake stage `name` with the given output blobs, keyed (as every stored record must
 * be) by the digest of its manifest.
 */
export function fakeRecord(
  name: string,
  blobs: Record<string, Uint8Array>,
  {
    createdAt = "2026-11-30T00:00:00.000Z",
    manifest = { kind: "test", stage: name },
  }: { createdAt?: string; manifest?: Record<string, unknown> } = {},
): StageRecord<unknown> {
  return {
    key: keyOfManifest(manifest),
    kind: "test",
    outputs: Object.fromEntries(
      Object.entries(blobs).map(([o, b]) => [
        o,
        { digest: digestOf(b), size: b.length, type: "table", summary: "" },
      ]),
    ),
    manifest,
    inputsFrom: {},
    provenance: {
      pipeline: "p",
      file: "p.rnnp",
      stage: name,
      createdAt,
      durationMs: 1,
      rnnpVersion: "test",
    },
  };
}
