import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";

const GOOD = `pipeline p {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
}
`;
const BAD = "pipeline q { stage a = lstn() }\n";

describe("one CLI convention", () => {
  const rig = new Rig().write({ "d.csv": NAMES_CSV, "good.rnnp": GOOD, "bad.rnnp": BAD });

  it("`rnnp` and `rnnp cache` without a subcommand print help and exit non-zero; --help exits 0", async () => {
    const bare = await rig.rnnp([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^Usage: rnnp \[options\] \[command\]/);
    const cache = await rig.rnnp(["cache"]);
    assert.equal(cache.code, 2);
    assert.match(cache.stderr, /^Usage: rnnp cache \[options\] \[command\]/);
    const help = await rig.rnnp(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: rnnp/);
    assert.equal((await rig.rnnp(["help"])).code, 0);
  });

  it("--json on an invalid pipeline writes its diagnostics as JSON on stdout", async () => {
    for (const verb of [["status"], ["dag"], ["run"], ["why", "a"], ["compare"]]) {
      const [v, ...rest] = verb;
      const r = await rig.rnnp([v!, ...rest, "bad.rnnp", "--json"]);
      if (v === "dag") {
        // dag has no --json (its formats are text, dot and mermaid): commander refuses the flag.
        assert.equal(r.code, 2);
        continue;
      }
      assert.equal(r.code, 2, `${v}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as {
        file: string;
        valid: boolean;
        diagnostics: { code: string; file: string }[];
      };
      assert.deepEqual(
        [out.file, out.valid, out.diagnostics.map((d) => d.code)],
        ["bad.rnnp", false, ["unknown-kind"]],
        v,
      );
      assert.equal(r.stderr, "", `${v} printed to stderr too`);
    }
  });

  it("validate takes several files, and --json reports each", async () => {
    const text = await rig.rnnp(["validate", "good.rnnp", "bad.rnnp"]);
    assert.equal(text.code, 2);
    assert.match(text.stdout, /✔ good\.rnnp: pipeline `p` is valid \(1 stage\)/);
    assert.match(text.stderr, /error\[unknown-kind\]/);
    const json = await rig.rnnp(["validate", "good.rnnp", "bad.rnnp", "--json"]);
    assert.equal(json.code, 2);
    const rows = JSON.parse(json.stdout) as {
      file: string;
      valid: boolean;
      stages?: number;
      diagnostics: { code: string }[];
    }[];
    assert.deepEqual(
      rows.map((r) => [r.file, r.valid, r.stages, r.diagnostics.map((d) => d.code)]),
      [
        ["good.rnnp", true, 1, []],
        ["bad.rnnp", false, undefined, ["unknown-kind"]],
      ],
    );
    assert.equal((await rig.rnnp(["validate", "good.rnnp", "--json"])).code, 0);
  });
});
