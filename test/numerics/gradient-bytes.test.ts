// The same gradient bytes on both TF.js backends and both builds of the kernels, and the same as
// when these digests were written (at 460cae3, before the fused op left out gradients no one reads,
// read its inputs where the wasm backend keeps them, and the native products took their broadcast
// from memory): gradient-bytes-dump.ts prints a digest of every gradient of 21 fused setups (data
// and differentiated inputs; LSTM, GRU, SimpleRNN and bidirectional first; masks; dropout and
// recurrent dropout; encoder states as a decoder's initial states; initial states as data and
// differentiated; a 700-row batch). A change meant to change these bytes rewrites the digests:
//   node --import tsx test/numerics/gradient-bytes-dump.ts cpu   (and wasm), into "digests"
// and says why. Each combination runs in its own process (one TF.js runtime per process). By
// review13.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const golden = JSON.parse(readFileSync(here("./gradient-bytes.golden.json"), "utf8")) as {
  digests: Record<string, Record<string, Record<string, string>>>;
};

describe("gradient bytes across backends, kernels and versions", () => {
  for (const backend of ["cpu", "wasm"])
    for (const impl of ["native", "wasm"])
      it(`${backend} backend, ${impl} kernels: 460cae3's bytes`, () => {
        const out = execFileSync(
          process.execPath,
          ["--import", "tsx", here("./gradient-bytes-dump.ts"), backend],
          { env: { ...process.env, RNNP_KERNELS_IMPL: impl }, encoding: "utf8" },
        );
        const got = JSON.parse(out) as {
          kernels: string;
          out: Record<string, Record<string, string>>;
        };
        assert.ok(got.kernels.startsWith(impl), got.kernels);
        // Internal consistency: a differentiated input changes no weight gradient.
        for (const [name, o] of Object.entries(got.out))
          if (name.endsWith("/xs") && !name.includes("ropout")) {
            const data = got.out[name.replace("/xs", name.startsWith("first") ? "" : "/data")]!;
            for (const k of Object.keys(data)) assert.equal(o[k], data[k], `${name} ${k}`);
          }
        assert.equal(got.out["stack/tf.grad"]!.dx, got.out["stack/xs"]!["-1"]);
        assert.deepEqual(got.out, golden.digests[backend]);
      });
});
