import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DATA_STAGES, scaleBench, scaleTable, type ScaleResults } from "../../bench/scale.js";
import { logLogSlope } from "../../bench/scale-measure.js";
import { pipelineOf } from "../../bench/scale-shapes.js";
import { checkSource } from "../../src/lang/load.js";
import { tempDir } from "../helpers.js";
import { missingTool } from "../rig.js";

/**
 * The scale suite (`npm run bench -- --scale`) at tiny sizes, so that it cannot rot: every suite
 * runs, every curve has a point per size, and every chart is a well-formed SVG with its points.
 */

/** Tags balance and nest, and the root is <svg>: enough to know a viewer can open it. */
function assertWellFormedSvg(svg: string): void {
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const open: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(open.pop(), name, `</${name}> closes <${open.at(-1)}>`);
    else open.push(name!);
  }
  assert.deepEqual(open, [], "unclosed tags");
  assert.ok(svg.trimEnd().endsWith("</svg>"));
}

describe("bench --scale", () => {
  it("shapes: chains and fans have exactly n stages, sweeps their grid, every key its own", () => {
    for (const shape of ["chain", "fan", "sweep"] as const)
      for (const n of [2, 10, 100]) {
        const { text, stages } = pipelineOf(shape, n);
        const checked = checkSource(text, `${shape}.rnnp`);
        assert.deepEqual(checked.diagnostics, []);
        assert.equal(checked.ir!.stages.length, stages);
        if (shape !== "sweep") assert.equal(stages, n);
        // Parameters differ between any two head stages of a chain or a fan.
        const params = checked.ir!.stages.map((s) => JSON.stringify([s.params, s.inputs]));
        assert.equal(new Set(params).size, stages);
      }
    assert.equal(pipelineOf("sweep", 10_000).stages, 1 + 99 + 99 * 100);
  });

  it("log-log slopes: 1 for linear, 2 for quadratic, none from one size", () => {
    const xs = [10, 100, 1000];
    assert.equal(logLogSlope(xs.map((x) => ({ x, y: 3 * x })))!.toFixed(6), "1.000000");
    assert.equal(logLogSlope(xs.map((x) => ({ x, y: x * x })))!.toFixed(6), "2.000000");
    assert.equal(
      logLogSlope([
        { x: 5, y: 1 },
        { x: 5, y: 2 },
      ]),
      undefined,
    );
  });

  // GNU time gives the children's CPU time and peak memory.
  const noTime = missingTool("/usr/bin/time") ?? false;
  it("runs every suite at tiny sizes and writes its curves as SVG", { skip: noTime }, async () => {
    const out = tempDir("rnnp-scale-test-");
    const r: ScaleResults = await scaleBench({
      stages: [3, 6],
      rows: [60, 120],
      records: [20, 40],
      rounds: 1,
      out,
    });
    const byChart = (chart: string) => r.series.filter((s) => s.chart === chart);
    // Three shapes; cached runs and planning in CPU time; the first run of each largest pipeline.
    assert.equal(byChart("pipelines-time").length, 3);
    assert.equal(byChart("pipelines-cpu").length, 6);
    assert.deepEqual(
      r.firstRuns.map((f) => [f.shape, f.stages]),
      [
        ["chain", 6],
        ["fan", 6],
        ["sweep", pipelineOf("sweep", 6).stages],
      ],
    );
    assert.equal(byChart("pipelines-memory").length, 6);
    for (const s of byChart("pipelines-cpu")) {
      assert.equal(s.points.length, 2);
      for (const p of s.points) assert.ok(p.y > 0 && Number.isFinite(p.y), `${s.series}: ${p.y}`);
    }
    assert.deepEqual(
      byChart("data-rate").map((s) => s.series.split(" ")[0]),
      DATA_STAGES,
      "a throughput curve per data stage",
    );
    for (const s of byChart("data-rate"))
      assert.deepEqual(
        s.points.map((p) => p.x),
        [60, 120],
      );
    assert.deepEqual(
      byChart("cache").map((s) => s.series),
      ["cache ls", "cache verify", "cache gc (dry run)", "cache gc (removing all)"],
    );
    assert.deepEqual(
      r.cachedSplit.map((c) => [c.shape, Object.keys(c.phases)]),
      ["chain", "fan", "sweep"].map((shape) => [
        shape,
        ["parse + check", "open cache", "keys + cache reads", "runner", "lockfile"],
      ]),
    );
    assert.equal(r.memoryRatios.length, DATA_STAGES.length);
    for (const m of r.memoryRatios) {
      assert.ok(m.outputBytes > 0, `${m.stage} writes an artifact`);
      assert.ok(m.inputBytes > 0, `${m.stage} reads one`);
    }

    const svgs = readdirSync(out).filter((f) => f.endsWith(".svg"));
    assert.deepEqual(svgs.sort(), [
      "cache-wall.svg",
      "cache.svg",
      "data-memory.svg",
      "data-rate.svg",
      "data-time.svg",
      "data-wall.svg",
      "pipelines-cpu.svg",
      "pipelines-memory.svg",
      "pipelines-time.svg",
    ]);
    for (const f of svgs) {
      const svg = readFileSync(join(out, f), "utf8");
      assertWellFormedSvg(svg);
      // Every series is drawn: a line per series, and its name in the legend.
      const names = r.series.filter((s) => `${s.chart}.svg` === f).map((s) => s.series);
      for (const name of names) assert.ok(svg.includes(escapeXml(name)), `${f} names ${name}`);
    }
    const cpu = readFileSync(join(out, "pipelines-cpu.svg"), "utf8");
    const count = (re: RegExp) => (cpu.match(re) ?? []).length;
    assert.equal(count(/aria-roledescription="line mark"/g), 6, "a line per series");
    assert.equal(count(/aria-roledescription="point"/g), 12, "a point per series and size");
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as ScaleResults;
    assert.equal(json.series.length, r.series.length);
    const table = scaleTable(r);
    assert.match(
      table,
      /\| pipelines-cpu \| cached run, chain \| ms CPU \| 3: [\d.,]+, 6: [\d.,]+ \|/,
    );
  });
});

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
