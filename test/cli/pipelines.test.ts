import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cli, cliAsync, ROOT, tempDir, writeFiles } from "../helpers.js";
import { missingTool } from "../rig.js";

/**
 * Smoke runs of every example pipeline, small enough for CI (params overridden with -P): the metric is
 * computed, a rerun is fully cached, and two fresh processes with empty caches make identical bytes.
 * Full-size runs and their results are in the README.
 */
const SMOKE: Record<string, { params: string[]; show: string; metric: RegExp }> = {
  "weather.rnnp": { params: [], show: "preview", metric: /table, 5 rows/ },
  "names.rnnp": { params: ["epochs=1"], show: "report", metric: /accuracy +0\.\d+/ },
  "stocks.rnnp": {
    params: ["epochs=3"],
    show: "report[units=32,lr=0.003]",
    metric: /naive +[\d.]+ .*the last observed value[\s\S]*its strongest baseline/,
  },
  "nextday.rnnp": {
    params: ["epochs=2"],
    show: "report",
    metric: /persistence +[\d.]+ .*tomorrow = today[\s\S]*its strongest baseline/,
  },
  "co2.rnnp": {
    params: ["epochs=2"],
    show: "report",
    metric: /seasonal +[\d.]+ [\s\S]*h12 \(\+1 year\)/,
  },
  "spam.rnnp": {
    params: ["limit=300", "epochs=1", "maxLen=40"],
    show: "report",
    metric: /accuracy +0\.\d+/,
  },
  "digits.rnnp": {
    params: ["speeds=[150]", "pitches=[50]", "epochs=2"],
    show: "report",
    metric: /voice +n +accuracy/,
  },
  "longrange.rnnp": {
    params: ["train=64", "epochs=1"],
    show: "report_add_lstm[length=20]",
    metric: /rmse +[\d.]+/,
  },
  "g2p.rnnp": {
    params: ["limit=400", "epochs=1", "beam=2"],
    show: "report",
    metric: /tokenErrorRate +[\d.]+/,
  },
};

interface Stage {
  name: string;
  key: string;
  status: string;
}
const stages = (stdout: string) => (JSON.parse(stdout) as { stages: Stage[] }).stages;

describe("example pipelines (smoke runs)", () => {
  for (const [file, smoke] of Object.entries(SMOKE)) {
    it(file, {
      skip: file === "digits.rnnp" ? (missingTool("espeak-ng") ?? false) : false,
    }, async () => {
      const path = join(ROOT, "pipelines", file);
      const args = (cache: string) => [
        "run",
        path,
        "--json",
        "--no-lock",
        "--cache",
        cache,
        ...smoke.params.flatMap((p) => ["-P", p]),
      ];
      const dir = tempDir();
      const [a, b] = await Promise.all([
        cliAsync(args(join(dir, "a")), dir),
        cliAsync(args(join(dir, "b")), dir),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.ok(stages(a.stdout).every((s) => s.status === "ran" || s.status === "cached"));
      const outputs = (cache: string, run: string) =>
        stages(run).map(
          (s) =>
            (
              JSON.parse(cli(["cache", "show", s.key, "--json", "--cache", cache], dir).stdout) as {
                outputs: Record<string, { digest: string }>;
              }
            ).outputs,
        );
      assert.deepEqual(
        outputs(join(dir, "b"), b.stdout),
        outputs(join(dir, "a"), a.stdout),
        "two fresh processes, the same bytes",
      );
      const again = cli(args(join(dir, "a")), dir);
      assert.ok(
        stages(again.stdout).every((s) => s.status === "cached"),
        "the rerun is fully cached",
      );
      const shown = cli(
        [
          "show",
          smoke.show,
          path,
          "--cache",
          join(dir, "a"),
          ...smoke.params.flatMap((p) => ["-P", p]),
        ],
        dir,
      );
      assert.match(shown.stdout, smoke.metric);
    });
  }
});

describe("synth.speech", { skip: missingTool("espeak-ng") ?? false }, () => {
  it("fails with espeak-ng's own words when a voice does not exist, and caches nothing", () => {
    const dir = tempDir();
    writeFiles(dir, {
      "bad.rnnp":
        'pipeline bad {\n  stage speech = synth.speech(voices: ["en-us", "xx-nope"], words: ["one", "two"])\n}\n',
    });
    const r = cli(["run", "bad.rnnp", "--cache", "cache"], dir);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /stage `speech` \(synth\.speech\): espeak-ng -v xx-nope failed: .*voice does not exist/,
    );
    assert.match(r.stderr, /bad\.rnnp:2:9/);
    assert.doesNotMatch(cli(["cache", "ls", "--cache", "cache"], dir).stdout, /synth\.speech/);
  });
});
