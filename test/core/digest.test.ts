import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { nativeDigest, sha256, sha256WithCrypto, trusted } from "../../src/core/digest.js";
import { ROOT, cleanEnv, tempDir } from "../helpers.js";
import { missingTool } from "../rig.js";

/** node:crypto's digest, through its streaming interface: the reference both paths must give. */
const reference = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Text of any UTF-16 code units: lone surrogates, astral pairs, NUL, multi-byte characters. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
  fc.string({
    unit: fc.constantFrom("a", "é", "€", "😀", "\ud800", "\udfff", "\0"),
    maxLength: 5000,
  }),
);

describe("sha256", () => {
  it("the digest add-on is built and trusted here (npm install builds it beside the kernels)", (t) => {
    if (!nativeDigest()) return t.skip("build/Release/rnnp_digest.node not built: npm run native");
    assert.equal(nativeDigest()?.sha256("abc"), reference("abc"));
  });

  it("gives node:crypto's digest for any text and any bytes, through the add-on and without it", () => {
    fc.assert(
      fc.property(anyText, fc.uint8Array({ maxLength: 20_000 }), fc.nat(16), (text, bytes, at) => {
        const view = bytes.subarray(Math.min(at, bytes.length));
        for (const data of [text, view]) {
          const expected = reference(data);
          assert.equal(sha256(data), expected);
          assert.equal(sha256WithCrypto(data), expected);
          const native = nativeDigest();
          if (native) assert.equal(native.sha256(data), expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("texts across the add-on's stack buffer, a multi-byte character on its edge", () => {
    for (const n of [8189, 8190, 8191, 8192, 8193, 100_000])
      for (const tail of ["", "é", "€", "😀", "\ud800"]) {
        const text = "x".repeat(n) + tail;
        assert.equal(sha256(text), reference(text), `${n} + ${JSON.stringify(tail)}`);
      }
  });

  it("bytes in shared memory (the kernels' wasm memory) give the same digest", () => {
    const shared = new Uint8Array(new SharedArrayBuffer(4096));
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 31) & 255;
    const view = shared.subarray(7, 3000);
    assert.equal(sha256(view), reference(Uint8Array.from(view)));
  });

  it("an add-on is used only when it gives every known answer", () => {
    const right = { sha256: reference };
    assert.equal(trusted(right), right);
    for (const wrong of [
      undefined,
      null,
      {},
      { sha256: () => "0".repeat(64) },
      // Wrong only for text with a lone surrogate (encoded as CESU-8, say):
      {
        sha256: (d: string | Uint8Array) =>
          typeof d === "string" && /[\ud800-\udfff]/.test(d) ? "x" : reference(d),
      },
      // Wrong only for a view at an offset (hashing its whole buffer):
      {
        sha256: (d: string | Uint8Array) =>
          reference(typeof d === "string" ? d : new Uint8Array(d.buffer)),
      },
      {
        sha256: () => {
          throw new TypeError("no");
        },
      },
    ])
      assert.equal(trusted(wrong), null, String(wrong?.sha256));
  });

  it("an add-on whose SHA256 this Node does not export is refused as it loads, not at its first call", (t) => {
    const headers = join(dirname(dirname(process.execPath)), "include", "node");
    const missing =
      missingTool("gcc") ??
      (existsSync(join(headers, "node_api.h")) ? undefined : "no Node headers");
    if (missing) return t.skip(missing);
    // native/digest.c calling a symbol no Node has: what a Node without OpenSSL's exports gives.
    const addon = join(tempDir(), "no-sha256.node");
    const cc = spawnSync("gcc", [
      "-shared",
      "-fPIC",
      "-DSHA256=rnnp_no_such_sha256",
      `-I${headers}`,
      join(ROOT, "native", "digest.c"),
      "-o",
      addon,
    ]);
    assert.equal(cc.status, 0, String(cc.stderr));
    // In a child: bound lazily, the first call would end the process ("symbol lookup error").
    const load = `import { digestAddonAt } from "./src/core/digest.ts";
      console.log(digestAddonAt(${JSON.stringify(addon)}) === null ? "refused" : "loaded");`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", load], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "refused");
  });
});
