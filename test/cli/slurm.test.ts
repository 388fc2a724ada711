import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { Rig } from "../rig.js";
import { missingSlurm, startSlurm, type Slurm } from "../fixtures/slurm.js";
import { SWEEP, stageRows, sweepProject } from "../fixtures/sweep-project.js";

/** A sweep of two trainings: one sbatch job each. */
const UNITS = SWEEP(1, "sweep {units: [4, 8]}");

describe("Slurm: a real single-node cluster (slurmctld, slurmd, munged)", {
  skip: missingSlurm() ?? false,
}, () => {
  let slurm: Slurm;
  before(async () => {
    slurm = await startSlurm();
  });
  after(async () => {
    await slurm?.stop();
  });
  const squeue = () =>
    spawnSync("squeue", ["-h", "-o", "%i|%T|%j"], {
      encoding: "utf8",
      env: { ...process.env, ...slurm.env },
    })
      .stdout.trim()
      .split("\n")
      .filter(Boolean);
  const scontrol = (id: string) =>
    spawnSync("scontrol", ["show", "job", "-o", id], {
      encoding: "utf8",
      env: { ...process.env, ...slurm.env },
    }).stdout;

  it("a sweep as sbatch jobs gives the keys and lock of a local run", async () => {
    const here = sweepProject(UNITS);
    const there = sweepProject(UNITS);
    // Both in this process (the rig): the jobs, run by slurmd, are the real processes here.
    const [local, dist] = await Promise.all([
      here.rnnp(["run", "s.rnnp", "--json"]),
      there.rnnp(["run", "s.rnnp", "--json", "--executor", "slurm"], { env: slurm.env }),
    ]);
    assert.equal(local.code, 0, local.stderr);
    assert.equal(dist.code, 0, dist.stderr);
    const b = stageRows(dist.stdout);
    assert.equal(b.length, 10);
    assert.deepEqual(
      b.map((s) => s.status),
      b.map(() => "ran"),
    );
    assert.deepEqual(
      b.map((s) => [s.name, s.key]),
      stageRows(local.stdout).map((s) => [s.name, s.key]),
    );
    assert.equal(there.read("s.lock"), here.read("s.lock"));
    assert.match(dist.stderr, /\[fit@units=8\] submitted as Slurm job \d+/);
    const verify = await there.rnnp(["cache", "verify"]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  it("a job that fails shows its Slurm log with the stage's error", async () => {
    const rig = new Rig().write({
      "d.csv": "name,label\nann,f\nbob,m\n",
      "s.rnnp": `pipeline bad {\n  stage raw = load.csv(path: "d.csv", text: "name", label: "lable")\n}\n`,
    });
    const r = await rig.rnnp(["run", "s.rnnp", "--executor", "slurm"], { env: slurm.env });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Slurm job \d+ \(FAILED, exit 1\), log \S+\.log:\n[\s\S]*no column "lable"/,
    );
  });

  it("sbatch's refusal (an unknown partition) is a clear error", async () => {
    const r = await sweepProject(UNITS).rnnp(
      ["run", "s.rnnp", "--executor", "slurm", "--partition", "nosuch"],
      {
        env: slurm.env,
      },
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error\[slurm\]: sbatch refused the job for `raw`: .*invalid partition/i,
    );
  });

  it("resources per kind reach sbatch, and Ctrl-C scancels what is submitted", async () => {
    const rig = sweepProject(SWEEP(400, "")).write({
      "rnnp.config.json": JSON.stringify({
        slurm: {
          resources: { train: { cpus: 1, mem: "300M", time: "10:00" }, "*": { time: "5:00" } },
        },
      }),
    });
    // What comes before the training, built here (the cache is the coordinator's): fit is the
    // first job submitted.
    const before = await rig.rnnp(["run", "s.rnnp", "--stage", "net"]);
    assert.equal(before.code, 0, before.stderr);
    const run = rig.spawn(["run", "s.rnnp", "--executor", "slurm"], { env: slurm.env });
    let fit: string | undefined;
    for (let i = 0; i < 480 && !fit; i++) {
      fit = squeue().find((l) => l.endsWith("|rnnp:fit") && l.includes("|RUNNING|"));
      if (!fit) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(fit, `the training job never ran: ${run.child.exitCode}`);
    const id = fit.split("|")[0]!;
    const shown = scontrol(id);
    assert.match(shown, /TimeLimit=00:10:00/);
    assert.match(shown, /MinMemoryNode=300M/);
    assert.match(shown, /NumCPUs=1 /);
    run.child.kill("SIGINT");
    const r = await run;
    assert.equal(r.code, 130);
    // A cancelled job passes through COMPLETING while slurmd cleans up, which on a busy machine
    // took more than 5 s (seen under load 10): wait up to 30 s for the final state.
    for (let i = 0; i < 300 && !/JobState=CANCELLED/.test(scontrol(id)); i++)
      await new Promise((res) => setTimeout(res, 100));
    assert.match(scontrol(id), /JobState=CANCELLED/);
    assert.deepEqual(squeue(), []);
  });
});
