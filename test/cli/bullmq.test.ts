import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, before, beforeEach, describe, it } from "node:test";
import { BIN, cleanEnv } from "../helpers.js";
import { missingTool, Rig } from "../rig.js";
import { nginxBinary, removeNginxRoot, startNginx, type Nginx } from "../fixtures/nginx.js";
import { startRedis, type RedisServer } from "../fixtures/redis.js";
import { PREP, SWEEP, stageRows, sweepProject } from "../fixtures/sweep-project.js";
import { NODE_FLAGS } from "../../src/core/node-flags.js";

/** An `rnnp worker` process in its own process group (so a SIGKILL takes its job's process too). */
class WorkerProcess {
  readonly child: ChildProcess;
  log = "";
  readonly exited: Promise<number | null>;
  /** Waits on the log, checked as each piece of it arrives (so a kill lands at once). */
  private readonly waiting = new Set<() => void>();
  constructor(args: string[], cwd: string) {
    this.child = spawn(process.execPath, [...NODE_FLAGS, BIN, "worker", ...args], {
      cwd,
      env: cleanEnv({ NO_COLOR: "1" }),
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child.stderr!.on("data", (d) => {
      this.log += d;
      for (const check of this.waiting) check();
    });
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)));
  }
  waitFor(re: RegExp, ms = 120_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(check);
      };
      const check = () => {
        if (!re.test(this.log)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`worker never printed ${re}:\n${this.log}`));
      }, ms);
      this.waiting.add(check);
      check();
    });
  }
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {}
  }
}

const skip = nginxBinary() ? missingTool("redis-server") : missingTool("nginx", "-v");

