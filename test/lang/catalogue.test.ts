import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers.js";

/** Issue 16, part 2, for the front end: one way to report a problem. */
describe("the front end's diagnostics", () => {
  it("come from the catalogue through diagnostic()/Collector: no object literal sets a severity", () => {
    const files = ["grammar", "src/lang"].flatMap((dir) =>
      readdirSync(join(ROOT, dir))
        .filter((f) => f.endsWith(".ts") && !f.endsWith(".spec.ts"))
        .map((f) => join(dir, f)),
    );
    assert.ok(files.length >= 20, `${files.length} files`);
    const offending = files.filter((f) =>
      /\bseverity\s*:/.test(readFileSync(join(ROOT, f), "utf8")),
    );
    assert.deepEqual(offending, []);
  });
});
