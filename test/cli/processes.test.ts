import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { Gate, GATE_KIND, waitFor } from "../fixtures/gate.js";
import { Rig } from "../rig.js";
import { GATED, csvParts } from "../fixtures/pipelines.js";

const PIPELINE = csvParts({
  name: "shared",
  settings: ["seed 1", "params { n = 3 }"],
  after: ["stage preview = head(parts, n: params.n)", "stage other = sample(raw, n: 4)"],
});

describe("several processes, one cache", () => {
  it("concurrent runs of overlapping pipelines all succeed, agree on keys, and leave an intact cache", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
    const runs = await Promise.all([
      rig.spawn(["run", "p.rnnp", "--json"]),
      rig.spawn(["run", "p.rnnp", "--json"]),
      rig.spawn(["run", "p.rnnp", "--json"]),
      rig.spawn(["run", "p.rnnp", "--json", "-P", "n=2"]),
      rig.spawn(["run", "p.rnnp", "--json", "-P", "n=1"]),
    ]);
    const keys = new Map<string, Set<string>>();
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      for (const s of JSON.parse(r.stdout).stages as {
        name: string;
        key: string;
        status: string;
      }[]) {
        assert.match(s.status, /^(ran|cached)$/, `${s.name}: ${s.status}`);
        if (s.name !== "preview") keys.set(s.name, (keys.get(s.name) ?? new Set()).add(s.key));
      }
    }
    assert.deepEqual(
      [...keys].map(([name, ks]) => [name, ks.size]),
      ["raw", "low", "parts", "other"].map((n) => [n, 1]),
      "every shared stage has one key in every process",
    );
    assert.equal((await rig.rnnp(["cache", "verify"])).code, 0);
    const records = JSON.parse((await rig.rnnp(["cache", "ls", "--json"])).stdout)
      .records as unknown[];
    assert.equal(records.length, 4 + 3, "raw, low, parts, other, and preview for n = 3, 2, 1");
    const after = JSON.parse((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout).stages as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      after.map((s) => [s.name, s.status]),
      ["raw", "low", "parts", "preview", "other"].map((n) => [n, "cached"]),
    );
  });

  it("a run killed with SIGKILL mid-stage leaves no half entry; the next run finishes the work", {
    timeout: 120_000,
  }, async () => {
    // `big` is a gate (test/fixtures/gate-kind.mjs): the run is killed while it is surely inside.
    const rig = new Rig().write({
      "d.csv": NAMES_CSV,
      "k.rnnp": GATED,
    });
    const gate = new Gate(rig.path("go"));
    const run = rig.spawn(["run", "k.rnnp"], { nodeArgs: GATE_KIND });
    let errs = "";
    run.child.stderr!.on("data", (d: Buffer) => (errs += d));
    await waitFor(
      "the run inside `big`",
      () => gate.entered().length === 1,
      () => errs,
    );
    run.child.kill("SIGKILL");
    const killed = await run;
    assert.equal(killed.code, -1, "killed");
    assert.doesNotMatch(killed.stdout, /big/, "the big stage had not finished");
    const records = JSON.parse((await rig.rnnp(["cache", "ls", "--json"])).stdout).records as {
      stage: string;
    }[];
    assert.deepEqual(
      records.map((r) => r.stage),
      ["small"],
    );
    assert.equal((await rig.rnnp(["cache", "verify"])).code, 0);
    gate.open();
    const again = JSON.parse(
      rig.spawnSync(["run", "k.rnnp", "--json"], { nodeArgs: GATE_KIND }).stdout,
    ).stages as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      again.map((s) => [s.name, s.status]),
      [
        ["small", "cached"],
        ["big", "ran"],
        ["after", "ran"],
      ],
    );
  });
});
