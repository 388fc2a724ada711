import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { CacheStore } from "../src/cache/store.js";
import type { Digest, StageKey } from "../src/core/digest.js";
import { renderSvg, type ChartSpec, type Point } from "./scale-chart.js";
import { bestOf, logLogSlope, rnnp, runWorker, spread, type ProcessCost } from "./scale-measure.js";
import { pipelineOf, SHAPES, TINY_CSV, type Shape } from "./scale-shapes.js";

/**
 * `npm run bench -- --scale`: how cost grows with the size of a pipeline, of a data set and of the
 * cache. Every figure is a best of `rounds` runs taken alternately across sizes (so that load from
 * other processes falls on every size alike), with CPU time beside wall time (what load changes
 * least). Writes one SVG per curve and results.json into `out`; returns the table's lines.
 */
export interface ScaleOptions {
  /** Stage counts of the generated pipelines. */
  stages: readonly number[];
  /** Row counts of the generated data set. */
  rows: readonly number[];
  /** Record counts of the generated cache. */
  records: readonly number[];
  rounds: number;
  /** Which parts to measure (default: all three). */
  suites?: readonly Suite[];
  /** Where the SVG files and results.json go. */
  out: string;
  log?: (line: string) => void;
}

export type Suite = "pipelines" | "data" | "cache";
export const SUITES: readonly Suite[] = ["pipelines", "data", "cache"];

export const DEFAULT_SCALE: Omit<ScaleOptions, "out"> = {
  stages: [100, 1000, 5000, 10_000],
  rows: [10_000, 100_000, 1_000_000],
  records: [10_000, 30_000, 100_000],
  rounds: 3,
};

/** `--full`: the data stages up to ten million rows (about 600 MB of CSV) and more records. */
export const FULL_SCALE: Omit<ScaleOptions, "out"> = {
  ...DEFAULT_SCALE,
  rows: [10_000, 100_000, 1_000_000, 10_000_000],
  records: [10_000, 30_000, 100_000, 300_000],
};

export interface Series {
  chart: string;
  series: string;
  unit: string;
  points: { x: number; y: number }[];
  /** Log-log slope: 1 is linear. */
  slope?: number;
  /** Spread of the rounds at the largest size ((max - min) / min). */
  spread?: number;
}

export interface ScaleResults {
  machine: string;
  loadAverage: { before: number[]; after: number[] };
  series: Series[];
  /** The 10,000-stage (or largest) fully cached run, per shape: whole process and in-process split. */
  cachedSplit: {
    shape: Shape;
    stages: number;
    wallMs: number;
    cpuMs: number;
    phases: Record<string, number>;
  }[];
  /** The first run of each shape's largest pipeline (every stage executes and is committed). */
  firstRuns: { shape: Shape; stages: number; wallMs: number; cpuMs: number; maxRssKiB: number }[];
  /** Per data stage at the largest row count: peak memory over the artifact's size. */
  memoryRatios: {
    stage: string;
    rows: number;
    /** Peak memory above the process before the stage, over the larger artifact it writes or reads. */
    ratio: number;
    outputBytes: number;
    inputBytes: number;
  }[];
  charts: string[];
}

