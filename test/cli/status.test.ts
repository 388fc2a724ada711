import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { leafDiffs } from "../../src/plan/why.js";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";
import { csvClassifier } from "../fixtures/pipelines.js";

const MODEL = (units: number) =>
  csvClassifier({
    settings: [`params { units = ${units} }`],
    layers: [
      "embedding(dim: 4)",
      "lstm(units: params.units, returnSequences: true)",
      "lstm(units: 4)",
      'dense(units: 2, activation: "softmax")',
    ],
  });

describe("why and status say what changed, at the leaf, once", () => {
  it("a layer's argument: `lstm#1.units 4 -> 8 (from params.units)`, not truncated lists", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": MODEL(4) });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    rig.write({ "p.rnnp": MODEL(8) });
    const why = await rig.rnnp(["why", "net", "p.rnnp"]);
    assert.equal(why.code, 0, why.stderr);
    assert.equal(
      why.stdout,
      "net: stale\n  - param `layers`: lstm#1.units 4 -> 8 (from params.units)\n",
    );
    const status = await rig.rnnp(["status", "p.rnnp"]);
    assert.match(status.stdout, /stale +net +model +param `layers`: lstm#1\.units 4 -> 8/);
  });

  it("leaf diffs name calls, unique layers by name, and lists by position", () => {
    const lstm = (units: number) => ({ call: "lstm", args: { units, dropout: 0 } });
    assert.deepEqual(
      leafDiffs(
        [lstm(4), { call: "dense", args: { units: 2 } }],
        [lstm(8), { call: "dense", args: { units: 3 } }],
        "",
      ),
      [
        { path: "lstm.units", at: ["0", "units"], before: 4, after: 8 },
        { path: "dense.units", at: ["1", "units"], before: 2, after: 3 },
      ],
    );
    assert.deepEqual(
      leafDiffs({ call: "adam", args: { lr: 0.1 } }, { call: "sgd", args: { lr: 0.1 } }, ""),
      [
        {
          path: "",
          at: [],
          before: { call: "adam", args: { lr: 0.1 } },
          after: { call: "sgd", args: { lr: 0.1 } },
        },
      ],
    );
    assert.deepEqual(leafDiffs({ a: [1, 2] }, { a: [1, 3] }, ""), [
      { path: "a.[1]", at: ["a", "1"], before: 2, after: 3 },
    ]);
    assert.deepEqual(leafDiffs(3, 3, ""), []);
  });

  const CHAIN = (n: number) => `pipeline p {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.6, val: 0.2, test: 0.2)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: ${n})
}
`;

  it("a root cause reached by two paths is stated once; a stage's own change is not hidden", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": CHAIN(6) });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    rig.write({ "d.csv": `${NAMES_CSV}Zed,m,2\n`, "p.rnnp": CHAIN(7) });
    const why = await rig.rnnp(["why", "seqs", "p.rnnp"]);
    assert.equal(why.code, 0, why.stderr);
    assert.equal((why.stdout.match(/file `d\.csv` content changed/g) ?? []).length, 1, why.stdout);
    assert.match(why.stdout, /^ {2}- param `maxLen` 6 -> 7$/m);
    assert.match(why.stdout, /waits on `parts` \(see above\)/);
    const status = await rig.rnnp(["status", "p.rnnp"]);
    assert.match(status.stdout, /stale +seqs +encode +param `maxLen` 6 -> 7 \(\+2 more\)/);
  });

  it("compares with the lockfile when there is one, not the latest cached record", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": CHAIN(6) });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    rig.write({ "p.rnnp": CHAIN(7) });
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--no-lock"])).code, 0);
    rig.write({ "p.rnnp": CHAIN(8) });
    const why = await rig.rnnp(["why", "seqs", "p.rnnp"]);
    assert.equal(why.stdout, "seqs: stale\n  - param `maxLen` 6 -> 8\n");
  });

  it("status --exit-code and -q exit 1 when a stage is stale, for scripts", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": CHAIN(6) });
    const stale = await rig.rnnp(["status", "p.rnnp", "--exit-code"]);
    assert.equal(stale.code, 1);
    assert.match(stale.stdout, /4 of 4 stages stale/);
    const quiet = await rig.rnnp(["status", "p.rnnp", "-q"]);
    assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [1, "", ""]);
    assert.equal((await rig.rnnp(["status", "p.rnnp"])).code, 0, "without the flag: exit 0");
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    assert.equal((await rig.rnnp(["status", "p.rnnp", "--exit-code"])).code, 0);
    assert.deepEqual((await rig.rnnp(["status", "p.rnnp", "--quiet"])).code, 0);
  });
});
