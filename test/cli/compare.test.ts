import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";
import { EVALUATE, csvClassifier } from "../fixtures/pipelines.js";

const PIPELINE = csvClassifier({
  settings: ["params { units = 4, epochs = 1 }"],
  units: "params.units",
  train: "validation: seqs.val, epochs: params.epochs",
  after: [EVALUATE],
});

interface CompareRow {
  stage: string;
  name: string;
  source: string;
  params: Record<string, unknown>;
  status: string;
  metrics: Record<string, number>;
  validation?: number;
  baseline?: string;
}

describe("compare: runs with -P beside the pipeline, and against the lock", () => {
  const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
  // The three runs, made by the first test that needs them (not when the file loads: with
  // --test-name-pattern filtering the tests out, they outlived the file and its folder).
  let runs: Promise<void> | undefined;
  const ready = () =>
    (runs ??= (async () => {
      for (const args of [[], ["-P", "units=6"], ["-P", "units=6", "-P", "epochs=2"]]) {
        const r = await rig.rnnp(["run", "p.rnnp", ...args]);
        assert.equal(r.code, 0, r.stderr);
      }
    })());
  const reportOf = async (...params: string[]) =>
    (
      JSON.parse((await rig.rnnp(["show", "report", "p.rnnp", "--json", ...params])).stdout) as {
        outputs: {
          out: { report: { metrics: Record<string, number>; verdict: { baseline: string } } };
        };
      }
    ).outputs.out.report;

  it("lists runs made with -P (found in the cache) with their params, metrics and baselines", async () => {
    await ready();
    const r = await rig.rnnp(["compare", "p.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const rows = (JSON.parse(r.stdout) as { rows: CompareRow[] }).rows;
    assert.deepEqual(
      rows.map((x) => [x.stage, x.source, x.params, x.status]),
      [
        ["report", "pipeline", {}, "built"],
        ["report", "run", { units: 6 }, "built"],
        ["report", "run", { units: 6, epochs: 2 }, "built"],
      ],
    );
    const written = await reportOf();
    const six = await reportOf("-P", "units=6");
    assert.deepEqual(rows[0]!.metrics, written.metrics);
    assert.deepEqual(rows[1]!.metrics, six.metrics);
    assert.equal(rows[1]!.baseline, six.verdict.baseline);
    assert.equal(typeof rows[1]!.validation, "number");
    const text = await rig.rnnp(["compare", "p.rnnp"]);
    assert.match(text.stdout, /^stage +run +units +epochs +val_loss/m);
    assert.match(text.stdout, /^report +-P units=6 +6 +1 /m);
    assert.match(text.stdout, /^report +-P units=6 -P epochs=2 +6 +2 /m);
    assert.match(
      text.stdout,
      /2 runs with -P, found in the cache; `rnnp cache gc p\.rnnp` removes them/,
    );
  });

  it("--against lock: metrics and params diffed with the committed lock; --exit-code; no lock is exit 2", async () => {
    await ready();
    const same = await rig.rnnp([
      "compare",
      "p.rnnp",
      "--against",
      "lock",
      "--json",
      "--exit-code",
    ]);
    assert.equal(same.code, 0, same.stderr);
    const s = JSON.parse(same.stdout) as {
      metrics: { change: number | null }[];
      params: unknown[];
      notes: unknown[];
    };
    assert.ok(s.metrics.length > 0);
    assert.deepEqual(
      s.metrics.map((m) => m.change),
      s.metrics.map(() => 0),
    );
    assert.deepEqual([s.params, s.notes], [[], []]);
    const moved = await rig.rnnp([
      "compare",
      "p.rnnp",
      "--against",
      "lock",
      "--json",
      "-P",
      "units=6",
      "--exit-code",
    ]);
    assert.equal(moved.code, 1, moved.stderr);
    const m = JSON.parse(moved.stdout) as {
      metrics: { stage: string; metric: string; lock: number; now: number; change: number }[];
      params: { stage: string; param: string; lock: unknown; now: unknown }[];
    };
    const before = await reportOf();
    const after = await reportOf("-P", "units=6");
    assert.deepEqual(
      m.metrics.map((x) => [x.stage, x.metric, x.lock, x.now, x.change]),
      Object.keys(before.metrics).map((k) => [
        "report",
        k,
        before.metrics[k],
        after.metrics[k],
        after.metrics[k]! - before.metrics[k]!,
      ]),
    );
    assert.deepEqual(m.params, [{ stage: "net", param: "layers.lstm.units", lock: 4, now: 6 }]);
    const text = await rig.rnnp(["compare", "p.rnnp", "--against", "lock", "-P", "units=6"]);
    assert.match(text.stdout, /^net +layers\.lstm\.units +4 +6$/m);
    const none = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
    const missing = await none.rnnp(["compare", "p.rnnp", "--against", "lock"]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /--against lock: p\.lock does not exist; `rnnp run p\.rnnp` writes it/,
    );
  });

  it("`rnnp cache gc FILE` removes the runs made with -P", async () => {
    await ready();
    assert.equal((await rig.rnnp(["cache", "gc", "p.rnnp"])).code, 0);
    const rows = (
      JSON.parse((await rig.rnnp(["compare", "p.rnnp", "--json"])).stdout) as { rows: CompareRow[] }
    ).rows;
    assert.deepEqual(
      rows.map((x) => x.source),
      ["pipeline"],
    );
  });
});