export async function scaleBench(o: ScaleOptions): Promise<ScaleResults> {
  const log = o.log ?? (() => {});
  const before = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), "rnnp-scale-"));
  mkdirSync(o.out, { recursive: true });
  try {
    const suites = new Set(o.suites ?? SUITES);
    const series: Series[] = [];
    const pipes = suites.has("pipelines")
      ? pipelinesSuite(o, tmp, log)
      : { series: [], split: [], first: [] };
    series.push(...pipes.series);
    const data = suites.has("data") ? await dataSuite(o, tmp, log) : { series: [], ratios: [] };
    series.push(...data.series);
    if (suites.has("cache")) series.push(...(await cacheSuite(o, tmp, log)));
    for (const s of series) {
      const slope = logLogSlope(s.points);
      if (slope !== undefined) s.slope = slope;
    }
    const charts = await writeCharts(o.out, series);
    const results: ScaleResults = {
      machine: machine(),
      loadAverage: { before, after: loadavg() },
      series,
      cachedSplit: pipes.split,
      firstRuns: pipes.first.map(({ stdout: _, ...f }) => f),
      memoryRatios: data.ratios,
      charts,
    };
    writeFileSync(join(o.out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    return results;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function machine(): string {
  return `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
}

/** Sizes in an order that alternates between rounds: up, then down, then up. */
function alternate<T>(xs: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...xs] : [...xs].reverse();
}

// ---- pipelines ------------------------------------------------------------------------------

function pipelinesSuite(o: ScaleOptions, tmp: string, log: (l: string) => void) {
  const dir = join(tmp, "pipelines");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "d.csv"), TINY_CSV);
  // One cache per shape, filled by the largest pipeline's first run: a smaller chain or fan is a
  // prefix of the largest (the same stages, the same keys), so its run is fully cached too.
  const cases = SHAPES.flatMap((shape) =>
    [...o.stages]
      .sort((a, b) => a - b)
      .map((n) => {
        const { text, stages } = pipelineOf(shape, n);
        const file = join(dir, `${shape}-${n}.rnnp`);
        writeFileSync(file, text);
        return { shape, n, stages, file, cache: join(dir, `cache-${shape}`) };
      }),
  );
  const first = new Map<Shape, ProcessCost & { stages: number }>();
  for (const c of [...cases].reverse()) {
    const filled = first.has(c.shape);
    log(`  ${filled ? "filling" : "first run"}: ${c.shape}, ${c.stages} stages`);
    const cost = rnnp(["run", c.file, "--cache", c.cache], dir, tmp);
    if (!filled) first.set(c.shape, { ...cost, stages: c.stages });
  }
  const cached = new Map<string, ProcessCost[]>();
  const plans = new Map<string, ReturnType<typeof runWorker>[]>();
  const splits = new Map<string, ReturnType<typeof runWorker>[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);
  const largest = (shape: Shape) => cases.filter((c) => c.shape === shape).at(-1)!;
  for (let r = 0; r < o.rounds; r++) {
    log(`  pipelines, round ${r + 1} of ${o.rounds}`);
    for (const c of alternate(cases, r)) {
      push(cached, c.file, rnnp(["run", c.file, "--cache", c.cache], dir, tmp));
      push(plans, c.file, runWorker(["plan", c.file]));
      // The in-process split by phase is reported for the largest pipeline of a shape only.
      if (c === largest(c.shape)) push(splits, c.file, runWorker(["cached", c.file, c.cache]));
    }
  }
  const series: Series[] = [];
  const at = (shape: Shape, y: (c: (typeof cases)[number]) => number) =>
    cases.filter((c) => c.shape === shape).map((c) => ({ x: c.stages, y: y(c) }));
  for (const shape of SHAPES) {
    const big = largest(shape);
    const planTotal = (w: ReturnType<typeof runWorker>) =>
      Object.values(w.cpu).reduce((a, b) => a + b, 0);
    series.push(
      {
        chart: "pipelines-time",
        series: `cached run, ${shape} (wall)`,
        unit: "ms",
        points: at(shape, (c) => Math.min(...cached.get(c.file)!.map((x) => x.wallMs))),
        spread: spread(cached.get(big.file)!.map((x) => x.wallMs)),
      },
      {
        chart: "pipelines-cpu",
        series: `cached run, ${shape}`,
        unit: "ms CPU",
        points: at(shape, (c) => Math.min(...cached.get(c.file)!.map((x) => x.cpuMs))),
        spread: spread(cached.get(big.file)!.map((x) => x.cpuMs)),
      },
      {
        chart: "pipelines-cpu",
        series: `parse + check + plan, ${shape}`,
        unit: "ms CPU",
        points: at(shape, (c) => Math.min(...plans.get(c.file)!.map(planTotal))),
        spread: spread(plans.get(big.file)!.map(planTotal)),
      },
      {
        chart: "pipelines-memory",
        series: `cached run, ${shape}`,
        unit: "MiB peak RSS",
        points: at(shape, (c) => Math.min(...cached.get(c.file)!.map((x) => x.maxRssKiB)) / 1024),
      },
      {
        chart: "pipelines-memory",
        series: `parse + check + plan, ${shape}`,
        unit: "MiB peak RSS",
        points: at(shape, (c) => Math.min(...plans.get(c.file)!.map((x) => x.maxRssKiB)) / 1024),
      },
    );
  }
  const split = SHAPES.map((shape) => {
    const big = largest(shape);
    const runs = cached.get(big.file)!;
    return {
      shape,
      stages: big.stages,
      wallMs: Math.min(...runs.map((x) => x.wallMs)),
      cpuMs: Math.min(...runs.map((x) => x.cpuMs)),
      phases: bestOf(splits.get(big.file)!.map((w) => w.cpu)),
    };
  });
  return { series, split, first: SHAPES.map((shape) => ({ shape, ...first.get(shape)! })) };
}

// ---- data stages ----------------------------------------------------------------------------

const WORDS = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);

/** A generated table: text of 4 to 19 words (Zipf-like), a binary label, a smooth numeric series. */
async function writeData(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  // The LCG in exact 32-bit arithmetic: the product in doubles (up to 2^61) lost its low bits, and
  // the generator fell into a cycle that repeated 1,131 texts over a million rows.
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state / 2147483648;
  };
  out.write("text,label,value\n");
  let chunk = "";
  for (let i = 0; i < rows; i++) {
    const n = 4 + Math.floor(next() * 16);
    const words: string[] = [];
    for (let w = 0; w < n; w++) words.push(WORDS[Math.floor(WORDS.length * next() ** 3)]!);
    const value = Math.sin(i / 50) * 10 + next();
    chunk += `${words.join(" ")},${next() < 0.5 ? "a" : "b"},${value.toFixed(3)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, "drain");
      chunk = "";
    }
  }
  out.end(chunk);
  await once(out, "finish");
}

const DATA_PIPELINE = `pipeline data {
  seed 1
  stage raw = load.csv(path: "data.csv", text: "text", label: "label")
  stage cleaned = clean(raw, lowercase: true, collapseSpaces: true)
  stage parts = split(cleaned, train: 0.8, val: 0.1, test: 0.1)
  stage vocab = vocabulary(parts.train, minCount: 2)
  stage seqs = encode(parts, vocab, maxLen: 16)
  stage series = split(raw, order: "sequential", train: 0.8, val: 0.1, test: 0.1)
  stage windows = window(series, length: 8, features: ["value"])
}
`;
export const DATA_STAGES = ["raw", "cleaned", "parts", "vocab", "seqs", "series", "windows"];
const KIND_OF: Record<string, string> = {
  raw: "load.csv",
  cleaned: "clean",
  parts: "split",
  vocab: "vocabulary",
  seqs: "encode",
  series: "split (sequential)",
  windows: "window",
};

async function dataSuite(o: ScaleOptions, tmp: string, log: (l: string) => void) {
  const sets = [];
  for (const rows of o.rows) {
    const dir = join(tmp, `data-${rows}`);
    mkdirSync(dir, { recursive: true });
    log(`  generating ${rows.toLocaleString("en")} rows`);
    await writeData(join(dir, "data.csv"), rows);
    writeFileSync(join(dir, "data.rnnp"), DATA_PIPELINE);
    sets.push({ rows, dir, cache: join(dir, "cache") });
  }
  // CPU time is what load on a shared machine changes least; the wall time is kept beside it.
  type StageRun = { cpuMs: number; ms: number; aboveKiB: number };
  const runs = new Map<string, StageRun[]>();
  const id = (rows: number, stage: string) => `${rows}:${stage}`;
  const keys = new Map<string, StageKey>();
  for (let r = 0; r < o.rounds; r++) {
    for (const set of alternate(sets, r)) {
      log(`  data stages, ${set.rows.toLocaleString("en")} rows, round ${r + 1} of ${o.rounds}`);
      // Each stage in a process of its own (bench/scale-worker.ts), its inputs cached, forced to
      // execute: its CPU time, and its peak memory above what the process held just before.
      for (const stage of DATA_STAGES) {
        const w = runWorker(["stage", join(set.dir, "data.rnnp"), set.cache, stage]);
        keys.set(id(set.rows, stage), w.key as StageKey);
        runs.set(id(set.rows, stage), [
          ...(runs.get(id(set.rows, stage)) ?? []),
          {
            cpuMs: Math.max(w.cpu.stage!, 0.5),
            ms: Math.max(w.wall.stage!, 0.5),
            aboveKiB: w.maxRssKiB - w.rssBeforeKiB!,
          },
        ]);
      }
    }
  }
  // What each stage writes, and the largest artifact it reads (for load.csv, the CSV file).
  const sizes = new Map<string, { output: number; input: number }>();
  for (const set of sets) {
    const store = CacheStore.open(set.cache);
    for (const stage of DATA_STAGES) {
      const rec = store.getRecord<{ inputs: unknown }>(keys.get(id(set.rows, stage))!);
      const inputs = digestsIn(rec?.manifest.inputs).map((d) => store.getBlob(d)?.length ?? 0);
      sizes.set(id(set.rows, stage), {
        output: Object.values(rec?.outputs ?? {}).reduce((a, x) => a + x.size, 0),
        input: stage === "raw" ? statSync(join(set.dir, "data.csv")).size : Math.max(0, ...inputs),
      });
    }
    await store.close();
  }
  const series: Series[] = [];
  const ratios: ScaleResults["memoryRatios"] = [];
  const best = (rows: number, stage: string) => {
    const rs = runs.get(id(rows, stage))!;
    return {
      ms: Math.min(...rs.map((x) => x.ms)),
      cpuMs: Math.min(...rs.map((x) => x.cpuMs)),
      aboveKiB: Math.min(...rs.map((x) => x.aboveKiB)),
    };
  };
  for (const stage of DATA_STAGES) {
    const name = `${stage} (${KIND_OF[stage]})`;
    const biggest = o.rows.at(-1)!;
    series.push(
      {
        chart: "data-rate",
        series: name,
        unit: "rows/s (CPU)",
        points: o.rows.map((rows) => ({ x: rows, y: rows / (best(rows, stage).cpuMs / 1000) })),
        spread: spread(runs.get(id(biggest, stage))!.map((x) => x.cpuMs)),
      },
      {
        chart: "data-time",
        series: name,
        unit: "ms CPU",
        points: o.rows.map((rows) => ({ x: rows, y: best(rows, stage).cpuMs })),
      },
      {
        chart: "data-wall",
        series: name,
        unit: "ms wall in the stage",
        points: o.rows.map((rows) => ({ x: rows, y: best(rows, stage).ms })),
      },
      {
        chart: "data-memory",
        series: name,
        unit: "MiB peak above the start",
        points: o.rows.map((rows) => ({
          x: rows,
          y: Math.max(0.1, best(rows, stage).aboveKiB / 1024),
        })),
      },
    );
    const above = best(biggest, stage).aboveKiB * 1024;
    const { output, input } = sizes.get(id(biggest, stage))!;
    ratios.push({
      stage: name,
      rows: biggest,
      ratio: above / Math.max(output, input),
      outputBytes: output,
      inputBytes: input,
    });
  }
  return { series, ratios };
}

// ---- the cache ------------------------------------------------------------------------------

async function cacheSuite(o: ScaleOptions, tmp: string, log: (l: string) => void) {
  const dir = join(tmp, "records");
  mkdirSync(dir, { recursive: true });
  const cache = join(dir, "cache");
  // A pipeline none of the generated records belongs to: gc keeps its stages and drops the rest.
  writeFileSync(join(dir, "d.csv"), TINY_CSV);
  writeFileSync(join(dir, "keep.rnnp"), pipelineOf("chain", 2).text);
  const commands: [string, string[]][] = [
    ["cache ls", ["cache", "ls", "--cache", cache]],
    ["cache verify", ["cache", "verify", "--cache", cache]],
    ["cache gc (dry run)", ["cache", "gc", "keep.rnnp", "--dry-run", "--cache", cache]],
  ];
  const cpuPoints = new Map<string, { x: number; y: number }[]>();
  const wallPoints = new Map<string, { x: number; y: number }[]>();
  const spreads = new Map<string, number>();
  const add = (m: Map<string, { x: number; y: number }[]>, k: string, x: number, y: number) =>
    m.set(k, [...(m.get(k) ?? []), { x, y }]);
  let filled = 0;
  for (const n of o.records) {
    log(`  cache: ${n.toLocaleString("en")} records`);
    runWorker(["fill", cache, String(n - filled), String(filled)]);
    filled = n;
    for (const [name, argv] of commands) {
      const runs: ProcessCost[] = [];
      for (let r = 0; r < o.rounds; r++) runs.push(rnnp(argv, dir, tmp));
      add(cpuPoints, name, n, Math.min(...runs.map((x) => x.cpuMs)));
      add(wallPoints, name, n, Math.min(...runs.map((x) => x.wallMs)));
      spreads.set(name, spread(runs.map((x) => x.cpuMs)));
    }
  }
  // The real collection, once, at the largest size: every record goes in one transaction.
  const gc = rnnp(["cache", "gc", "keep.rnnp", "--cache", cache], dir, tmp);
  add(cpuPoints, "cache gc (removing all)", filled, gc.cpuMs);
  add(wallPoints, "cache gc (removing all)", filled, gc.wallMs);
  return [
    ...[...cpuPoints].map(([name, points]) => ({
      chart: "cache",
      series: name,
      unit: "ms CPU",
      points,
      ...(spreads.has(name) ? { spread: spreads.get(name)! } : {}),
    })),
    ...[...wallPoints].map(([name, points]) => ({
      chart: "cache-wall",
      series: name,
      unit: "ms wall",
      points,
    })),
  ];
}

// ---- charts ---------------------------------------------------------------------------------

const CHARTS: Record<string, Omit<ChartSpec, "points">> = {
  "pipelines-time": {
    title: "Fully cached `rnnp run`, whole process (wall, best of rounds)",
    x: "stages",
    y: "ms",
    target: { y: 1000, label: "target: 1 s at 10,000 stages" },
  },
  "pipelines-cpu": {
    title: "Cached run and planning: CPU time (user + system)",
    x: "stages",
    y: "ms CPU",
  },
  "pipelines-memory": { title: "Peak memory (RSS)", x: "stages", y: "MiB" },
  "data-rate": { title: "Data stages: throughput (CPU time)", x: "rows", y: "rows/s" },
  "data-time": {
    title: "Data stages: CPU time in the stage",
    x: "rows",
    y: "ms CPU",
  },
  "data-wall": { title: "Data stages: wall time in the stage", x: "rows", y: "ms" },
  "data-memory": {
    title: "Data stages: peak memory above the process before the stage",
    x: "rows",
    y: "MiB",
  },
  cache: { title: "Cache maintenance, whole process: CPU time", x: "records", y: "ms CPU" },
  "cache-wall": { title: "Cache maintenance, whole process: wall time", x: "records", y: "ms" },
};

export async function writeCharts(out: string, series: readonly Series[]): Promise<string[]> {
  const written: string[] = [];
  for (const [name, spec] of Object.entries(CHARTS)) {
    const points: Point[] = series
      .filter((s) => s.chart === name)
      .flatMap((s) => s.points.map((p) => ({ series: s.series, ...p })));
    if (!points.length) continue;
    const file = join(out, `${name}.svg`);
    writeFileSync(file, await renderSvg({ ...spec, points }));
    written.push(file);
  }
  return written;
}

// ---- the table ------------------------------------------------------------------------------

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** Every digest named in a manifest's inputs (a slot's digest, or a bundle's named digests). */
function digestsIn(v: unknown): Digest[] {
  if (typeof v === "string") return [v as Digest];
  if (v && typeof v === "object") return Object.values(v).flatMap(digestsIn);
  return [];
}

/** The results as Markdown: what BENCHMARKS.md shows. */
export function scaleTable(r: ScaleResults): string {
  const fmt = (x: number) =>
    x >= 100 ? Math.round(x).toLocaleString("en") : x >= 10 ? x.toFixed(1) : x.toPrecision(2);
  const lines: string[] = [];
  lines.push(
    `Machine: ${r.machine}. Load average before ${r.loadAverage.before.map((x) => x.toFixed(1)).join(" / ")}, after ${r.loadAverage.after.map((x) => x.toFixed(1)).join(" / ")}.`,
  );
  lines.push("");
  lines.push(
    "| curve | series | unit | points (size: value) | log-log slope | spread at largest |",
  );
  lines.push("|---|---|---|---|---|---|");
  for (const s of r.series)
    lines.push(
      `| ${s.chart} | ${s.series} | ${s.unit} | ${s.points.map((p) => `${p.x.toLocaleString("en")}: ${fmt(p.y)}`).join(", ")} | ${s.slope?.toFixed(2) ?? "-"} | ${s.spread !== undefined ? `${(s.spread * 100).toFixed(0)}%` : "-"} |`,
    );
  lines.push("");
  lines.push("| shape | stages | cached run wall | CPU | in-process CPU by phase |");
  lines.push("|---|---|---|---|---|");
  for (const c of r.cachedSplit)
    lines.push(
      `| ${c.shape} | ${c.stages.toLocaleString("en")} | ${fmt(c.wallMs)} ms | ${fmt(c.cpuMs)} ms | ${Object.entries(
        c.phases,
      )
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(", ")} |`,
    );
  lines.push("");
  lines.push("| shape | stages | first run wall | CPU | peak RSS |");
  lines.push("|---|---|---|---|---|");
  for (const f of r.firstRuns)
    lines.push(
      `| ${f.shape} | ${f.stages.toLocaleString("en")} | ${fmt(f.wallMs / 1000)} s | ${fmt(f.cpuMs / 1000)} s | ${fmt(f.maxRssKiB / 1024)} MiB |`,
    );
  lines.push("");
  lines.push(
    "| data stage | rows | artifact written | largest read | peak memory above the start / the larger |",
  );
  lines.push("|---|---|---|---|---|");
  for (const m of r.memoryRatios)
    lines.push(
      `| ${m.stage} | ${m.rows.toLocaleString("en")} | ${mib(m.outputBytes)} | ${mib(m.inputBytes)} | ${m.ratio.toFixed(2)}x |`,
    );
  return `${lines.join("\n")}\n`;
}
