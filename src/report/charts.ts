import type { DataStageView, EvaluateView, Samples, SweepView, TrainView } from "./collect.js";

/**
 * The report's charts as Vega-Lite specifications, data inline: the page compiles and draws them
 * with the Vega and Vega-Lite it carries, so it needs no network. One function per chart; each
 * returns undefined when its data is absent, so no empty chart is ever drawn.
 */
export type Spec = Record<string, unknown>;

export interface Chart {
  id: string;
  title: string;
  /** One sentence under the chart: what to read in it. */
  caption?: string;
  spec: Spec;
}

const WIDTH = 420;
const HEIGHT = 220;

/** Variants (or the one stage) of a train family, as a series name. */
const seriesOf = (t: TrainView) =>
  t.variant
    ? Object.entries(t.variant)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(", ")
    : t.stage;

/** Every epoch's loss and metrics of a family's stages, in long form: one row per value. */
function curves(family: TrainView[]) {
  return family.flatMap((t) =>
    t.history.flatMap((e) => {
      const rows: { epoch: number; metric: string; split: string; run: string; value: number }[] =
        [];
      const add = (metric: string, split: string, value: number | undefined) => {
        if (value !== undefined && Number.isFinite(value))
          rows.push({ epoch: e.epoch, metric, split, run: seriesOf(t), value });
      };
      add("loss", "train", e.loss);
      add("loss", "validation", e.valLoss);
      for (const [m, v] of Object.entries(e.metrics)) add(m, "train", v);
      for (const [m, v] of Object.entries(e.valMetrics ?? {})) add(m, "validation", v);
      return rows;
    }),
  );
}

/** The restored (or final) epochs as vertical rules, labelled. */
function weightsRules(family: TrainView[]) {
  const values = family
    .filter((t) => t.weightsEpoch !== undefined)
    .map((t) => ({
      epoch: t.weightsEpoch!,
      run: seriesOf(t),
      note: t.restored
        ? `best epoch ${t.weightsEpoch} (restored)`
        : `weights: epoch ${t.weightsEpoch}`,
    }));
  return values.length && family.some((t) => t.restored) ? values : [];
}

/** Loss, or one metric, per epoch: train solid, validation dashed, variants by colour. */
export function curveChart(family: TrainView[], metric: string): Chart | undefined {
  const values = curves(family).filter((r) => r.metric === metric);
  if (!values.length) return undefined;
  const rules = weightsRules(family);
  const multi = family.length > 1;
  const name = family[0]!.family;
  return {
    id: `train-${name}-${metric}`,
    title: `${name}: ${metric} per epoch`,
    ...(rules.length
      ? {
          caption: `The purple line marks the epoch whose weights early stopping restored${multi ? " (per variant)" : ""}.`,
        }
      : {}),
    spec: {
      width: WIDTH,
      height: HEIGHT,
      layer: [
        {
          data: { values },
          mark: { type: "line", point: values.length < 80, tooltip: true },
          encoding: {
            x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
            y: { field: "value", type: "quantitative", title: metric, scale: { zero: false } },
            color: multi
              ? { field: "run", type: "nominal", title: "variant" }
              : { field: "split", type: "nominal", title: null },
            strokeDash: {
              field: "split",
              type: "nominal",
              title: null,
              scale: {
                domain: ["train", "validation"],
                range: [
                  [1, 0],
                  [5, 3],
                ],
              },
            },
          },
        },
        ...(rules.length
          ? [
              {
                data: { values: rules },
                mark: {
                  type: "rule",
                  strokeDash: [3, 3],
                  strokeWidth: 2,
                  color: "#7c3aed",
                  tooltip: true,
                },
                encoding: {
                  x: { field: "epoch", type: "quantitative" },
                  tooltip: [{ field: "note" }, { field: "run" }],
                },
              },
              {
                data: { values: rules.slice(0, 1) },
                mark: {
                  type: "text",
                  color: "#7c3aed",
                  align: "right",
                  dx: -4,
                  dy: 4,
                  y: 0,
                  baseline: "top",
                },
                encoding: { x: { field: "epoch", type: "quantitative" }, text: { field: "note" } },
              },
            ]
          : []),
      ],
    },
  };
}

