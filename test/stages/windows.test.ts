import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import { rowCount, takeRows, type Table } from "../../src/artifacts/table.js";
import { encodeRows } from "../../src/kinds/window.js";
import { checkSource } from "../../src/lang/load.js";
import { tempDir, writeFiles } from "../helpers.js";
import { runKind, table } from "./helpers.js";

const bundle = (t: Record<string, Table>) => new Map(Object.entries(t));
const PARTS = ["train", "val", "test"];

/** Runs window over a split and gives each part's sequences. */
async function windows(
  parts: Record<string, Table>,
  params: Record<string, unknown>,
): Promise<Record<string, SequenceSet>> {
  return (await runKind("window", ".", { data: bundle(parts) }, params)) as unknown as Record<
    string,
    SequenceSet
  >;
}

/** The rows (ids) each window reads, and the rows of its label or targets. */
function idsOf(s: SequenceSet, length: number): { inputs: number[]; targets: number[] }[] {
  const F = s.shape[2]!;
  return Array.from({ length: s.shape[0]! }, (_, i) => {
    const inputs = Array.from({ length }, (_, t) => s.x[(i * length + t) * F]!);
    const t = s.target;
    const targets =
      t.kind === "class"
        ? [Number(t.classes[t.y[i]!])]
        : t.kind === "value"
          ? Array.from(t.y.subarray(i * t.size, (i + 1) * t.size))
          : [];
    return { inputs, targets };
  });
}

