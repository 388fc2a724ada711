import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { FileSet } from "../../src/artifacts/files.js";
import { checkOutputBytes, encodeArtifact } from "../../src/run/artifacts.js";

/**
 * An output's record describes it (type, summary); imports and remote fetches check the bytes they
 * receive against that description (checkOutputBytes). The description a stage's own object gives
 * must therefore be the one its encoded and decoded bytes give.
 */
describe("an output's description survives its encoding", () => {
  it("files written in any order (export writes rnnp.json after the model's files)", () => {
    const written: FileSet = {
      type: "files",
      dir: "../exports/m",
      files: {
        "model.json": new Uint8Array(3),
        "weights.bin": new Uint8Array(5),
        "rnnp.json": new Uint8Array(2),
      },
    };
    const { bytes, ref } = encodeArtifact(written);
    assert.equal(
      ref.summary,
      "3 files for ../exports/m: model.json (3 B), rnnp.json (2 B), weights.bin (5 B)",
    );
    assert.equal(checkOutputBytes(bytes, ref), undefined);
  });

  it("holds for any names and sizes, in any order (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1 }), fc.nat(64)), {
          selector: ([name]) => name,
          maxLength: 8,
        }),
        (entries) => {
          const files: Record<string, Uint8Array> = Object.create(null);
          for (const [name, size] of entries) files[name] = new Uint8Array(size);
          const { bytes, ref } = encodeArtifact({ type: "files", dir: "d", files });
          assert.equal(checkOutputBytes(bytes, ref), undefined);
        },
      ),
    );
  });
});
