import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NODE_FLAGS } from "../../src/core/node-flags.js";
import { Rig, missingTool } from "../rig.js";

/**
 * The peak memory of `rnnp cache import` against the size of the bundle's one entry (a table of
 * zeros, gzipped to a few MB, as in issue 10): measured with /usr/bin/time as the maximum resident
 * set size of the importing process. Entries are streamed through SHA-256 to a staging file, read
 * back once to check that they decode to what their record says, and once to be stored (LMDB holds
 * a copy of the value until its transaction commits): the peak is about twice the entry.
 */
const GiB = 1024 ** 3;
const time = missingTool("/usr/bin/time", "--version");

describe("cache import memory", { skip: time ?? false }, () => {
  it("peak RSS of importing one entry of 0.5, 1 and 1.5 GiB stays near twice the entry; 2.5 GiB is refused from its size", async (t) => {
    const rig = new Rig();
    const rows: string[] = [];
    for (const size of [0.5, 1, 1.5, 2.5]) {
      const bundle = rig.path(`b${size}.tgz`);
      const made = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          join(import.meta.dirname, "../cache/big-bundle.ts"),
          bundle,
          String(size * GiB),
        ],
        { encoding: "utf8" },
      );
      assert.equal(made.status, 0, made.stderr);
      const cache = rig.path(`c${size}`);
      const r = spawnSync(
        "/usr/bin/time",
        [
          "-v",
          process.execPath,
          ...NODE_FLAGS,
          join(import.meta.dirname, "../../bin/rnnp.js"),
          "cache",
          "import",
          bundle,
          "--cache",
          cache,
        ],
        { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
      );
      const peakKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
      const peak = peakKb * 1024;
      rows.push(
        `${size} GiB entry: exit ${r.status}, peak RSS ${(peak / GiB).toFixed(2)} GiB (${(peak / (size * GiB)).toFixed(2)}x the entry)`,
      );
      if (size <= 1.5) {
        assert.equal(r.status, 0, r.stderr);
        assert.ok(peak < 2.3 * size * GiB + 0.3 * GiB, rows.at(-1));
      } else {
        assert.equal(r.status, 1);
        assert.match(
          r.stderr,
          /refusing .*: blob [0-9a-f]{12} is \d+ bytes, over the \d+-byte limit/,
        );
        assert.ok(peak < 0.3 * GiB, rows.at(-1));
      }
      rmSync(bundle, { force: true });
      rmSync(cache, { recursive: true, force: true });
    }
    for (const row of rows) t.diagnostic(row);
  });
});
