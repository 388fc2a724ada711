import { UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { asStrings, column, rowCount, type Scaling, type Table } from "../artifacts/table.js";
import type { SequenceSet, Target } from "../artifacts/sequences.js";
import { fitPart } from "../data/parts.js";
import { fitScaling } from "../data/scaling.js";

export const window = defineKind({
  name: "window",
  version: 1,
  doc: "Cuts numeric series into sliding windows for forecasting (predict the next `horizon` values of `targets`) or sequence classification (predict the label at the window's end). With `relative`, each window is expressed relative to its last value (scale-free series, e.g. prices). Normalisation is fitted on one part only.",
  params: {
    length: p.int("Steps per window.", { min: 1 }),
    stride: p.int("Steps between window starts.", { min: 1 }).default(1),
    horizon: p.int("Forecast: how many future steps to predict.", { min: 1 }).default(1),
    features: p
      .list(p.string("column"), "Input columns (default: every numeric column).", { minItems: 1 })
      .optional(),
    targets: p
      .list(p.string("column"), "Forecast: columns to predict (default: the features).", {
        minItems: 1,
      })
      .optional(),
    task: p
      .oneOf("forecast: future values; classify: the label at the window's last step.", [
        "forecast",
        "classify",
      ])
      .default("forecast"),
    groupBy: p
      .string("Column naming separate series (e.g. a ticker symbol); windows never cross series.")
      .optional(),
    relative: p
      .bool(
        "Express each window, and its targets, as ratios to the window's last value minus 1 (positive series).",
      )
      .default(false),
    normalize: p
      .oneOf("Scaling of features and targets, fitted on the fit part's windows.", [
        "none",
        "zscore",
        "minmax",
      ])
      .default("zscore"),
    fit: p.string("The part whose statistics are used (default: train).").optional(),
  },
  inputs: {
    data: {
      type: "table",
      doc: 'A table or a split of one (split it with order: "sequential" for time series).',
      bundle: true,
    },
  },
  outputs: { mirror: "data" },
  outputType: "sequences",
  random: false,
  backendDependent: false,
  describe: (params) => ({
    kind: "sequences",
    input: "features",
    target: params.task === "classify" ? "class" : "value",
    length: params.length,
    ...(params.features ? { features: params.features.length } : {}),
  }),
  check: (params) => [
    ...(params.task === "classify" && params.targets
      ? [
          {
            param: "targets",
            message: "targets are for forecasting; a classifier predicts the table's label",
            hint: 'remove targets, or use task: "forecast"',
          },
        ]
      : []),
    ...(params.relative &&
    params.targets?.some((c) => !(params.features ?? params.targets!).includes(c))
      ? [
          {
            param: "targets",
            message:
              "with relative: true every target must also be a feature (its last value is the reference)",
          },
        ]
      : []),
  ],
  run(_ctx, inputs, params) {
    const [fitName, fitTable] = fitPart(inputs.data, params.fit, "window");
    const features =
      params.features ??
      fitTable.columns
        .filter((c) => c.dtype === "number" && c.name !== fitTable.roles.label)
        .map((c) => c.name);
    if (features.length === 0) throw new UserError("the table has no numeric columns to window");
    const targets = params.task === "forecast" ? (params.targets ?? features) : [];
    if (params.relative && targets.some((c) => !features.includes(c)))
      throw new UserError("with relative: true every target must also be a feature");
    const classes = params.task === "classify" ? labelClasses(fitTable) : undefined;
    const o = { ...params, features, targets, classes };
    const cut = new Map([...inputs.data].map(([name, t]) => [name, windows(t, o)]));
    // Normalisation statistics from the fit part's windows, per column; applied to every part.
    const scaling =
      params.normalize === "none"
        ? undefined
        : fitStats(cut.get(fitName)!, features, targets, params.normalize);
    const out: Record<string, SequenceSet> = {};
    for (const [name, w] of cut) out[name] = finish(w, o, scaling);
    return out;
  },
});

interface WindowOptions {
  length: number;
  stride: number;
  horizon: number;
  features: string[];
  targets: string[];
  task: "forecast" | "classify";
  groupBy?: string | undefined;
  relative: boolean;
  classes?: string[] | undefined;
}

interface Cut {
  n: number;
  x: Float32Array;
  y: Float32Array;
  classes: Int32Array;
  /** With `relative`: each window's last value of each target, the reference to undo the ratios. */
  base?: Float32Array;
}

function numeric(t: Table, name: string): Float64Array {
  const c = column(t, name);
  if (c.dtype !== "number") throw new UserError(`column "${name}" is not numeric`);
  return c.values;
}

/** The windows of one table, unscaled (but relative when asked). */
function windows(t: Table, o: WindowOptions): Cut {
  const n = rowCount(t);
  const F = o.features.length;
  const feats = o.features.map((f) => numeric(t, f));
  const targs = o.targets.map((f) => numeric(t, f));
  for (const [i, f] of feats.entries())
    if (f.some(Number.isNaN))
      throw new UserError(
        `column "${o.features[i]}" has missing values; drop them first (clean(..., dropMissing: true))`,
      );
  // Each series is a run of rows with the same group value, in table order.
  const series: number[][] = [];
  const groups = new Map<string, number[]>();
  const key = o.groupBy ? column(t, o.groupBy).values : undefined;
  for (let i = 0; i < n; i++) {
    const k = key ? String(key[i]) : "";
    let g = groups.get(k);
    if (!g) {
      g = [];
      groups.set(k, g);
      series.push(g);
    }
    g.push(i);
  }
  const ahead = o.task === "forecast" ? o.horizon : 0;
  const starts: [number[], number][] = [];
  for (const rows of series)
    for (let s = 0; s + o.length + ahead <= rows.length; s += o.stride) starts.push([rows, s]);
  const N = starts.length;
  const size = o.targets.length * o.horizon;
  const x = new Float32Array(N * o.length * F);
  const y = new Float32Array(N * size);
  const classes = new Int32Array(N);
  const base = o.relative ? new Float32Array(N * o.targets.length) : undefined;
  const labels = o.classes ? asStrings(column(t, t.roles.label!)) : undefined;
  const classIndex = new Map(o.classes?.map((c, i) => [c, i]));
  starts.forEach(([rows, s], w) => {
    const last = rows[s + o.length - 1]!;
    const ref = (f: number) => {
      const v = feats[f]![last]!;
      if (!(v > 0))
        throw new UserError(
          `relative windows need positive values, but column "${o.features[f]}" is ${v}`,
        );
      return v;
    };
    for (let step = 0; step < o.length; step++) {
      const row = rows[s + step]!;
      for (let f = 0; f < F; f++)
        x[(w * o.length + step) * F + f] = o.relative
          ? feats[f]![row]! / ref(f) - 1
          : feats[f]![row]!;
    }
    if (o.task === "forecast") {
      for (let k = 0; k < o.targets.length; k++)
        if (base) base[w * o.targets.length + k] = ref(o.features.indexOf(o.targets[k]!));
      for (let h = 0; h < o.horizon; h++) {
        const row = rows[s + o.length + h]!;
        for (let k = 0; k < o.targets.length; k++) {
          const v = targs[k]![row]!;
          y[w * size + h * o.targets.length + k] = base
            ? v / base[w * o.targets.length + k]! - 1
            : v;
        }
      }
    } else {
      const label = labels![last]!;
      const c = classIndex.get(label);
      if (c === undefined)
        throw new UserError(
          `label "${label}" does not occur in the fit part (classes: ${o.classes!.join(", ")})`,
        );
      classes[w] = c;
    }
  });
  return { n: N, x, y, classes, ...(base ? { base } : {}) };
}

/** Per column: statistics of the fit part's window values (features over all steps; targets not among them, over their own values). */
function fitStats(
  w: Cut,
  features: string[],
  targets: string[],
  method: "zscore" | "minmax",
): Record<string, Scaling> {
  const F = features.length;
  const out: Record<string, Scaling> = {};
  features.forEach((name, f) => {
    out[name] = fitScaling(
      w.x.filter((_, i) => i % F === f),
      method,
      name,
    );
  });
  targets.forEach((name, k) => {
    if (!out[name])
      out[name] = fitScaling(
        w.y.filter((_, i) => i % targets.length === k),
        method,
        name,
      );
  });
  return out;
}

function finish(w: Cut, o: WindowOptions, scaling?: Record<string, Scaling>): SequenceSet {
  const F = o.features.length;
  const scale = (v: number, name: string) => {
    const s = scaling?.[name];
    return s ? (v - s.center) / s.scale : v;
  };
  const x = w.x.map((v, i) => scale(v, o.features[i % F]!));
  const size = o.targets.length * o.horizon;
  const target: Target =
    o.task === "forecast"
      ? {
          kind: "value",
          y: w.y.map((v, i) => scale(v, o.targets[i % o.targets.length]!)),
          names: o.targets,
          horizon: o.horizon,
          size,
          ...(scaling ? { scaling: pick(scaling, o.targets) } : {}),
          ...(w.base ? { relativeTo: w.base } : {}),
        }
      : { kind: "class", y: w.classes, classes: o.classes! };
  return {
    type: "sequences",
    input: "features",
    x,
    shape: [w.n, o.length, F],
    lengths: new Int32Array(w.n).fill(o.length),
    padding: "post",
    target,
    window: {
      columns: o.features,
      length: o.length,
      relative: o.relative,
      ...(scaling ? { scaling: pick(scaling, o.features) } : {}),
    },
  };
}

function pick(s: Record<string, Scaling>, names: string[]): Record<string, Scaling> {
  return Object.fromEntries(names.filter((n) => s[n]).map((n) => [n, s[n]!]));
}

function labelClasses(t: Table): string[] {
  if (!t.roles.label)
    throw new UserError(
      'task: "classify" needs a label column (name it with `label:` when loading)',
    );
  return [...new Set(asStrings(column(t, t.roles.label)))].sort();
}