describe("BullMQ on a real Redis, workers sharing a real nginx remote cache", {
  skip: skip ?? false,
}, () => {
  let redis: RedisServer;
  let nginx: Nginx;
  const workers: WorkerProcess[] = [];
  const worker = (rig: Rig, name: string, extra: string[] = []) => {
    const w = new WorkerProcess(
      ["--queue", redis.url, "--remote", nginx.url, "--cache", rig.path(`cache-${name}`), ...extra],
      rig.dir,
    );
    workers.push(w);
    return w;
  };
  before(async () => {
    [redis, nginx] = await Promise.all([startRedis(), startNginx()]);
  });
  // A test that failed half-way leaves its workers: they must not take the next test's jobs.
  beforeEach(() => {
    for (const w of workers) w.kill("SIGKILL");
  });
  after(async () => {
    for (const w of workers) w.kill("SIGKILL");
    await redis.remove();
    await nginx.stop();
    removeNginxRoot(nginx);
  });
  // The coordinator runs in this process (the rig): the workers, real processes, are the point.
  const distributed = (rig: Rig, extra: string[] = []) =>
    rig.rnnp([
      "run",
      "s.rnnp",
      "--json",
      "--executor",
      "bullmq",
      "--queue",
      redis.url,
      "--remote",
      nginx.url,
      ...extra,
    ]);

  it("a sweep on 2 workers gives the keys, bytes and lock of a local --jobs 1 run", async () => {
    // Two trainings side by side (variants named by two parameters), 10 stages.
    const sweep = SWEEP(1, "sweep {units: [4, 8], lr: [0.03]}");
    const here = sweepProject(sweep);
    const there = sweepProject(sweep);
    const [w1, w2] = [worker(there, "1"), worker(there, "2")];
    await Promise.all([w1.waitFor(/taking jobs/), w2.waitFor(/taking jobs/)]);
    const [local, dist] = await Promise.all([
      here.rnnp(["run", "s.rnnp", "--json"]),
      distributed(there),
    ]);
    assert.equal(local.code, 0, local.stderr);
    assert.equal(dist.code, 0, dist.stderr);
    const a = stageRows(local.stdout);
    const b = stageRows(dist.stdout);
    assert.equal(b.length, 10);
    assert.deepEqual(
      b.map((s) => s.status),
      b.map(() => "ran"),
    );
    assert.deepEqual(
      b.map((s) => [s.name, s.key]),
      a.map((s) => [s.name, s.key]),
    );
    // The lock records keys and output digests: identical.
    assert.equal(there.read("s.lock"), here.read("s.lock"));
    // Both workers took jobs: the sweep was spread.
    assert.match(w1.log, /✔ /);
    assert.match(w2.log, /✔ /);
    const verify = await there.rnnp(["cache", "verify", "--json"]);
    assert.equal(verify.code, 0, verify.stderr);
    // Everything is cached now: nothing is queued.
    const again = await distributed(there);
    assert.deepEqual(
      stageRows(again.stdout).map((s) => s.status),
      b.map(() => "cached"),
    );
    w1.kill();
    w2.kill();
  });

  it("a worker killed (SIGKILL) mid-training loses its job to another; the cache verifies clean", async () => {
    const rig = sweepProject(
      SWEEP(12)
        .replace("seed 3", "seed 5")
        .replace("sweep {units: [4, 8], lr: [0.01, 0.03]}", "sweep {units: [6]}"),
    );
    // What comes before the training, built here and pushed: the doomed worker's first job is fit.
    const before = await rig.rnnp([
      "run",
      "s.rnnp",
      "--stage",
      "net@units=6",
      "--remote",
      nginx.url,
      "--remote-write",
    ]);
    assert.equal(before.code, 0, before.stderr);
    const doomed = worker(rig, "doomed", ["--lease", "3"]);
    await doomed.waitFor(/taking jobs/);
    const run = distributed(rig);
    // Killed the moment its log shows epoch 1 of 12 done: mid-training, 11 epochs before the end.
    await doomed.waitFor(/\[fit@units=6\] epoch 1\/12 /);
    doomed.kill("SIGKILL");
    await doomed.exited;
    const rescuer = worker(rig, "rescuer", ["--lease", "3"]);
    const r = await run;
    assert.equal(r.code, 0, `${r.stderr}\n${rescuer.log}`);
    assert.deepEqual(
      stageRows(r.stdout).map((s) => [s.name, s.status]),
      [
        ...["raw", "parts", "vocab", "seqs", "net@units=6"].map((name) => [name, "cached"]),
        ["fit@units=6", "ran"],
        ["report@units=6", "ran"],
      ],
    );
    assert.doesNotMatch(doomed.log, /✔ fit/);
    assert.match(rescuer.log, /→ fit@units=6/);
    assert.match(rescuer.log, /✔ fit@units=6/);
    for (const cache of ["cache", "cache-rescuer", "cache-doomed"]) {
      const v = await rig.rnnp(["cache", "verify", "--cache", cache]);
      assert.equal(v.code, 0, `${cache}: ${v.stdout}${v.stderr}`);
    }
    rescuer.kill();
  });

  it("a stage that fails is reported once with the worker's error, not retried", async () => {
    const rig = new Rig().write({
      "d.csv": "name,label\nann,f\nbob,m\n",
      "s.rnnp": `pipeline bad {\n  stage raw = load.csv(path: "d.csv", text: "name", label: "lable")\n}\n`,
    });
    const w = worker(rig, "w");
    await w.waitFor(/taking jobs/);
    const r = await distributed(rig);
    assert.equal(r.code, 1);
    assert.deepEqual(
      stageRows(r.stdout).map((s) => s.status),
      ["failed"],
    );
    assert.match(r.stderr, /worker [^\n]+:\n[\s\S]*no column "lable"/);
    await w.waitFor(/✖ raw/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(w.log.match(/→ raw/g)?.length, 1, w.log);
    w.kill();
  });

  it("Redis unreachable at start is a clear error, not a hang", async () => {
    const rig = sweepProject();
    const started = Date.now();
    const r = await rig.rnnp([
      "run",
      "s.rnnp",
      "--executor",
      "bullmq",
      "--queue",
      "redis://127.0.0.1:1",
      "--remote",
      nginx.url,
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error\[queue\]: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: ECONNREFUSED/,
    );
    assert.match(r.stderr, /hint: start it \(redis-server\)/);
    const w = await rig.rnnp(["worker", "--queue", "redis://127.0.0.1:1", "--remote", nginx.url]);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    const none = await rig.rnnp(["run", "s.rnnp", "--executor", "bullmq", "--remote", nginx.url]);
    assert.match(none.stderr, /--executor bullmq needs a queue/);
    assert.ok(Date.now() - started < 20_000);
  });

  it("Redis stopped mid-run: the coordinator fails clearly; after a restart a rerun completes from the cache", async () => {
    // The queue is the point here, not training: the workload's data stages (4 jobs).
    const rig = sweepProject(PREP.replace("seed 3", "seed 7"));
    const w = worker(rig, "w");
    await w.waitFor(/taking jobs/);
    const run = distributed(rig);
    await w.waitFor(/✔ parts/);
    await redis.stop();
    const r = await run;
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error\[queue\]: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+/,
    );
    assert.match(r.stderr, /hint: stages that finished are cached/);
    assert.equal(await w.exited, 1, "the worker stops too (its supervisor restarts it)");
    assert.match(w.log, /lost the connection to Redis/);
    await redis.start();
    const again = worker(rig, "w");
    await again.waitFor(/taking jobs/);
    const rerun = await distributed(rig);
    assert.equal(rerun.code, 0, rerun.stderr);
    const st = stageRows(rerun.stdout);
    assert.deepEqual(
      st.map((s) => [s.name, s.status]),
      [
        ["raw", "cached"],
        ["parts", "cached"],
        ["vocab", "ran"],
        ["seqs", "ran"],
      ],
    );
    again.kill();
  });
});
