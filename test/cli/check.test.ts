import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { open } from "lmdb";
import { editDistance } from "../../src/evaluation/metrics.js";
import { kinds } from "../../src/kinds/registry.js";
import { ROOT } from "../helpers.js";
import { allKindsProject, GOLDEN, goldenOf, NAMES, readGolden } from "../fixtures/all-kinds.js";
import { type CliResult, missingTool, Rig } from "../rig.js";

describe("rnnp check", { skip: missingTool("espeak-ng") ?? false }, () => {
  const rig = allKindsProject();
  let built: CliResult;
  before(async () => {
    built = await rig.rnnp(["run", "all.rnnp", "--json"]);
  });

  it("the test pipeline uses every stage kind rnnp ships", async () => {
    assert.equal(built.code, 0, built.stderr);
    const used = new Set(
      (JSON.parse(built.stdout) as { stages: { kind: string }[] }).stages.map((s) => s.kind),
    );
    assert.deepEqual(
      [...kinds.keys()].filter((k) => !used.has(k)),
      [],
    );
    // TF.js's own chatter (tfjs-node advice, unsaveable keyword arguments) is not news to the user.
    assert.doesNotMatch(built.stderr, /tfjs-node|non-serializable|={10}/);
  });

  it("every kind makes the bytes recorded for its version (test/fixtures/all-kinds.golden.json)", async () => {
    assert.equal(built.code, 0, built.stderr);
    const made = await goldenOf(rig, built.stdout);
    const recorded = readGolden();
    assert.deepEqual(Object.keys(made), Object.keys(recorded), `the stages of ${GOLDEN}`);
    for (const [stage, now] of Object.entries(made)) {
      const then = recorded[stage]!;
      if (now.kind !== then.kind || now.version !== then.version)
        assert.fail(
          `${stage}: ${now.kind} v${now.version}, the golden file has ${then.kind} v${then.version}: ` +
            "regenerate it (node --import tsx test/fixtures/all-kinds.ts)",
        );
      assert.deepEqual(
        now.outputs,
        then.outputs,
        `${stage} (${now.kind} v${now.version}) makes other bytes than its version did: a change ` +
          "of bytes must bump the kind's version (then regenerate the golden file)",
      );
    }
  });

  it("every kind's records travel: a bundle of them imports into an empty cache", async () => {
    // An import checks each output's bytes against its record's description (type, summary), so
    // a description that does not survive encoding (export's files once) is refused there.
    assert.equal(built.code, 0, built.stderr);
    const exported = await rig.rnnp(["cache", "export", "-o", "all.tar"]);
    assert.equal(exported.code, 0, exported.stderr);
    const records = Number(/(\d+) records/.exec(exported.stdout)?.[1]);
    assert.ok(records >= Object.keys(readGolden()).length, exported.stdout);
    const imported = await rig.rnnp(["cache", "import", "all.tar", "--cache", rig.path("fresh")]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`added ${records} records`));
  });

  it("predict decodes with an encoder-decoder as evaluate does (same beam, same error rate)", async () => {
    const rate = async (beam: number) => {
      const r = await rig.rnnp([
        "predict",
        "all.rnnp",
        "--stage",
        "s2sfit",
        ...NAMES.flatMap((w) => ["-i", w]),
        "--beam",
        String(beam),
        "--json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const results = (JSON.parse(r.stdout) as { results: { input: string; output: string }[] })
        .results;
      assert.deepEqual(
        results.map((x) => x.input),
        NAMES,
      );
      // One epoch teaches little, but decoding never emits padding or <bos>.
      assert.ok(
        results.every((x) => !/[<>]/.test(x.output)),
        JSON.stringify(results),
      );
      return (
        results.reduce(
          (a, { input, output }) => a + editDistance([...output], [...input].reverse()),
          0,
        ) / NAMES.join("").length
      );
    };
    const reported = async (stage: string) =>
      (
        JSON.parse((await rig.rnnp(["show", stage, "all.rnnp", "--json"])).stdout) as {
          outputs: { out: { report: { metrics: { tokenErrorRate: number } } } };
        }
      ).outputs.out.report.metrics.tokenErrorRate;
    // s2sgreedy and s2sreport decoded the same words with beams 1 and 3 against their reversals.
    assert.notEqual(
      await reported("s2sgreedy"),
      await reported("s2sreport"),
      "the two beams should decode differently here",
    );
    assert.equal(await rate(1), await reported("s2sgreedy"));
    assert.equal(await rate(3), await reported("s2sreport"));
    assert.match(
      (await rig.rnnp(["predict", "all.rnnp", "--stage", "s2sfit", "-i", "anna"])).stdout,
      /^anna {2}[a-z]*\n$/,
    );
    assert.equal(
      (await rig.rnnp(["predict", "all.rnnp", "--stage", "fit", "-i", "anna", "--beam", "2"])).code,
      2,
      "--beam is for encoder-decoders",
    );
  });

  it("every stage kind rebuilds bit-identical in fresh processes, and the cache remembers it", async () => {
    const r = await rig.rnnp(["check", "all.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as {
      deterministic: boolean;
      stages: { stage: string; identical: boolean }[];
    };
    assert.equal(report.deterministic, true);
    const names = (JSON.parse(built.stdout) as { stages: { name: string }[] }).stages.map(
      (s) => s.name,
    );
    assert.deepEqual(
      report.stages.map((s) => [s.stage, s.identical]),
      names.map((n) => [n, true]),
    );
    const ls = (
      JSON.parse((await rig.rnnp(["cache", "ls", "--json"])).stdout) as {
        records: {
          stage: string;
          checked: { identical: boolean; runs: number; differing: string[] } | null;
        }[];
      }
    ).records;
    assert.deepEqual(
      ls.map((x) => [x.stage, x.checked?.identical, x.checked?.runs, x.checked?.differing]).sort(),
      names.map((n) => [n, true, 1, []]).sort(),
    );
    assert.match((await rig.rnnp(["cache", "ls"])).stdout, /identical \(1\)/);
  });

  it("--runs and --stage; --threads varies the fused kernels' threads, and is explained where nothing has threads", async () => {
    // Both train on the fused kernels (fit's GRU with recurrent dropout). Two thread counts other
    // than the default (the previous test rebuilt every stage with it; the kernels' own tests
    // compare 1, 2 and 3 threads): each process is a training, and 2 runs x 2 counts show both
    // multiply.
    const r = await rig.rnnp([
      "check",
      "all.rnnp",
      "--stage",
      "fit,s2sfit",
      "--runs",
      "2",
      "--threads",
      "1,3",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /✔ fit {5}bit-identical \(4 fresh processes, against the cache and the lockfile\)/,
    );
    assert.match(
      r.stdout,
      /✔ s2sfit {2}bit-identical \(4 fresh processes, against the cache and the lockfile\)/,
    );
    const cells = await rig.rnnp([
      "check",
      "all.rnnp",
      "--stage",
      "net",
      "--threads",
      "1,2",
      "--kernels",
      "tfjs",
    ]);
    assert.match(cells.stderr, /runs single-threaded in Node\.js and the fused kernels are off/);
  });

  it("bytes that differ are located, and the exit code is 104", async () => {
    // Make the cache claim `report` produced other bytes: point its record at another (valid) report.
    const key = (
      JSON.parse(built.stdout) as { stages: { name: string; key: string }[] }
    ).stages.find((s) => s.name === "report")!.key;
    const env = open({ path: rig.path("cache"), maxDbs: 12 });
    const records = env.openDB({ name: "records", encoding: "json" });
    const blobs = env.openDB({ name: "blobs", encoding: "binary" });
    // As an older rnnp's record (not sealed: a changed sealed record is refused as damaged).
    const record = records.get(key) as { outputs: { out: { digest: string } }; seal?: string };
    delete record.seal;
    // A genuine report with one metric changed, stored under its own digest.
    const { decode, encode } = await import("../../src/core/codec.js");
    const { digestOf } = await import("../../src/core/digest.js");
    const value = decode(blobs.get(record.outputs.out.digest) as Buffer) as {
      metrics: Record<string, number>;
    };
    value.metrics.accuracy = value.metrics.accuracy! + 0.25;
    const bytes = encode(value as never);
    const digest = digestOf(bytes);
    await blobs.put(digest, bytes);
    record.outputs.out.digest = digest;
    await records.put(key, record);
    await env.close();
    const r = await rig.rnnp(["check", "all.rnnp", "--stage", "report"]);
    assert.equal(r.code, 104, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /✖ report {2}not deterministic\n {4}report\.out \(run 1\): [0-9a-f]{12} instead of the cache's [0-9a-f]{12}; first difference at \$\.metrics\.accuracy: /,
    );
    assert.match((await rig.rnnp(["cache", "ls"])).stdout, /differs: out/);
  });
});

describe("rnnp check on the example pipelines", () => {
  it("weather.rnnp rebuilds bit-identical (names.rnnp is checked the same way; it takes a minute)", async () => {
    const rig = new Rig();
    const cache = rig.path("cache");
    const file = join(ROOT, "pipelines", "weather.rnnp");
    assert.equal((await rig.rnnp(["run", file, "--cache", cache, "--no-lock"])).code, 0);
    const r = await rig.rnnp(["check", file, "--cache", cache, "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { deterministic: boolean }).deterministic, true);
  });
});
