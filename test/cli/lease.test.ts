import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Gate, GATE_KIND, waitFor } from "../fixtures/gate.js";
import { NAMES_CSV } from "../helpers.js";
import { type CliResult, Rig } from "../rig.js";
import { GATED } from "../fixtures/pipelines.js";

/**
 * Real processes racing on one cache (the process is the point). The middle stage is a gate
 * (test/fixtures/gate-kind.mjs): the test sees which process is inside it, holding its lease, and
 * decides when it ends, so nothing depends on how fast the machine is.
 */
function project(): { rig: Rig; gate: Gate } {
  const rig = new Rig().write({
    "d.csv": NAMES_CSV,
    "k.rnnp": GATED,
  });
  return { rig, gate: new Gate(rig.path("go")) };
}

/** A run in a real process; `log.text` collects what every run writes to stderr. */
function run(rig: Rig, json: boolean, log: { text: string }) {
  const r = rig.spawn(["run", "k.rnnp", ...(json ? ["--json"] : [])], { nodeArgs: GATE_KIND });
  r.child.stderr!.on("data", (d: Buffer) => (log.text += d));
  return r;
}

const statuses = (r: CliResult) => {
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(
    (JSON.parse(r.stdout) as { stages: { name: string; status: string }[] }).stages.map((s) => [
      s.name,
      s.status,
    ]),
  );
};

describe("concurrent runs share work through leases", { timeout: 120_000 }, () => {
  it("two runs of one pipeline on one cache compute each stage once: the second waits and uses the result", async () => {
    const { rig, gate } = project();
    const log = { text: "" };
    const a = run(rig, true, log);
    const b = run(rig, true, log);
    const seen = () => log.text;
    await waitFor("one run inside `big`", () => gate.entered().length === 1, seen);
    await waitFor(
      "the other run waiting on its lease",
      () => /\[big\] waiting/.test(log.text),
      seen,
    );
    gate.open();
    const [sa, sb] = [statuses(await a), statuses(await b)];
    assert.equal(gate.entered().length, 1, "only one process ever entered `big`");
    for (const stage of ["small", "big", "after"])
      assert.deepEqual(
        [sa[stage], sb[stage]].sort(),
        ["cached", "ran"],
        `${stage} ran in exactly one process`,
      );
    const [holder] = gate.entered();
    assert.match(
      log.text,
      new RegExp(`\\[big\\] waiting: pid ${holder} on .* is computing this stage`),
    );
  });

  it("a holder killed with SIGKILL mid-stage leaves no half entry; the waiting run takes over and finishes", async () => {
    const { rig, gate } = project();
    const log = { text: "" };
    const seen = () => log.text;
    const first = run(rig, false, log);
    await waitFor("the first run inside `big`", () => gate.entered().length === 1, seen);
    const second = run(rig, true, log);
    await waitFor(
      "the second run waiting on the lease",
      () => /\[big\] waiting/.test(log.text),
      seen,
    );
    first.child.kill("SIGKILL");
    assert.equal((await first).code, -1, "killed");
    gate.open();
    assert.deepEqual(statuses(await second), { small: "cached", big: "ran", after: "ran" });
    assert.equal(gate.entered().length, 2, "the survivor computed `big` itself");
    assert.equal((await rig.rnnp(["cache", "verify"])).code, 0);
    const records = (
      JSON.parse((await rig.rnnp(["cache", "ls", "--json"])).stdout) as {
        records: { stage: string }[];
      }
    ).records
      .map((r) => r.stage)
      .sort();
    assert.deepEqual(records, ["after", "big", "small"]);
  });
});