export function learningRateChart(family: TrainView[]): Chart | undefined {
  const values = family.flatMap((t) =>
    t.history.map((e) => ({ epoch: e.epoch, lr: e.lr, run: seriesOf(t) })),
  );
  if (!values.length) return undefined;
  const name = family[0]!.family;
  return {
    id: `train-${name}-lr`,
    title: `${name}: learning rate`,
    spec: {
      width: WIDTH,
      height: 140,
      data: { values },
      mark: { type: "line", point: values.length < 80, tooltip: true },
      encoding: {
        x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
        y: { field: "lr", type: "quantitative", title: "learning rate", scale: { zero: false } },
        ...(family.length > 1
          ? { color: { field: "run", type: "nominal", title: "variant" } }
          : {}),
      },
    },
  };
}

/**
 * Global and per-layer gradient norms on a log axis, with the monitor's vanishing and exploding
 * limits as red rules (its third rule, a layer growing `explodingRatio` times past epoch 1, is said
 * in the caption).
 */
export function gradientChart(family: TrainView[]): Chart | undefined {
  const multi = family.length > 1;
  const values = family.flatMap((t) =>
    t.history.flatMap((e) =>
      [["global", e.gradNorm] as const, ...Object.entries(e.layerGradNorms)]
        .filter(([, v]) => v > 0 && Number.isFinite(v))
        .map(([layer, norm]) => ({
          epoch: e.epoch,
          layer,
          norm,
          run: seriesOf(t),
          series: multi ? `${seriesOf(t)}: ${layer}` : layer,
        })),
    ),
  );
  if (!values.length) return undefined;
  const { vanishing, exploding, explodingRatio } = family[0]!.limits;
  const name = family[0]!.family;
  return {
    id: `train-${name}-gradients`,
    title: `${name}: gradient norms (log scale)`,
    caption: `Mean norm per epoch, before clipping. The red rules are the training monitor's limits: below ${vanishing} a layer's gradient has vanished, above ${exploding} (or ${explodingRatio}x its epoch-1 norm) it explodes.`,
    spec: {
      width: WIDTH,
      height: HEIGHT,
      layer: [
        {
          data: { values },
          mark: { type: "line", point: true, tooltip: true },
          encoding: {
            x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
            y: {
              field: "norm",
              type: "quantitative",
              title: "gradient norm",
              scale: { type: "log" },
            },
            color: { field: "series", type: "nominal", title: "layer" },
            strokeDash: {
              condition: { test: "datum.layer === 'global'", value: [1, 0] },
              value: [4, 2],
            },
          },
        },
        {
          data: {
            values: [
              { limit: vanishing, what: "vanishing" },
              { limit: exploding, what: "exploding" },
            ],
          },
          mark: { type: "rule", color: "#dc2626", strokeDash: [6, 3], tooltip: true },
          encoding: { y: { field: "limit", type: "quantitative" }, tooltip: [{ field: "what" }] },
        },
      ],
    },
  };
}

