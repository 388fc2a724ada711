import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CacheStore } from "../../src/cache/store.js";
import { RNNP_VERSION } from "../../src/core/version.js";
import { Planner } from "../../src/plan/planner.js";
import { LocalExecutor } from "../../src/run/executor.js";
import { originOf, type Job, type JobExecutor } from "../../src/run/jobs.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { Runner } from "../../src/run/runner.js";
import { Rig } from "../rig.js";
import { ir, NAMES_CSV, statuses } from "../helpers.js";
import { csvParts } from "../fixtures/pipelines.js";

const PIPELINE = csvParts({ name: "j", settings: ["seed 3"] });

/** An executor that runs every job here, and keeps what it was given. */
class Recording implements JobExecutor {
  readonly name = "recording";
  readonly jobs: Job[] = [];
  constructor(readonly slots: number) {}
  run(job: Job, ctx: Parameters<JobExecutor["run"]>[1]) {
    this.jobs.push(structuredClone(job));
    return ctx.here();
  }
}

describe("the executor seam", () => {
  it("only stale stages become jobs, and a job carries references only", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "j.rnnp": PIPELINE });
    const open = () => {
      const store = CacheStore.open(rig.path("cache"));
      return { store, planner: new Planner(ir(PIPELINE, rig.path("j.rnnp")), store) };
    };
    const first = open();
    const rec = new Recording(2);
    const results = await new Runner(first.planner, new LocalExecutor()).run({ executor: rec });
    assert.deepEqual(statuses(results), { raw: "ran", low: "ran", parts: "ran" });
    assert.deepEqual(
      rec.jobs.map((j) => j.stage),
      ["raw", "low", "parts"],
    );
    const low = rec.jobs[1]!;
    assert.deepEqual(Object.keys(low).sort(), ["forced", "inputs", "key", "origin", "stage"]);
    assert.equal(low.key, results[1]!.key);
    // The input is the digest of raw's output, not its bytes.
    const rawOut = first.store.getRecord(results[0]!.key!)!.outputs.out!.digest;
    assert.deepEqual(low.inputs, { data: { out: rawOut } });
    assert.deepEqual(low.origin, { rnnp: RNNP_VERSION, runtime: low.origin.runtime });
    assert.ok(JSON.stringify(rec.jobs).length < 2000, "jobs are small: no artifact inside");
    first.store.close();

    // Everything cached: no job at all.
    const second = open();
    const again = new Recording(2);
    const cached = await new Runner(second.planner, new LocalExecutor()).run({ executor: again });
    assert.deepEqual(statuses(cached), { raw: "cached", low: "cached", parts: "cached" });
    assert.equal(again.jobs.length, 0);
    second.store.close();
  });

  it("a worker refuses a job from another rnnp version or runtime, naming both", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "j.rnnp": PIPELINE });
    const ran = await rig.rnnp(["run", "j.rnnp", "--json"]);
    assert.equal(ran.code, 0, ran.stderr);
    const raw = (JSON.parse(ran.stdout) as { stages: { key: string }[] }).stages[0]!;
    const job: Job = {
      stage: "raw",
      key: raw.key as Job["key"],
      forced: true,
      inputs: {},
      origin: { rnnp: "0.0.0-elsewhere", runtime: "wasm-simd tfjs 0.0.1" },
    };
    const r = await rig.rnnp(["run", "j.rnnp", "--job", JSON.stringify(job)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[job-refused\]/);
    assert.match(r.stderr, /rnnp 0\.0\.0-elsewhere made it; this worker is rnnp /);
    assert.ok(r.stderr.includes(`this worker is rnnp ${RNNP_VERSION}`));
    assert.match(r.stderr, /its runtime is wasm-simd tfjs 0\.0\.1; this worker's is /);
  });

  it("a worker refuses a job whose key it does not compute, and never computes the job's inputs", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "j.rnnp": PIPELINE });
    const ran = await rig.rnnp(["run", "j.rnnp", "--json", "--cache", "a"]);
    const [raw, low] = (JSON.parse(ran.stdout) as { stages: { key: string }[] }).stages;
    const origin = originOf(describeRuntime("wasm"));
    const job = (key: string, stage: string): Job => ({
      stage,
      key: key as Job["key"],
      forced: false,
      inputs: {},
      origin,
    });
    // A pipeline edited since the job was made: another key.
    rig.write({
      "j.rnnp": PIPELINE.replace("seed 3", "seed 4").replace("lowercase: true", "lowercase: false"),
    });
    const wrong = await rig.rnnp([
      "run",
      "j.rnnp",
      "--json",
      "--cache",
      "a",
      "--job",
      JSON.stringify(job(low!.key, "low")),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /this worker computes key \w+ for `low`, the job says \w+: its pipeline or data files differ/,
    );
    // A fresh cache: `low`'s input is nowhere, and the worker does not compute it.
    rig.write({ "j.rnnp": PIPELINE });
    const empty = await rig.rnnp([
      "run",
      "j.rnnp",
      "--json",
      "--cache",
      "b",
      "--job",
      JSON.stringify(job(low!.key, "low")),
    ]);
    assert.equal(empty.code, 1);
    const rows = (JSON.parse(empty.stdout) as { stages: { name: string; status: string }[] })
      .stages;
    assert.deepEqual(
      rows.map((s) => [s.name, s.status]),
      [
        ["raw", "failed"],
        ["low", "skipped"],
      ],
    );
    assert.match(
      empty.stderr,
      /stage `raw`, an input of the job `low`, is neither in this worker's cache nor in the remote cache/,
    );
    // With its inputs cached, the same job runs.
    const ok = await rig.rnnp([
      "run",
      "j.rnnp",
      "--json",
      "--cache",
      "a",
      "--job",
      JSON.stringify({ ...job(low!.key, "low"), forced: true }),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      (JSON.parse(ok.stdout) as { stages: { name: string; status: string }[] }).stages.map(
        (s) => s.status,
      ),
      ["cached", "ran"],
    );
    assert.equal(raw!.key.length, 64);
  });

  it("an unknown executor, and bad Slurm resources in rnnp.config.json, are clear errors", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "j.rnnp": PIPELINE });
    const nope = await rig.rnnp(["run", "j.rnnp", "--executor", "kubernetes"]);
    assert.equal(nope.code, 1);
    assert.match(nope.stderr, /--executor kubernetes: expected one of local, bullmq, slurm/);
    const cases: [unknown, RegExp][] = [
      [{ train: { cpus: 0 } }, /slurm\.resources\.train\.cpus: expected at least 1/],
      [{ train: { mem: 8 } }, /slurm\.resources\.train\.mem: expected a string/],
      [{ train: { mem: "lots" } }, /slurm\.resources\.train\.mem: expected a value such as "8G"/],
      [
        { "*": { gpus: 1 } },
        /unknown field `slurm\.resources\.\*\.gpus` \(expected `cpus`, `mem`, `time`\)/,
      ],
      [[1], /slurm\.resources: expected an object/],
    ];
    for (const [resources, message] of cases) {
      rig.write({ "rnnp.config.json": JSON.stringify({ slurm: { resources } }) });
      const r = await rig.rnnp(["run", "j.rnnp", "--executor", "slurm"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /rnnp\.config\.json: /);
      assert.match(r.stderr, message);
    }
  });

  it("a job runs in the process it was given to, whatever executor the project's config names", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "j.rnnp": PIPELINE });
    const ran = await rig.rnnp(["run", "j.rnnp", "--json"]);
    const raw = (JSON.parse(ran.stdout) as { stages: { key: string }[] }).stages[0]!;
    rig.write({ "rnnp.config.json": JSON.stringify({ executor: "bullmq" }) });
    const job: Job = {
      stage: "raw",
      key: raw.key as Job["key"],
      forced: true,
      inputs: {},
      origin: originOf(describeRuntime("wasm")),
    };
    const r = await rig.rnnp(["run", "j.rnnp", "--json", "--job", JSON.stringify(job)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { stages: { status: string }[] }).stages.map((s) => s.status),
      ["ran"],
    );
    // Without a job, the config's executor is used (and wants its queue).
    const coordinator = await rig.rnnp(["run", "j.rnnp"]);
    assert.match(coordinator.stderr, /--executor bullmq needs a queue/);
  });
});
