import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { editDistance } from "../../src/evaluation/metrics.js";
import { kinds } from "../../src/kinds/registry.js";
import { cli, ROOT, tempDir, writeFiles } from "../helpers.js";
import { missingTool } from "../rig.js";

/** A pipeline that uses every stage kind rnnp ships, on small data. */
const ALL_KINDS = `pipeline allkinds {
  seed 4
  backend "cpu"

  stage csv = load.csv(path: "names.csv", text: "name", label: "label")
  stage jsonl = load.jsonl(path: "series.jsonl")
  stage lines = load.text(path: "lines.txt")
  stage some = sample(csv, n: 48)
  stage cleaned = clean(some, lowercase: true)
  stage parts = split(cleaned, train: 0.5, val: 0.25, test: 0.25, stratify: true)
  stage first = head(lines, n: 2)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage buckets = bucket(seqs, batchSize: 8)
  stage windows = window(jsonl, length: 4, features: ["v"])
  stage net = model(buckets.train) {
    embedding(dim: 4, mask: true)
    gru(units: 4, recurrentDropout: 0.2)
    dropout(rate: 0.3)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, buckets.train, validation: buckets.val, epochs: 2)
  stage report = evaluate(fit, buckets.test)
  stage exported = export(fit, dir: "out")

  stage spoken = synth.speech(words: ["yes", "no"], voices: ["en-us", "en-gb"])
  stage recorded = load.audio(path: "wavs")
  stage sounds = features(spoken, coefficients: 8, mels: 16, groups: "voice")
  stage heard = features(recorded, type: "logmel", mels: 16)

  stage dict = load.text(path: "pairs.txt", separator: " ", columns: ["word", "reversed"])
  stage letters = vocabulary(dict, level: "char")
  stage backwards = vocabulary(dict, level: "char", column: "reversed", bos: true, eos: true)
  stage pairs = encode(dict, letters, targetVocab: backwards, target: "reversed", aligned: false)
  stage s2s = seq2seq(pairs) {
    encoder {
      embedding(dim: 4)
      gru(units: 4)
    }
    decoder {
      embedding(dim: 4)
      gru(units: 4)
    }
  }
  stage s2sfit = train(s2s, pairs, epochs: 1, batchSize: 8)
  stage s2sreport = evaluate(s2sfit, pairs, beam: 3)
  stage s2sgreedy = evaluate(s2sfit, pairs)
}
`;

const NAMES = [
  "anna",
  "bob",
  "carla",
  "dave",
  "emma",
  "frank",
  "gina",
  "hugo",
  "iris",
  "jack",
  "kate",
  "liam",
];

function project(): string {
  const dir = tempDir();
  const names = NAMES;
  const rows = Array.from({ length: 72 }, (_, i) => `${names[i % 12]}${i},${i % 2 ? "m" : "f"}`);
  writeFiles(dir, {
    "names.csv": `name,label\n${rows.join("\n")}\n`,
    "series.jsonl":
      Array.from({ length: 30 }, (_, i) =>
        JSON.stringify({ t: i, v: Math.round(Math.sin(i) * 1000) / 1000 }),
      ).join("\n") + "\n",
    "lines.txt": "first line\nsecond line\nthird line\n",
    "pairs.txt": names.map((n) => `${n} ${[...n].reverse().join("")}`).join("\n") + "\n",
    "all.rnnp": ALL_KINDS,
  });
  // Two short WAV clips, made by espeak-ng (installed by .ci/run), in labelled folders.
  for (const [label, word] of [
    ["a", "alpha"],
    ["b", "bravo"],
  ] as const) {
    mkdirSync(join(dir, "wavs", label), { recursive: true });
    const r = spawnSync("espeak-ng", ["-w", join(dir, "wavs", label, "clip.wav"), word]);
    assert.equal(
      r.status,
      0,
      "espeak-ng is needed for the audio stages (apt-get install espeak-ng)",
    );
  }
  return dir;
}