/** Gradient flow through time: per layer, epochs by steps back, coloured by the norm (log). */
export function flowChart(family: TrainView[]): Chart | undefined {
  const values = family.flatMap((t) =>
    t.flow
      .filter((f) => f.norm > 0 && Number.isFinite(f.norm))
      .map((f) => ({ ...f, layer: family.length > 1 ? `${seriesOf(t)}: ${f.layer}` : f.layer })),
  );
  if (!values.length) return undefined;
  const name = family[0]!.family;
  return {
    id: `train-${name}-flow`,
    title: `${name}: gradient flow through time`,
    caption:
      "‖∂loss/∂h‖ at each step back from a sequence's end, per epoch: a colour that fades to the right is a gradient vanishing through time; one that brightens, exploding.",
    spec: {
      data: { values },
      facet: { row: { field: "layer", type: "nominal", title: null } },
      spec: {
        width: WIDTH,
        height: { step: 12 },
        mark: { type: "rect", tooltip: true },
        encoding: {
          x: {
            field: "stepsBack",
            type: "ordinal",
            title: "steps back",
            axis: { labelOverlap: true },
          },
          y: { field: "epoch", type: "ordinal" },
          color: {
            field: "norm",
            type: "quantitative",
            scale: { type: "log", scheme: "viridis" },
            title: "norm",
          },
        },
      },
    },
  };
}

/** The verdict's metric: the model and every baseline, the strongest baseline's bar darkest. */
export function verdictChart(e: EvaluateView): Chart | undefined {
  const model = e.report.metrics[e.metric];
  if (model === undefined) return undefined;
  const values = [
    { who: "model", value: model, role: "model" },
    ...(e.report.baselines ?? [])
      .filter((b) => b.metrics[e.metric] !== undefined)
      .map((b) => ({
        who: b.name,
        value: b.metrics[e.metric]!,
        role: b.name === e.report.verdict?.baseline ? "strongest baseline" : "baseline",
      })),
  ];
  return {
    id: `eval-${e.stage}-verdict`,
    title: `${e.stage}: ${e.metric}, model and baselines (${e.higherIsBetter ? "higher" : "lower"} is better)`,
    spec: {
      width: WIDTH,
      height: { step: 22 },
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        y: { field: "who", type: "nominal", sort: null, title: null },
        x: { field: "value", type: "quantitative", title: e.metric },
        color: {
          field: "role",
          type: "nominal",
          title: null,
          scale: {
            domain: ["model", "strongest baseline", "baseline"],
            range: ["#2563eb", "#9a3412", "#d6d3d1"],
          },
        },
      },
    },
  };
}

export function confusionChart(e: EvaluateView): Chart | undefined {
  const c = e.report.confusion;
  if (!c?.labels.length) return undefined;
  const values = c.matrix.flatMap((row, i) =>
    row.map((count, j) => ({ actual: c.labels[i]!, predicted: c.labels[j]!, count })),
  );
  const step = c.labels.length > 20 ? 14 : 28;
  return {
    id: `eval-${e.stage}-confusion`,
    title: `${e.stage}: confusion matrix`,
    caption: "Rows: the true class; columns: the predicted one. The diagonal is right.",
    spec: {
      width: { step },
      height: { step },
      data: { values },
      encoding: {
        x: { field: "predicted", type: "nominal", sort: c.labels },
        y: { field: "actual", type: "nominal", sort: c.labels },
      },
      layer: [
        {
          mark: { type: "rect", tooltip: true },
          encoding: {
            color: { field: "count", type: "quantitative", scale: { scheme: "blues" } },
          },
        },
        ...(c.labels.length <= 20
          ? [
              {
                mark: { type: "text", fontSize: 10 },
                encoding: {
                  text: { field: "count", type: "quantitative" },
                  color: {
                    condition: { test: `datum.count > ${maxOf(c.matrix) / 2}`, value: "white" },
                    value: "#1f2937",
                  },
                },
              },
            ]
          : []),
      ],
    },
  };
}

const maxOf = (m: number[][]) => m.reduce((a, r) => Math.max(a, ...r), 0);

