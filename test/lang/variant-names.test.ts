import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Json } from "../../src/core/canonical.js";
import { currentSpelling, parseVariantName, spellVariant } from "../../src/lang/sweep.js";
import { NAMES_CSV } from "../helpers.js";
import { missingTool, Rig } from "../rig.js";

/**
 * Characters some common shell treats specially inside a word: bash and zsh (globs `* ? [ ]`, braces,
 * quotes, `$`, `` ` ``, `\`, `!` history, `~`, `#`, `^` with extendedglob, redirections, `;`, `&`,
 * `|`, parentheses), fish (the same, and `%` in older versions), PowerShell (`,` makes an array,
 * `;`, `$`, `@` and `'`/`"` only at a word's start, backtick escapes, `{ }` blocks, `<#`).
 */
const SPECIAL = /[\s'"`$\\*?[\]{}()<>|&;~#!^%,]/;

const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
const plain: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.boolean(),
  fc.stringMatching(/^[A-Za-z_./][\w./-]{0,12}$/),
);
const values = fc.uniqueArray(fc.tuple(name, plain), {
  minLength: 1,
  maxLength: 4,
  selector: ([k]) => k,
});

describe("variant names", () => {
  it("numbers, booleans and plain words give names with no shell metacharacter that read back to their values", () => {
    fc.assert(
      fc.property(name, values, (base, vs) => {
        const spelled = spellVariant(base, new Map(vs));
        assert.doesNotMatch(spelled, SPECIAL, spelled);
        const read = parseVariantName(spelled);
        assert.ok(read, spelled);
        assert.equal(read.of, base);
        assert.deepEqual(
          [...read.values],
          vs.map(([k, v]) => [k, Object.is(v, -0) ? 0 : v]),
        );
      }),
    );
  });

  it("any value reads back, quoted as JSON where it is not a plain word", () => {
    fc.assert(
      fc.property(
        name,
        fc.uniqueArray(fc.tuple(name, fc.jsonValue() as fc.Arbitrary<Json>), {
          minLength: 1,
          maxLength: 3,
          selector: ([k]) => k,
        }),
        (base, vs) => {
          const clean = vs.map(([k, v]) => [k, JSON.parse(JSON.stringify(v)) as Json] as const);
          const read = parseVariantName(spellVariant(base, new Map(clean)));
          assert.deepEqual(read && [...read.values], clean);
        },
      ),
    );
    assert.equal(
      spellVariant(
        "fit",
        new Map<string, Json>([
          ["path", "my data.csv"],
          ["n", "64"],
          ["b", "true"],
        ]),
      ),
      'fit@path="my data.csv"+n="64"+b="true"',
    );
  });

  const SPELLED = () =>
    spellVariant(
      "fit",
      new Map<string, Json>([
        ["units", 64],
        ["lr", 0.001],
        ["path", "d.csv"],
        ["on", true],
        ["x", -1e-7],
      ]),
    );
  it("spells a variant with no character a common shell treats specially", () => {
    assert.equal(SPELLED(), "fit@units=64+lr=0.001+path=d.csv+on=true+x=-1e-7");
  });
  for (const shell of ["bash", "zsh", "fish"])
    it(`${shell} passes a variant's name unquoted as one word, unchanged`, {
      skip: missingTool(shell) ?? false,
    }, () => {
      const spelled = SPELLED();
      const r = spawnSync(shell, ["-c", `printf '%s\\n' ${spelled}`], { encoding: "utf8" });
      assert.equal(r.stdout, `${spelled}\n`, `${shell}: ${r.stderr}`);
    });

  it("the older spelling is read as today's", () => {
    assert.equal(currentSpelling("fit[units=64,lr=0.001]"), "fit@units=64+lr=0.001");
    assert.equal(currentSpelling('fit[path="d.csv"]'), "fit@path=d.csv");
    assert.equal(currentSpelling("fit"), "fit");
  });

  it("on the command line: the new spelling, the old one, another order of params, bare strings", async () => {
    const rig = new Rig().write({
      "d.csv": NAMES_CSV,
      "p.rnnp": `pipeline p {
  params { n = 4, path = "d.csv" }
  sweep { n: [4, 6], path: ["d.csv"] }
  stage raw = load.csv(path: params.path, text: "name", label: "label")
  stage few = sample(raw, n: params.n)
}
`,
    });
    const run = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      (JSON.parse(run.stdout) as { stages: { name: string }[] }).stages.map((s) => s.name),
      ["raw@path=d.csv", "few@n=4+path=d.csv", "few@n=6+path=d.csv"],
    );
    const want = (await rig.rnnp(["show", "few@n=6+path=d.csv", "p.rnnp", "--json"])).stdout;
    assert.match(want, /"stage": "few@n=6\+path=d\.csv"/);
    for (const typed of ["few@path=d.csv+n=6", 'few[n=6,path="d.csv"]', 'few@n=6+path="d.csv"']) {
      const r = await rig.rnnp(["show", typed, "p.rnnp", "--json"]);
      assert.equal(r.code, 0, `${typed}: ${r.stderr}`);
      assert.equal(r.stdout, want, typed);
    }
    const missing = await rig.rnnp(["show", "few@n=5+path=d.csv", "p.rnnp"]);
    assert.equal(missing.code, 2);
  });

  it("a lock written with the older spelling still matches (--frozen), and a run rewrites it in today's", async () => {
    const rig = new Rig().write({
      "d.csv": NAMES_CSV,
      "p.rnnp": `pipeline p {
  params { n = 4 }
  sweep { n: [4, 6] }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage few = sample(raw, n: params.n)
  stage parts = split(few, train: 0.5, val: 0.25, test: 0.25)
}
`,
    });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    const today = rig.read("p.lock");
    assert.match(today, /"parts@n=4": \{/);
    assert.match(today, /"stage": "few@n=4"/);
    const old = today.replace(/(\w+)@n=(\d)/g, "$1[n=$2]");
    rig.write({ "p.lock": old });
    const frozen = await rig.rnnp(["run", "p.rnnp", "--frozen"]);
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.equal(rig.read("p.lock"), old, "--frozen never writes the lock");
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal(rig.read("p.lock"), today);
  });
});
