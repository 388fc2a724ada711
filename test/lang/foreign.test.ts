import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kinds } from "../../src/kinds/registry.js";
import { FOREIGN_NAMES, foreignHint } from "../../src/lang/foreign.js";
import { LAYERS } from "../../src/numerics/layers/index.js";
import { OPTIMIZER_VARIANTS, SCHEDULE_VARIANTS } from "../../src/numerics/optimizers.js";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";

/** Every declaration's argument names (params and inputs), by owner: what a hint may point to. */
const OWNERS: [string, string[]][] = [
  ...[...kinds.values()].map((k): [string, string[]] => [
    k.name,
    [...Object.keys(k.inputs), ...Object.keys(k.params)],
  ]),
  ...LAYERS.all.map((l): [string, string[]] => [l.name, Object.keys(l.params)]),
  ...Object.entries({ ...OPTIMIZER_VARIANTS, ...SCHEDULE_VARIANTS }).map(
    ([n, spec]): [string, string[]] => [n, Object.keys(spec)],
  ),
];

describe("Keras and TF.js spellings get the right hint", () => {
  for (const [foreign, { ours }] of FOREIGN_NAMES)
    it(`${foreign} -> ${ours}`, () => {
      const owners = OWNERS.filter(([, names]) => names.includes(ours));
      assert.ok(owners.length > 0, `no declaration has a parameter \`${ours}\``);
      for (const [owner, names] of owners)
        assert.match(
          foreignHint(foreign, names) ?? "",
          new RegExp(`^\`${foreign}\` is the Keras/TF\\.js spelling: rnnp calls it \`${ours}\``),
          owner,
        );
    });

  it("a snake_case name not listed still finds its camelCase parameter", () => {
    assert.equal(
      foreignHint("sample_rate", ["sampleRate", "path"]),
      "`sample_rate` is the Keras/TF.js spelling: rnnp calls it `sampleRate`",
    );
    assert.equal(foreignHint("sample_rate", ["path"]), undefined);
    assert.equal(foreignHint("units", ["units"]), undefined);
  });

  it("in a pipeline: the hint replaces edit-distance guesses (output_dim is not inputDim)", async () => {
    const rig = new Rig().write({
      "d.csv": NAMES_CSV,
      "p.rnnp": `pipeline p {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.8, val: 0.2, test: 0)
  stage vocab = vocabulary(parts.train)
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage net = model(seqs.train) {
    embedding(output_dim: 8, mask_zero: true)
    bidirectional(lstm(units: 4), merge_mode: "concat")
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: 1, optimizer: adam(learning_rate: 0.1), clipnorm: 1)
  stage fit2 = train(net, seqs.train, epochs: 1, optimizer: sgd(learningRate: 0.1))
}
`,
    });
    const r = await rig.rnnp(["validate", "p.rnnp"]);
    assert.equal(r.code, 2);
    const hints = [...r.stderr.matchAll(/= hint: (`\w+` is the Keras.*)/g)].map((m) => m[1]);
    assert.deepEqual(hints, [
      "`output_dim` is the Keras/TF.js spelling: rnnp calls it `dim`",
      "`mask_zero` is the Keras/TF.js spelling: rnnp calls it `mask`",
      "`merge_mode` is the Keras/TF.js spelling: rnnp calls it `merge`",
      "`learning_rate` is the Keras/TF.js spelling: rnnp calls it `lr`",
      "`clipnorm` is the Keras/TF.js spelling: rnnp calls it `clipNorm` (rnnp's clipNorm clips the global norm of all gradients together (Keras's global_clipnorm); Keras's clipnorm clips each variable's norm separately)",
      "`learningRate` is the Keras/TF.js spelling: rnnp calls it `lr`",
    ]);
    assert.doesNotMatch(r.stderr, /did you mean `inputDim`/);
  });
});
