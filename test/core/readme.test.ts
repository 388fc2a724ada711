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

describe("the README's order", () => {
  it("starts with the two commands, then tutorial, how-to sections, the reference, internals", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    assert.ok(
      readme.startsWith(
        "# rnnp\n\n```sh\nnpm install && npx rnnp run pipelines/names.rnnp\nnpm test\n```\n",
      ),
    );
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    const at = (h: string) => {
      const i = headings.indexOf(h);
      assert.ok(i >= 0, `no "## ${h}"`);
      return i;
    };
    const tutorial = at("A pipeline");
    const howTo = [
      "Using rnnp in your own project",
      "Sweeps, comparisons and parallel runs",
      "Getting results out",
      "Sharing cached stages",
    ].map(at);
    const reference = at("Reference");
    const internals = at("Internals");
    assert.equal(tutorial, 0);
    assert.ok(Math.max(...howTo) < reference, "how-to sections come before the reference");
    assert.ok(reference < at("Commands") && at("Commands") < internals);
    assert.ok(internals < at("Keys, the cache, reproducibility") && internals < at("Layout"));
    assert.match(readme.slice(readme.indexOf("## Reference")), /^\[docs\/reference\.md\]/m);
  });
});