describe("split + window: leak-free by construction (property)", () => {
  it("no window's label or target lies outside its part; every window is complete; none is missed", async () => {
    const scenario = fc.record({
      n: fc.integer({ min: 0, max: 70 }),
      series: fc.integer({ min: 1, max: 3 }),
      interleaved: fc.boolean(),
      shares: fc.tuple(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
      ),
      length: fc.integer({ min: 1, max: 6 }),
      stride: fc.integer({ min: 1, max: 3 }),
      horizon: fc.integer({ min: 0, max: 3 }),
      task: fc.constantFrom("forecast", "classify"),
      holes: fc.array(fc.integer({ min: 0, max: 69 }), { maxLength: 4 }),
      gaps: fc.constantFrom("split", "ignore"),
    });
    // Scenarios that reach the checks, and windows checked: a run that returns early (no rows, a
    // part without a class) asserts nothing, so the property must not be made of those.
    let checked = 0;
    let windowsChecked = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const horizon = sc.task === "forecast" ? Math.max(1, sc.horizon) : sc.horizon;
        // Row i is its own id; its series is i mod k (interleaved) or a block of rows.
        const seriesOf = (i: number) =>
          sc.interleaved ? i % sc.series : Math.floor((i * sc.series) / Math.max(1, sc.n));
        const t = table(
          {
            id: Array.from({ length: sc.n }, (_, i) => i),
            s: Array.from({ length: sc.n }, (_, i) => `s${seriesOf(i)}`),
            label: Array.from({ length: sc.n }, (_, i) => String(i % 2)),
          },
          { label: "label" },
        );
        if (sc.n === 0) return;
        const total = sc.shares[0] + sc.shares[1] + sc.shares[2];
        const [train, val] = [sc.shares[0] / total, sc.shares[1] / total];
        const parts = await runKind(
          "split",
          ".",
          { data: t },
          { order: "sequential", groupBy: "s", train, val, test: 1 - train - val },
        );
        // Rows removed after the split (as a clean would): gaps in the series.
        const holes = new Set(sc.holes);
        const cut: Record<string, Table> = {};
        for (const name of PARTS) {
          const p = parts[name]!;
          const ids = (p.columns[0]!.values as Float64Array).map(Number);
          cut[name] = takeRows(
            p,
            Array.from({ length: rowCount(p) }, (_, i) => i).filter((i) => !holes.has(ids[i]!)),
          );
        }
        const made = windows(cut, {
          length: sc.length,
          stride: sc.stride,
          horizon,
          task: sc.task,
          features: ["id"],
          groupBy: "s",
          normalize: "none",
          gaps: sc.gaps,
          ...(sc.task === "forecast" ? { targets: ["id"] } : {}),
        });
        // A classifier whose training part lacks a class cannot be fitted: refused, and vacuous here.
        const out = await made.catch((e: Error) => {
          if (/does not occur in the fit part/.test(e.message)) return undefined;
          throw e;
        });
        if (!out) return;
        checked++;
        const partOf = new Map<number, number>();
        PARTS.forEach((name, p) => {
          for (const id of cut[name]!.columns[0]!.values as Float64Array) partOf.set(id, p);
        });
        // Each series as the rows that remain, in time order.
        const seriesRows = new Map<number, number[]>();
        for (let i = 0; i < sc.n; i++) {
          if (holes.has(i)) continue;
          const k = seriesOf(i);
          seriesRows.set(k, [...(seriesRows.get(k) ?? []), i]);
        }
        const seen = new Set<string>();
        PARTS.forEach((name, p) => {
          for (const w of idsOf(out[name]!, sc.length)) {
            const rows = seriesRows.get(seriesOf(w.inputs[0]!))!;
            const at = rows.indexOf(w.inputs[0]!);
            // The label's row is `horizon` steps after the last input; its label must be that row's.
            const target =
              sc.task === "forecast" ? w.targets : [rows[at + sc.length - 1 + horizon]!];
            if (sc.task === "classify")
              assert.equal(w.targets[0], target[0]! % 2, "the label of that row");
            const span = [...w.inputs, ...(sc.task === "forecast" ? w.targets : [])];
            // Contiguous in its series.
            assert.deepEqual(
              span,
              rows.slice(at, at + span.length),
              "a window is a stretch of its series",
            );
            for (const id of target)
              assert.equal(partOf.get(id), p, `target ${id} lies in ${name}`);
            for (const id of w.inputs)
              assert.ok(partOf.get(id)! <= p, "inputs come from its part or before");
            if (sc.gaps === "split")
              for (let j = 1; j < span.length; j++)
                for (let h = span[j - 1]! + 1; h < span[j]!; h++)
                  assert.ok(
                    !(holes.has(h) && seriesOf(h) === seriesOf(span[0]!)),
                    "no window spans a hole",
                  );
            seen.add(`${p}:${target.join(",")}`);
            windowsChecked++;
          }
        });
        // None missed (stride 1): every part's stretch with history before it has its window.
        if (sc.stride === 1) {
          let expected = 0;
          for (const rows of seriesRows.values()) {
            const runs: number[][] = [];
            for (const r of rows) {
              const prev = runs.at(-1);
              const gap =
                prev &&
                sc.gaps === "split" &&
                Array.from({ length: r - prev.at(-1)! - 1 }, (_, k) => prev.at(-1)! + 1 + k).some(
                  (h) => holes.has(h) && seriesOf(h) === seriesOf(r),
                );
              if (!prev || gap) runs.push([r]);
              else prev.push(r);
            }
            for (const run of runs)
              for (let s = 0; s + sc.length + horizon <= run.length; s++) {
                const targets =
                  sc.task === "forecast"
                    ? run.slice(s + sc.length, s + sc.length + horizon)
                    : [run[s + sc.length - 1 + horizon]!];
                if (targets.every((id) => partOf.get(id) === partOf.get(targets[0]!))) expected++;
              }
          }
          const made = PARTS.reduce((a, name) => a + out[name]!.shape[0]!, 0);
          assert.equal(made, expected, "every window with its targets in one part is made");
        }
      }),
      { numRuns: 300 },
    );
    assert.ok(
      checked >= 150 && windowsChecked >= 1000,
      `${checked} scenarios, ${windowsChecked} windows checked`,
    );
  });
});

