import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { Rig } from "../rig.js";

/** 60 short reviews, two classes, an id column and a rating column to be ignored. */
const REVIEWS = [
  "id,review,stars,sentiment",
  ...Array.from({ length: 60 }, (_, i) =>
    i % 2
      ? `${i},great product number ${i} really good,5,pos`
      : `${i},awful thing ${i} broke fast,1,neg`,
  ),
].join("\n");

describe("rnnp init", () => {
  it("makes a project from a CSV of one's own: config, a starter pipeline that validates and runs, .gitignore", async () => {
    const rig = new Rig().write({ "data/reviews.csv": REVIEWS });
    const r = await rig.rnnp(["init", "--data", "data/reviews.csv", "--label", "sentiment"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /pipeline\.rnnp classifies `review` into 2 classes of `sentiment` \(60 rows\)/,
    );
    assert.deepEqual(JSON.parse(rig.read("rnnp.config.json")), {
      $schema: "./node_modules/rnnp/schema/rnnp.config.schema.json",
      cache: "cache",
    });
    assert.equal(rig.read(".gitignore"), "/cache/\n");
    const pipeline = rig.read("pipeline.rnnp");
    assert.match(
      pipeline,
      /load\.csv\(path: "data\/reviews\.csv", text: "review", label: "sentiment"\)/,
    );
    assert.match(pipeline, /dense\(units: 2, activation: "softmax"\)/);
    const valid = await rig.rnnp(["validate", "pipeline.rnnp"]);
    assert.equal(valid.code, 0, valid.stderr);
    const ran = await rig.rnnp(["run", "-P", "epochs=1", "--backend", "cpu"], { cwd: rig.dir });
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(existsSync(rig.path("cache", "data.mdb")));
  });

  it("keeps existing files unless --force, and says which column it needs when it cannot guess", async () => {
    const rig = new Rig().write({ "pipeline.rnnp": "keep me", "d.csv": "a,b\n1,2\n" });
    const r = await rig.rnnp(["init"]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "error: pipeline.rnnp exists already (--force overwrites it)\n");
    assert.equal(rig.read("pipeline.rnnp"), "keep me");
    const forced = await rig.rnnp(["init", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(
      rig.read("pipeline.rnnp"),
      /load\.csv\(path: "data\.csv", text: "text", label: "label"\)/,
    );
    const missing = await rig.rnnp(["init", "--force", "--data", "nope.csv"]);
    assert.deepEqual([missing.code, missing.stderr], [2, "error: --data nope.csv: no such file\n"]);
    const bad = await rig.rnnp(["init", "--force", "--data", "data.csv", "--text", "body"]);
    assert.equal(bad.code, 2);
  });
});
