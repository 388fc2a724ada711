import assert from "node:assert/strict";
import { cpSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers.js";
import { missingTool, Rig } from "../rig.js";

/**
 * Smoke runs of every example pipeline, small enough for CI (params overridden with -P): a fresh
 * process runs it end to end from an empty cache, the metric is computed, a rerun is fully cached.
 * Full-size runs and their results are in the README. That fresh processes make identical bytes is
 * `rnnp check`'s to prove, for every stage kind (test/cli/check.test.ts): running each pipeline a
 * second time here doubled the suite's most expensive file for no kind it does not already cover.
 */
const SMOKE: Record<string, { params: string[]; show: string; metric: RegExp }> = {
  "weather.rnnp": { params: [], show: "preview", metric: /table, 5 rows/ },
  "names.rnnp": { params: ["epochs=1", "units=4"], show: "report", metric: /accuracy +0\.\d+/ },
  "stocks.rnnp": {
    params: ["epochs=1"],
    show: "report@units=32+lr=0.003",
    metric: /naive +[\d.]+ .*the last observed value[\s\S]*its strongest baseline/,
  },
  "nextday.rnnp": {
    params: ["epochs=2", "units=4"],
    show: "report",
    metric: /persistence +[\d.]+ .*tomorrow = today[\s\S]*its strongest baseline/,
  },
  "co2.rnnp": {
    params: ["epochs=2", "units=4"],
    show: "report",
    metric: /seasonal +[\d.]+ [\s\S]*h12 \(\+1 year\)/,
  },
  "spam.rnnp": {
    params: ["limit=300", "epochs=1", "maxLen=40", "units=4"],
    show: "report",
    metric: /accuracy +0\.\d+/,
  },
  "digits.rnnp": {
    params: [
      'seen=["en-us", "en-gb-x-rp+m2"]',
      'others=["en-gb"]',
      'accents=["fr"]',
      "speeds=[150, 210]",
      "pitches=[45, 60]",
      "epochs=2",
      "units=4",
    ],
    show: "report",
    metric: /portability[\s\S]*inDomain +10 [\s\S]*otherAccents +40 /,
  },
  "transfer.rnnp": {
    params: ["epochs=1", "tuneEpochs=1"],
    show: "tunedReport",
    metric: /portability[\s\S]*inDomain +\d+ [\s\S]*short +\d+ /,
  },
  // -P pins the swept length: its 50- and 100-step variants (two thirds of the stages, most of the
  // time) are the same stages on longer sequences; stocks.rnnp's smoke runs a sweep.
  "longrange.rnnp": {
    params: ["train=64", "epochs=1", "units=4", "length=20"],
    show: "report_add_lstm",
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
const statuses = (stdout: string) => stages(stdout).map((s) => [s.name, s.status]);

/**
 * A copy of the example pipelines in a temporary project, so that nothing a run writes (caches,
 * locks, names.rnnp's export to ../exports/names) lands in the working tree. Its node_modules is
 * the repository's, through which the pipelines' `npm:` data paths resolve.
 */
function examples(): Rig {
  const rig = new Rig();
  cpSync(join(ROOT, "pipelines"), rig.path("pipelines"), {
    recursive: true,
    filter: (f) => !f.endsWith(".lock"),
  });
  symlinkSync(join(ROOT, "node_modules"), rig.path("node_modules"), "dir");
  return rig;
}

describe("example pipelines (smoke runs)", () => {
  for (const [file, smoke] of Object.entries(SMOKE)) {
    it(file, {
      skip: file === "digits.rnnp" ? (missingTool("espeak-ng") ?? false) : false,
    }, async () => {
      const rig = examples();
      const path = join("pipelines", file);
      const params = smoke.params.flatMap((p) => ["-P", p]);
      const args = (cache: string) => [
        "run",
        path,
        "--json",
        "--no-lock",
        "--cache",
        cache,
        ...params,
      ];
      // A fresh process with no cache: the smoke run end to end, as a user starts it.
      const a = await rig.spawn(args("a"));
      assert.equal(a.code, 0, a.stderr);
      // The plan's stages, asked after the run: its files' digests are in the cache's stat
      // cache then, not read again here (spam's 6,000 e-mails).
      const planned = await rig.rnnp(["status", path, "--json", "--cache", "a", ...params]);
      assert.equal(planned.code, 0, planned.stderr);
      const names = stages(planned.stdout).map((s) => s.name);
      assert.deepEqual(
        statuses(a.stdout),
        names.map((n) => [n, "ran"]),
      );
      const again = await rig.rnnp(args("a"));
      assert.deepEqual(
        statuses(again.stdout),
        names.map((n) => [n, "cached"]),
        "the rerun is fully cached",
      );
      const shown = await rig.rnnp(["show", smoke.show, path, "--cache", "a", ...params]);
      assert.match(shown.stdout, smoke.metric);
    });
  }
});

describe("synth.speech", { skip: missingTool("espeak-ng") ?? false }, () => {
  it("fails with espeak-ng's own words when a voice does not exist, and caches nothing", async () => {
    const rig = new Rig().write({
      "bad.rnnp":
        'pipeline bad {\n  stage speech = synth.speech(voices: ["en-us", "xx-nope"], words: ["one", "two"])\n}\n',
    });
    const r = await rig.rnnp(["run", "bad.rnnp", "--cache", "cache"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /stage `speech` \(synth\.speech\): espeak-ng -v xx-nope failed: .*voice does not exist/,
    );
    assert.match(r.stderr, /bad\.rnnp:2:9/);
    assert.doesNotMatch(
      (await rig.rnnp(["cache", "ls", "--cache", "cache"])).stdout,
      /synth\.speech/,
    );
  });
});