describe("window: defects of issue 18", () => {
  const days = table(
    {
      id: Array.from({ length: 12 }, (_, i) => i),
      label: ["a", "b", "a", "a", "b", "b", "a", "b", "a", "a", "b", "a"],
    },
    { label: "label" },
  );

  it("1: horizon acts for classifiers: horizon 1 labels each window with the next step's label", async () => {
    const same = await windows({ out: days }, { length: 3, task: "classify", normalize: "none" });
    const next = await windows(
      { out: days },
      { length: 3, task: "classify", horizon: 1, normalize: "none" },
    );
    const labels = (s: SequenceSet) =>
      s.target.kind === "class"
        ? Array.from(s.target.y, (c) => s.target.kind === "class" && s.target.classes[c])
        : [];
    assert.deepEqual(labels(same.out!), ["a", "a", "b", "b", "a", "b", "a", "a", "b", "a"]);
    assert.deepEqual(labels(next.out!), ["a", "b", "b", "a", "b", "a", "a", "b", "a"]);
    assert.equal(next.out!.shape[0], 9, "one window fewer: the last has no next label");
  });

  it("2: a sequential split needs no context, and refuses one", async () => {
    const r = checkSource(
      `pipeline p {
  stage raw = load.csv(path: "d.csv", label: "label")
  stage parts = split(raw, order: "sequential", context: 3)
  stage w = window(parts, length: 3, task: "classify")
}`,
      "p.rnnp",
    );
    const d = r.diagnostics.find((x) => x.code === "param-rule");
    assert.ok(d, "context is refused");
    assert.match(d!.message, /context is no longer needed/);
    assert.equal(d!.span?.start.line, 3);
    const parts = await runKind(
      "split",
      ".",
      { data: days },
      { order: "sequential", train: 0.5, val: 0.25, test: 0.25 },
    );
    const out = await windows(parts, {
      length: 3,
      task: "classify",
      horizon: 0,
      features: ["id"],
      normalize: "none",
    });
    assert.deepEqual(
      idsOf(out.val!, 3).map((w) => w.inputs),
      [
        [4, 5, 6],
        [5, 6, 7],
        [6, 7, 8],
      ],
      "val's first window reads train's last rows and is labelled by val's first row",
    );
  });

  it("3: windows over a random split are a check-time error, unless whole series are kept in one part", () => {
    const source = (split: string, window = "") => `pipeline p {
  stage raw = load.csv(path: "d.csv", label: "label")
  stage parts = split(raw, ${split})
  stage w = window(parts, length: 3, task: "classify"${window})
}`;
    const random = checkSource(source("train: 0.8, val: 0.1, test: 0.1"), "p.rnnp");
    const d = random.diagnostics.find((x) => x.code === "param-rule");
    assert.ok(d);
    assert.match(d!.message, /windows over a random split/);
    assert.match(d!.hint!, /order: "sequential"/);
    assert.equal(d!.span?.start.line, 4);
    const grouped = checkSource(source('groupBy: "station"', ', groupBy: "station"'), "p.rnnp");
    assert.deepEqual(grouped.diagnostics, [], "whole series per part is fine");
    const sampled = checkSource(
      source('order: "sequential"')
        .replace("split(raw,", "split(some,")
        .replace("  stage parts", "  stage some = sample(raw, fraction: 0.5)\n  stage parts"),
      "p.rnnp",
    );
    assert.match(sampled.diagnostics.map((x) => x.message).join("\n"), /sampled at random/);
  });
});

