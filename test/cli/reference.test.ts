import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CODES } from "../../src/core/codes.js";
import { configSchemaJson } from "../../src/cli/docs.js";
import { referenceMarkdown, topics } from "../../src/cli/reference.js";
import { kinds } from "../../src/kinds/registry.js";
import { LAYERS } from "../../src/numerics/layers/index.js";
import { OPTIMIZERS, SCHEDULES } from "../../src/numerics/optimizers.js";
import { ROOT } from "../helpers.js";
import { Rig } from "../rig.js";

const reference = () => readFileSync(join(ROOT, "docs", "reference.md"), "utf8");

describe("the reference, generated from the declarations", () => {
  it("docs/reference.md is what the declarations generate (run `npm run docs` after changing one)", () => {
    assert.equal(reference(), referenceMarkdown());
    // Compared as JSON: Biome formats the file.
    assert.deepEqual(
      JSON.parse(readFileSync(join(ROOT, "schema", "rnnp.config.schema.json"), "utf8")),
      JSON.parse(configSchemaJson()),
    );
  });

  it("documents every kind, layer, optimizer and schedule, and every parameter with its type and default", () => {
    const md = reference();
    const expected = [
      ...[...kinds.values()].map((k) => [k.name, Object.keys(k.params)] as const),
      ...LAYERS.all.map((l) => [l.name, Object.keys(l.params)] as const),
      ...Object.entries({ ...OPTIMIZERS, ...SCHEDULES }).map(
        ([n, o]) => [n, Object.keys(o.params)] as const,
      ),
    ];
    assert.equal(topics().length, expected.length);
    assert.equal(kinds.size, 21);
    for (const [name, params] of expected) {
      const section = md.split(`\n### ${name}\n`)[1]?.split("\n### ")[0];
      assert.ok(section, `no section for ${name}`);
      for (const p of params)
        assert.match(section, new RegExp(`^\\| \`${p}\` \\| [^|]+ \\| \``, "m"), `${name}.${p}`);
    }
    assert.match(md, /\| `batchSize` \| an integer >= 1 \| `32` \| Examples per step\. \|/);
    assert.match(
      md,
      /\| `optimizer` \| .* \| `adam\(lr: 0\.001, beta1: 0\.9, beta2: 0\.999, epsilon: 1e-7\)` \|/,
    );
    assert.match(
      md,
      /### seq2seq\n[\s\S]*`encoder \{ \}` holds an embedding, then recurrent layers/,
    );
  });

  it("lists every diagnostic code with its severity, and the Keras names", () => {
    const md = reference();
    for (const [code, info] of Object.entries(CODES))
      assert.ok(md.includes(`| \`${code}\` | ${info.severity} |`), code);
    assert.match(md, /\| `output_dim` \| `dim` \|/);
  });

  it("says that clipNorm clips the global norm", () => {
    assert.match(
      reference(),
      /> `clipNorm` clips the global norm: all gradients are scaled together/,
    );
  });
});

describe("rnnp help and rnnp kinds", () => {
  const rig = new Rig();

  it("`rnnp kinds` lists every kind, layer, optimizer and schedule", async () => {
    const r = await rig.rnnp(["kinds"]);
    assert.equal(r.code, 0, r.stderr);
    for (const t of topics())
      assert.match(r.stdout, new RegExp(`^  ${t.name.replace(".", "\\.")} +\\S`, "m"), t.name);
    const json = await rig.rnnp(["kinds", "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), topics());
  });

  it("`rnnp help KIND` shows every param with its type and default", async () => {
    for (const t of topics()) {
      const r = await rig.rnnp(["help", t.name]);
      assert.equal(r.code, 0, `${t.name}: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`${t.name} (${t.section})\n`), t.name);
      for (const p of t.params)
        assert.ok(r.stdout.includes(`  ${p.name}: ${p.type}`), `${t.name}.${p.name}`);
    }
    const train = await rig.rnnp(["help", "train"]);
    assert.match(train.stdout, /^ {2}batchSize: an integer >= 1 = 32\n {4}Examples per step\.$/m);
    assert.match(train.stdout, /^ {2}epochs: an integer >= 1 \(required\)$/m);
    assert.match(train.stdout, /note: `clipNorm` clips the global norm/);
  });

  it("`rnnp help COMMAND` is the command's usage; an unknown topic exits 2 with a hint", async () => {
    const run = await rig.rnnp(["help", "run"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: rnnp run \[options\] \[file\]/);
    const bad = await rig.rnnp(["help", "lsmt"]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /no command, stage kind, layer, optimizer or schedule is called `lsmt` \(did you mean `lstm`\?\)/,
    );
  });
});