/** Multi-step forecasts: the model's MAE at each step beside each baseline's. */
export function perStepChart(e: EvaluateView): Chart | undefined {
  const steps = e.report.perStep;
  if (!steps?.length) return undefined;
  const values = steps.flatMap((s, i) => [
    { step: i + 1, label: s.step, who: "model", mae: s.mae },
    ...Object.entries(s.baselines).map(([who, mae]) => ({ step: i + 1, label: s.step, who, mae })),
  ]);
  return {
    id: `eval-${e.stage}-steps`,
    title: `${e.stage}: MAE per forecast step`,
    spec: {
      width: WIDTH,
      height: HEIGHT,
      data: { values },
      mark: { type: "line", point: true, tooltip: true },
      encoding: {
        x: { field: "step", type: "quantitative", axis: { tickMinStep: 1 } },
        y: { field: "mae", type: "quantitative", title: "MAE" },
        color: { field: "who", type: "nominal", title: null },
      },
    },
  };
}

/** Forecasts over the test examples: the truth, the model and the baselines, per target and step. */
export function forecastChart(e: EvaluateView, samples: Samples | undefined): Chart | undefined {
  if (samples?.kind !== "forecast" || !samples.rows.length) return undefined;
  const baselines = [...new Set(samples.rows.map((r) => r.series))].filter(
    (s) => s !== "actual" && s !== "model",
  );
  return {
    id: `eval-${e.stage}-forecast`,
    title: `${e.stage}: predicted vs actual`,
    caption:
      "Each test window's forecast one step ahead, in original units, in the test set's order, beside the truth (black) and the baselines' forecasts (dashed).",
    spec: {
      data: { values: samples.rows },
      facet: {
        row: { field: "target", type: "nominal", title: null },
      },
      spec: {
        width: 640,
        height: 180,
        mark: { type: "line", tooltip: true, strokeWidth: 1.3 },
        encoding: {
          x: { field: "i", type: "quantitative", title: "test example" },
          y: { field: "value", type: "quantitative", scale: { zero: false }, title: null },
          color: {
            field: "series",
            type: "nominal",
            title: null,
            scale: {
              domain: ["actual", "model", ...baselines],
              range: ["#111827", "#2563eb", "#d97706", "#059669", "#9333ea", "#db2777", "#6b7280"],
            },
          },
          strokeDash: {
            condition: {
              test: "datum.series === 'actual' || datum.series === 'model'",
              value: [1, 0],
            },
            value: [4, 3],
          },
        },
      },
      resolve: { scale: { y: "independent" } },
    },
  };
}

export function groupChart(e: EvaluateView): Chart | undefined {
  const g = e.report.perGroup;
  if (!g?.rows.length) return undefined;
  return {
    id: `eval-${e.stage}-groups`,
    title: `${e.stage}: accuracy per ${g.column}`,
    spec: {
      width: WIDTH,
      height: { step: 18 },
      data: { values: g.rows },
      mark: { type: "bar", tooltip: true },
      encoding: {
        y: { field: "group", type: "nominal", sort: null, title: g.column },
        x: { field: "accuracy", type: "quantitative", scale: { domain: [0, 1] } },
      },
    },
  };
}

/** A sweep: its chosen metric per variant, the baseline as a rule. */
export function sweepChart(s: SweepView): Chart | undefined {
  const values = s.rows.flatMap((r) =>
    r.metrics?.[s.metric] !== undefined
      ? [{ variant: r.label, value: r.metrics[s.metric]!, chosen: r.stage === s.chosen }]
      : [],
  );
  if (!values.length) return undefined;
  const baselines = s.rows.flatMap((r) => (r.baseline ? [r.baseline] : []));
  const baseline = baselines.length
    ? baselines.reduce((a, b) =>
        (s.higherIsBetter ? b.value > a.value : b.value < a.value) ? b : a,
      )
    : undefined;
  return {
    id: `sweep-${s.stage}`,
    title: `${s.stage}: ${s.metric} across the sweep (${s.higherIsBetter ? "higher" : "lower"} is better)`,
    ...(baseline
      ? {
          caption: `The red rule is the strongest baseline, ${baseline.name} (${+baseline.value.toPrecision(4)}).`,
        }
      : {}),
    spec: {
      width: WIDTH,
      height: { step: 22 },
      layer: [
        {
          data: { values },
          mark: { type: "bar", tooltip: true },
          encoding: {
            y: { field: "variant", type: "nominal", sort: null, title: s.swept.join(", ") },
            x: { field: "value", type: "quantitative", title: s.metric },
            color: {
              field: "chosen",
              type: "nominal",
              title: "chosen on validation",
              scale: { domain: [true, false], range: ["#1e40af", "#93c5fd"] },
            },
          },
        },
        ...(baseline
          ? [
              {
                data: { values: [baseline] },
                mark: { type: "rule", color: "#dc2626", strokeWidth: 2, tooltip: true },
                encoding: {
                  x: { field: "value", type: "quantitative" },
                  tooltip: [{ field: "name" }, { field: "value" }],
                },
              },
            ]
          : []),
      ],
    },
  };
}