describe("rnnp check", { skip: missingTool("espeak-ng") ?? false }, () => {
  const dir = project();
  const built = cli(["run", "all.rnnp", "--json"], dir);

  it("the test pipeline uses every stage kind rnnp ships", () => {
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

  it("predict decodes with an encoder-decoder as evaluate does (same beam, same error rate)", () => {
    const rate = (beam: number) => {
      const r = cli(
        [
          "predict",
          "all.rnnp",
          "--stage",
          "s2sfit",
          ...NAMES.flatMap((w) => ["-i", w]),
          "--beam",
          String(beam),
          "--json",
        ],
        dir,
      );
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
    const reported = (stage: string) =>
      (
        JSON.parse(cli(["show", stage, "all.rnnp", "--json"], dir).stdout) as {
          outputs: { out: { report: { metrics: { tokenErrorRate: number } } } };
        }
      ).outputs.out.report.metrics.tokenErrorRate;
    // s2sgreedy and s2sreport decoded the same words with beams 1 and 3 against their reversals.
    assert.notEqual(
      reported("s2sgreedy"),
      reported("s2sreport"),
      "the two beams should decode differently here",
    );
    assert.equal(rate(1), reported("s2sgreedy"));
    assert.equal(rate(3), reported("s2sreport"));
    assert.match(
      cli(["predict", "all.rnnp", "--stage", "s2sfit", "-i", "anna"], dir).stdout,
      /^anna {2}[a-z]*\n$/,
    );
    assert.equal(
      cli(["predict", "all.rnnp", "--stage", "fit", "-i", "anna", "--beam", "2"], dir).code,
      2,
      "--beam is for encoder-decoders",
    );
  });

  it("every stage kind rebuilds bit-identical in fresh processes, and the cache remembers it", () => {
    const r = cli(["check", "all.rnnp", "--json"], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as {
      deterministic: boolean;
      stages: { stage: string; identical: boolean }[];
    };
    assert.equal(report.deterministic, true);
    assert.equal(
      report.stages.length,
      (JSON.parse(built.stdout) as { stages: unknown[] }).stages.length,
    );
    const ls = (
      JSON.parse(cli(["cache", "ls", "--json"], dir).stdout) as {
        records: { stage: string; checked: { identical: boolean; runs: number } | null }[];
      }
    ).records;
    assert.ok(ls.every((x) => x.checked?.identical === true && x.checked.runs === 1));
    assert.match(cli(["cache", "ls"], dir).stdout, /identical \(1\)/);
  });

  it("--runs and --stage; --threads varies the fused kernels' threads, and is explained where nothing has threads", () => {
    // Both train on the fused kernels (fit's GRU with recurrent dropout).
    const r = cli(
      ["check", "all.rnnp", "--stage", "fit,s2sfit", "--runs", "2", "--threads", "1,2,3"],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /✔ fit {5}bit-identical \(6 fresh processes, against the cache and the lockfile\)/,
    );
    assert.match(
      r.stdout,
      /✔ s2sfit {2}bit-identical \(6 fresh processes, against the cache and the lockfile\)/,
    );
    const cells = cli(
      ["check", "all.rnnp", "--stage", "net", "--threads", "1,2", "--kernels", "tfjs"],
      dir,
    );
    assert.match(cells.stderr, /runs single-threaded in Node\.js and the fused kernels are off/);
  });

  it("bytes that differ are located, and the exit code is 104", async () => {
    // Make the cache claim `report` produced other bytes: point its record at another (valid) report.
    const key = (
      JSON.parse(built.stdout) as { stages: { name: string; key: string }[] }
    ).stages.find((s) => s.name === "report")!.key;
    const env = open({ path: join(dir, "cache"), maxDbs: 12 });
    const records = env.openDB({ name: "records", encoding: "json" });
    const blobs = env.openDB({ name: "blobs", encoding: "binary" });
    const record = records.get(key) as { outputs: { out: { digest: string } } };
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
    const r = cli(["check", "all.rnnp", "--stage", "report"], dir);
    assert.equal(r.code, 104, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /✖ report {2}not deterministic\n {4}report\.out \(run 1\): [0-9a-f]{12} instead of the cache's [0-9a-f]{12}; first difference at \$\.metrics\.accuracy: /,
    );
    assert.match(cli(["cache", "ls"], dir).stdout, /differs: out/);
  });
});

describe("rnnp check on the example pipelines", () => {
  it("weather.rnnp rebuilds bit-identical (names.rnnp is checked the same way; it takes a minute)", () => {
    const dir = tempDir();
    const cache = join(dir, "cache");
    const file = join(ROOT, "pipelines", "weather.rnnp");
    assert.equal(cli(["run", file, "--cache", cache, "--no-lock"], dir).code, 0);
    const r = cli(["check", file, "--cache", cache, "--json"], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { deterministic: boolean }).deterministic, true);
  });
});
