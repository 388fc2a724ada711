import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cli, cliAsync, NAMES_CSV, tempDir, writeFiles } from "../helpers.js";

/** A pipeline whose `big` stage takes a second or two: long enough to race on. */
function project(): string {
  const dir = tempDir();
  const rows = Array.from({ length: 300_000 }, (_, i) => `name${i},${i % 2 ? "a" : "b"},${i}`);
  writeFileSync(join(dir, "big.csv"), `name,label,score\n${rows.join("\n")}\n`);
  writeFiles(dir, {
    "d.csv": NAMES_CSV,
    "k.rnnp": `pipeline k {
  stage small = load.csv(path: "d.csv")
  stage big = load.csv(path: "big.csv", label: "label")
  stage after = head(big, n: 2)
}
`,
  });
  return dir;
}
const statuses = (stdout: string) =>
  Object.fromEntries(
    (JSON.parse(stdout) as { stages: { name: string; status: string }[] }).stages.map((s) => [
      s.name,
      s.status,
    ]),
  );

describe("concurrent runs share work through leases", () => {
  it("two runs of one pipeline on one cache compute each stage once: the second waits and uses the result", async () => {
    const dir = project();
    const [a, b] = await Promise.all([
      cliAsync(["run", "k.rnnp", "--json"], dir),
      cliAsync(["run", "k.rnnp", "--json"], dir),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const sa = statuses(a.stdout);
    const sb = statuses(b.stdout);
    for (const stage of ["small", "big", "after"]) {
      assert.deepEqual(
        [sa[stage], sb[stage]].sort(),
        ["cached", "ran"],
        `${stage} ran in exactly one process`,
      );
    }
    assert.match(a.stderr + b.stderr, /big: waiting: pid \d+ on .* is computing this stage/);
  });

  it("a holder killed with SIGKILL mid-stage leaves no half entry; the waiting run takes over and finishes", async () => {
    const dir = project();
    const first = cliAsync(["run", "k.rnnp"], dir);
    await new Promise<void>((res) => {
      first.child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("small")) res();
      });
    });
    // First is now inside `big`; start the second, let it find the lease, then kill the holder.
    const second = cliAsync(["run", "k.rnnp", "--json"], dir);
    await new Promise<void>((res) => {
      second.child.stderr!.on("data", (d: Buffer) => {
        if (d.toString().includes("waiting")) res();
      });
    });
    first.child.kill("SIGKILL");
    await first;
    const survivor = await second;
    assert.equal(survivor.code, 0, survivor.stderr);
    assert.deepEqual(statuses(survivor.stdout), { small: "cached", big: "ran", after: "ran" });
    assert.equal(cli(["cache", "verify"], dir).code, 0);
    const records = (
      JSON.parse(cli(["cache", "ls", "--json"], dir).stdout) as { records: { stage: string }[] }
    ).records
      .map((r) => r.stage)
      .sort();
    assert.deepEqual(records, ["after", "big", "small"]);
  });
});