/** Rows per part (split outputs), or of the stage's one output. */
export function rowsChart(d: DataStageView): Chart | undefined {
  if (d.parts.length < 2) return undefined;
  return {
    id: `data-${d.stage}-rows`,
    title: `${d.stage}: rows per part`,
    spec: {
      width: 300,
      height: { step: 20 },
      data: { values: d.parts.map((p) => ({ part: p.part, rows: p.rows })) },
      mark: { type: "bar", tooltip: true },
      encoding: {
        y: { field: "part", type: "nominal", sort: null, title: null },
        x: { field: "rows", type: "quantitative" },
      },
    },
  };
}

/** Class balance per part, as shares of each part's rows. */
export function balanceChart(d: DataStageView): Chart | undefined {
  const values = d.parts.flatMap((p) =>
    (p.classes ?? []).map((c) => ({ part: p.part, class: c.label, count: c.count })),
  );
  if (!values.length) return undefined;
  const many = new Set(values.map((v) => v.class)).size > 12;
  return {
    id: `data-${d.stage}-balance`,
    title: `${d.stage}: class balance${d.parts.length > 1 ? " per part" : ""}`,
    spec: {
      width: 300,
      height: { step: 22 },
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        y: { field: "part", type: "nominal", sort: null, title: null },
        x: { field: "count", type: "quantitative", stack: "normalize", title: "share of rows" },
        color: {
          field: "class",
          type: "nominal",
          ...(many ? { legend: null, scale: { scheme: "tableau20" } } : {}),
        },
        tooltip: [{ field: "part" }, { field: "class" }, { field: "count" }],
      },
    },
  };
}

/** Encoded lengths per part, the padded length as a rule: sequences at it may have been cut. */
export function lengthChart(d: DataStageView): Chart | undefined {
  const values = d.parts.flatMap((p) =>
    (p.lengths ?? []).map((l) => ({ part: p.part, length: l.length, count: l.count })),
  );
  if (!values.length) return undefined;
  const maxLen = Math.max(...d.parts.map((p) => p.maxLen ?? 0));
  const cut = d.parts.reduce((n, p) => n + (p.atLimit ?? 0), 0);
  const rows = d.parts.reduce((n, p) => n + p.rows, 0);
  return {
    id: `data-${d.stage}-lengths`,
    title: `${d.stage}: sequence lengths`,
    caption: `Padded to ${maxLen} steps (red rule); ${cut} of ${rows} sequences reach it, and may have been truncated.`,
    spec: {
      width: WIDTH,
      height: 160,
      layer: [
        {
          data: { values },
          mark: { type: "bar", tooltip: true },
          encoding: {
            x: { field: "length", type: "quantitative", bin: { step: 1 }, title: "true length" },
            y: { field: "count", type: "quantitative", aggregate: "sum", title: "sequences" },
            color: { field: "part", type: "nominal" },
          },
        },
        {
          data: { values: [{ maxLen }] },
          mark: { type: "rule", color: "#dc2626", strokeDash: [4, 3] },
          encoding: { x: { field: "maxLen", type: "quantitative" } },
        },
      ],
    },
  };
}
