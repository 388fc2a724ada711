import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

const ROOT = join(import.meta.dirname, "../..");

/** The statements of a pipeline, without its comments and blank lines: what the README must show. */
const statements = (source: string) =>
  source
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
    .join("\n");

describe("the README", () => {
  it("shows the names pipeline as it is in pipelines/names.rnnp (the tutorial explains that file)", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const shown = /```\n# pipelines\/names\.rnnp\n([\s\S]*?)```/.exec(readme);
    assert.ok(shown, "the README has a ```-fenced block starting with # pipelines/names.rnnp");
    const file = readFileSync(join(ROOT, "pipelines/names.rnnp"), "utf8");
    assert.equal(statements(shown[1]!), statements(file));
  });
});
