import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cli, cliAsync, NAMES_CSV, tempDir, writeFiles } from "../helpers.js";

const PIPELINE = `pipeline shared {
  seed 1
  params { n = 3 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: true)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
  stage preview = head(parts, n: params.n)
  stage other = sample(raw, n: 4)
}
`;

describe("several processes, one cache", () => {
  it("concurrent runs of overlapping pipelines all succeed, agree on keys, and leave an intact cache", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
    const runs = await Promise.all([
      cliAsync(["run", "p.rnnp", "--json"], dir),
      cliAsync(["run", "p.rnnp", "--json"], dir),
      cliAsync(["run", "p.rnnp", "--json"], dir),
      cliAsync(["run", "p.rnnp", "--json", "-P", "n=2"], dir),
      cliAsync(["run", "p.rnnp", "--json", "-P", "n=1"], dir),
    ]);
    const keys = new Map<string, Set<string>>();
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      for (const s of JSON.parse(r.stdout).stages as {
        name: string;
        key: string;
        status: string;
      }[]) {
        assert.ok(s.status === "ran" || s.status === "cached");
        if (s.name !== "preview") keys.set(s.name, (keys.get(s.name) ?? new Set()).add(s.key));
      }
    }
    for (const [name, ks] of keys) assert.equal(ks.size, 1, `${name} has one key in every process`);
    assert.equal(cli(["cache", "verify"], dir).code, 0);
    const records = JSON.parse(cli(["cache", "ls", "--json"], dir).stdout).records as unknown[];
    assert.equal(records.length, 4 + 3, "raw, low, parts, other, and preview for n = 3, 2, 1");
    const after = JSON.parse(cli(["run", "p.rnnp", "--json"], dir).stdout).stages as {
      status: string;
    }[];
    assert.ok(after.every((s) => s.status === "cached"));
  });

  it("a run killed with SIGKILL mid-stage leaves no half entry; the next run finishes the work", async () => {
    const dir = tempDir();
    // A CSV large enough that loading it takes a while.
    const rows = Array.from({ length: 400_000 }, (_, i) => `name${i},${i % 2 ? "a" : "b"},${i}`);
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
    const run = cliAsync(["run", "k.rnnp"], dir);
    await new Promise<void>((res) => {
      run.child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("small")) setTimeout(res, 150);
      });
    });
    run.child.kill("SIGKILL");
    const killed = await run;
    assert.equal(killed.code, -1, "killed");
    assert.doesNotMatch(killed.stdout, /big/, "the big stage had not finished");
    const records = JSON.parse(cli(["cache", "ls", "--json"], dir).stdout).records as {
      stage: string;
    }[];
    assert.deepEqual(
      records.map((r) => r.stage),
      ["small"],
    );
    assert.equal(cli(["cache", "verify"], dir).code, 0);
    const again = JSON.parse(cli(["run", "k.rnnp", "--json"], dir).stdout).stages as {
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
