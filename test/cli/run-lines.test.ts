import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { csvClassifier, EVALUATE } from "../fixtures/pipelines.js";
import { Rig } from "../rig.js";

/**
 * `rnnp run` holds stage lines back and writes them in batches (a cached run of thousands of stages
 * makes thousands at once): what is printed, and its order, stay those of a write per line.
 */
const names = Array.from(
  { length: 40 },
  (_, i) => `${"abcdef"[i % 6]}${"xyz"[i % 3]}${i},${i % 2}`,
);

const pipeline = csvClassifier({
  settings: ["seed 3"],
  mask: true,
  train: "epochs: 1, batchSize: 8",
  after: [EVALUATE, "stage tail = head(raw, n: 3)"],
});

describe("run's stage lines", () => {
  it("come in order, each verdict under its stage's line, the summary last; ran and cached alike", async () => {
    const rig = new Rig().write({
      "d.csv": `name,label\n${names.join("\n")}\n`,
      "p.rnnp": pipeline,
    });
    const order = ["raw", "parts", "vocab", "seqs", "net", "fit", "report", "tail"];
    for (const status of ["ran", "cached"]) {
      const r = await rig.rnnp(["run", "p.rnnp"]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split("\n");
      assert.equal(lines.length, order.length + 2, r.stdout);
      const stageLines = lines.filter((l) => /^[✔●] /.test(l));
      assert.deepEqual(
        stageLines.map((l) => l.split(/ +/)[1]),
        order,
        r.stdout,
      );
      for (const l of stageLines) assert.match(l, new RegExp(`^. \\S+ +\\S+ +${status}\\b`));
      const report = lines.findIndex((l) => / report +evaluate /.test(l));
      assert.match(lines[report + 1]!, /^ {2}report: /, "the verdict right under its stage");
      assert.match(lines.at(-1)!, new RegExp(`^8 stages: 8 ${status} in `));
    }
  });
});