describe("window: time columns and gaps (defect 4)", () => {
  const dir = tempDir();
  // Monthly, with five months missing after 2000-06.
  const months = [
    "2000-01",
    "2000-02",
    "2000-03",
    "2000-04",
    "2000-05",
    "2000-06",
    "2000-12",
    "2001-01",
    "2001-02",
    "2001-03",
  ];
  writeFiles(dir, {
    "m.csv": `month,v\n${months.map((m, i) => `${m},${i + 1}`).join("\n")}\n`,
  });
  const load = async () =>
    (await runKind("load.csv", dir, {}, { path: "m.csv", time: "month" })).out!;

  it("refuses gaps by default, naming the rows", async () => {
    await assert.rejects(
      windows({ out: await load() }, { length: 2, features: ["v"] }),
      (e: Error & { hint?: string }) => {
        assert.equal(
          e.message,
          "the series has gaps: 5 steps (1 month each) missing between 2000-06 (line 7) and 2000-12 (line 8)",
        );
        assert.match(e.hint!, /gaps: "split"/);
        return true;
      },
    );
  });

  it('gaps: "split" keeps windows within stretches, and reports what it left out', async () => {
    const out = (
      await windows(
        { out: await load() },
        { length: 2, features: ["v"], gaps: "split", normalize: "none" },
      )
    ).out!;
    // Stretches of 6 and 4 months: 4 + 2 windows of 2 steps + 1 target; 2 would span the gap.
    assert.equal(out.shape[0], 6);
    assert.deepEqual(out.report, { windows: 6, dropped: { gap: 2 }, filled: 0, step: "1 month" });
  });

  it('gaps: "fill" with a named method fills the steps, and never uses a filled step as a target', async () => {
    const linear = (
      await windows(
        { out: await load() },
        { length: 2, features: ["v"], gaps: "fill", fill: "linear", normalize: "none" },
      )
    ).out!;
    assert.deepEqual(linear.report, {
      windows: 8,
      dropped: { filled: 5 },
      filled: 5,
      step: "1 month",
    });
    // The window over 2000-10 and 2000-11 (filled: 6 + 4/6 and 6 + 5/6) forecasts 2000-12 (7).
    const x = Array.from(linear.x);
    const at = x.findIndex((v, i) => i % 2 === 0 && Math.abs(v - (6 + 4 / 6)) < 1e-5);
    assert.ok(at >= 0);
    assert.ok(Math.abs(x[at + 1]! - (6 + 5 / 6)) < 1e-5);
    assert.equal(linear.target.kind === "value" && linear.target.y[at / 2], 7);
    const previous = (
      await windows(
        { out: await load() },
        { length: 2, features: ["v"], gaps: "fill", fill: "previous", normalize: "none" },
      )
    ).out!;
    const y = previous.target.kind === "value" ? Array.from(previous.target.y) : [];
    const w = y.indexOf(7);
    assert.deepEqual(
      Array.from(previous.x.subarray(2 * w, 2 * w + 2)),
      [6, 6],
      "the last value repeats",
    );
  });

  it("labels forecast steps by time", async () => {
    const out = (
      await windows(
        { out: await load() },
        { length: 2, horizon: 3, features: ["v"], gaps: "split", normalize: "none" },
      )
    ).out!;
    assert.deepEqual(out.target.kind === "value" && out.target.steps, [
      "+1 month",
      "+2 months",
      "+3 months",
    ]);
  });

  it('gaps and every need a time column, fill needs gaps: "fill" (check time)', () => {
    const r = checkSource(
      `pipeline p {
  stage raw = load.csv(path: "d.csv")
  stage w = window(raw, length: 3, every: "day", fill: "linear")
}`,
      "p.rnnp",
    );
    assert.deepEqual(r.diagnostics.map((d) => d.message).sort(), [
      'fill is the method of gaps: "fill"',
      "the table has no time column to find gaps in",
    ]);
  });
});

describe("window: baselines, hand-computed", () => {
  it("naive, seasonal naive and training mean forecasts, on exactly the windows made", async () => {
    // v = 1..12 then a seasonal pattern; length 4, seasonality 4, horizon 2.
    const v = [1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6];
    const t = table({ v });
    const parts = await runKind(
      "split",
      ".",
      { data: t },
      { order: "sequential", train: 0.5, val: 0, test: 0.5 },
    );
    const out = await windows(parts, { length: 4, horizon: 2, seasonality: 4, normalize: "none" });
    const test = out.test!;
    const f = test.baselines!.forecasts!;
    assert.deepEqual(
      f.map((x) => x.name),
      ["naive", "seasonal", "mean"],
    );
    // Test windows end at v[5..9] (targets v[6..11] in test, rows 6..11).
    assert.deepEqual(
      Array.from(test.target.kind === "value" ? test.target.y : []),
      [4, 5, 5, 3, 3, 4, 4, 5, 5, 6],
    );
    assert.deepEqual(Array.from(f[0]!.y), [3, 3, 4, 4, 5, 5, 3, 3, 4, 4]);
    // Seasonal: one season (4 steps) before each target.
    assert.deepEqual(
      Array.from(f[1]!.y),
      [3, 4, 4, 5, 5, 3, 3, 4, 4, 5].map((_, i) => v[6 + Math.floor(i / 2) + (i % 2) - 4]!),
    );
    // Mean of the training windows' targets: train rows 0..5, windows end at 3 (targets 2,3): (2+3)/2.
    assert.deepEqual(Array.from(f[2]!.y), Array(10).fill(2.5));
  });

  it("persistence and class counts for a classifier", async () => {
    const t = table(
      { x: [1, 2, 3, 4, 5, 6], label: ["a", "a", "b", "b", "b", "a"] },
      { label: "label" },
    );
    const out = await windows(
      { out: t },
      { length: 2, task: "classify", horizon: 1, normalize: "none" },
    );
    // Windows end at rows 1..4, labels at rows 2..5: b b b a; persistence: labels at 1..4: a b b b.
    assert.deepEqual(
      Array.from(out.out!.target.kind === "class" ? out.out!.target.y : []),
      [1, 1, 1, 0],
    );
    assert.deepEqual(Array.from(out.out!.baselines!.persistence!), [0, 1, 1, 1]);
    assert.deepEqual(Array.from(out.out!.baselines!.classCounts!), [1, 3]);
    const same = await windows({ out: t }, { length: 2, task: "classify", normalize: "none" });
    // Horizon 0: the label of the last step; persistence is the step before it.
    assert.deepEqual(Array.from(same.out!.baselines!.persistence!), [0, 0, 1, 1, 1]);
  });
});

describe("window: categorical features", () => {
  it("one-hot, with classes fitted on the fit part; today's label as a feature for tomorrow's", async () => {
    const t = table(
      { x: [1, 2, 3, 4, 5, 6, 7, 8], label: ["a", "b", "a", "b", "a", "c", "c", "a"] },
      { label: "label" },
    );
    const parts = await runKind(
      "split",
      ".",
      { data: t },
      { order: "sequential", train: 0.5, val: 0, test: 0.5 },
    );
    const out = await windows(parts, {
      length: 1,
      features: ["x"],
      categorical: ["label"],
      normalize: "none",
    });
    const train = out.train!;
    assert.deepEqual(train.window!.categorical, [{ column: "label", classes: ["a", "b"] }]);
    assert.deepEqual(train.shape, [3, 1, 3]);
    assert.deepEqual(Array.from(train.x), [1, 1, 0, 2, 0, 1, 3, 1, 0]);
    // In test, "c" was never seen in train: all zeros.
    assert.deepEqual(Array.from(out.test!.x).slice(3, 9), [5, 1, 0, 6, 0, 0]);
    const refit = await windows(parts, {
      length: 1,
      features: ["x"],
      categorical: ["label"],
      normalize: "none",
      fit: "test",
    });
    assert.deepEqual(refit.test!.window!.categorical, [{ column: "label", classes: ["a", "c"] }]);
  });

  it("the label as a feature with horizon 0 is refused at check time", () => {
    const r = checkSource(
      `pipeline p {
  stage raw = load.csv(path: "d.csv", label: "label")
  stage w = window(raw, length: 3, task: "classify", categorical: ["label"])
}`,
      "p.rnnp",
    );
    assert.match(r.diagnostics[0]!.message, /every window would see its own answer/);
  });
});

describe("window: new rows are encoded exactly as the training windows (rnnp predict)", () => {
  it("encodeRows gives each window's bytes from its rows (relative or not, any scaling, categories)", async () => {
    const scenario = fc.record({
      prices: fc.array(fc.double({ min: 0.5, max: 5000, noNaN: true }), {
        minLength: 8,
        maxLength: 30,
      }),
      length: fc.integer({ min: 2, max: 6 }),
      relative: fc.boolean(),
      normalize: fc.constantFrom("none", "zscore", "minmax"),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const n = sc.prices.length;
        const kinds = Array.from({ length: n }, (_, i) => ["up", "down", "flat"][(i * 7) % 3]!);
        const volume = sc.prices.map((p, i) => p * 3 + i + 1);
        const t = table({ price: sc.prices, volume, kind: kinds });
        const out = await windows(
          { train: t },
          {
            length: sc.length,
            features: ["price", "volume"],
            categorical: ["kind"],
            relative: sc.relative,
            normalize: sc.normalize,
          },
        );
        const s = out.train!;
        const F = s.shape[2]!;
        const size = sc.length * F;
        assert.equal(s.shape[0], n - sc.length, "one window per start, the last value a target");
        for (let w = 0; w < s.shape[0]!; w++) {
          const rows = Array.from({ length: sc.length }, (_, k) => ({
            price: String(sc.prices[w + k]),
            volume: String(volume[w + k]),
            kind: kinds[w + k]!,
          }));
          const encoded = encodeRows(rows, s.window!);
          assert.equal(encoded.width, F);
          assert.deepEqual(encoded.x, s.x.subarray(w * size, (w + 1) * size), `window ${w}`);
        }
      }),
      { numRuns: 60 },
    );
  });
});
