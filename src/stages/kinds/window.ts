import { defineKind } from "../kind.js";
import { p } from "../schema.js";
import { asStrings, column, rowCount, type Scaling, type Table } from "../artifacts/table.js";
import type { SequenceSet, Target } from "../artifacts/sequences.js";
import { fitPart } from "./parts.js";
import { fitScaling } from "./scaling.js";

export const window = defineKind({
  name: "window",
  version: 1,
  doc: "Cuts numeric series into sliding windows for forecasting (predict the next `horizon` values of `targets`) or sequence classification (predict the label at the window's end). Normalisation is fitted on one part only.",
  params: {
    length: p.int("Steps per window.", { min: 1 }),
    stride: p.int("Steps between window starts.", { min: 1 }).default(1),
    horizon: p.int("Forecast: how many future steps to predict.", { min: 1 }).default(1),
    features: p.list(p.string("column"), "Input columns (default: every numeric column).", { minItems: 1 }).optional(),
    targets: p.list(p.string("column"), "Forecast: columns to predict (default: the features).", { minItems: 1 }).optional(),
    task: p.oneOf("forecast: future values; classify: the label at the window's last step.", ["forecast", "classify"]).default("forecast"),
    groupBy: p.string("Column naming separate series (e.g. a ticker symbol); windows never cross series.").optional(),
    normalize: p.oneOf("Scaling of features and targets, fitted on the fit part.", ["none", "zscore", "minmax"]).default("zscore"),
    fit: p.string("The part whose statistics are used (default: train).").optional(),
  },
  inputs: { data: { type: "table", doc: "A table or a split of one (split it with order: \"sequential\" for time series).", bundle: true } },
  outputs: { mirror: "data" },
  outputType: "sequences",
  random: false,
  backendDependent: false,
  describe: (params) => ({ kind: "sequences", input: "features", target: params.task === "classify" ? "class" : "value", length: params.length, ...(params.features ? { features: params.features.length } : {}) }),
  check: (params) => (params.task === "classify" && params.targets ? [{ param: "targets", message: "targets are for forecasting; a classifier predicts the table's label", hint: 'remove targets, or use task: "forecast"' }] : []),
  run(_ctx, inputs, params) {
    const [, fitTable] = fitPart(inputs.data, params.fit, "window");
    const features = params.features ?? fitTable.columns.filter((c) => c.dtype === "number" && c.name !== fitTable.roles.label).map((c) => c.name);
    if (features.length === 0) throw new Error("the table has no numeric columns to window");
    const targets = params.task === "forecast" ? (params.targets ?? features) : [];
    const scaled = [...new Set([...features, ...targets])];
    const scaling = params.normalize === "none" ? undefined : fitStats(fitTable, scaled, params.normalize);
    const classes = params.task === "classify" ? labelClasses(fitTable) : undefined;
    const out: Record<string, SequenceSet> = {};
    for (const [name, t] of inputs.data) out[name] = windows(t, { ...params, features, targets, scaling, classes });
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
  groupBy?: string;
  scaling?: Record<string, Scaling>;
  classes?: string[];
}

function numeric(t: Table, name: string, scaling?: Record<string, Scaling>): Float64Array {
  const c = column(t, name);
  if (c.dtype !== "number") throw new Error(`column "${name}" is not numeric`);
  const s = scaling?.[name];
  return s ? c.values.map((v) => (v - s.center) / s.scale) : c.values;
}

function windows(t: Table, o: WindowOptions): SequenceSet {
  const n = rowCount(t);
  const F = o.features.length;
  const feats = o.features.map((f) => numeric(t, f, o.scaling));
  const targs = o.targets.map((f) => numeric(t, f, o.scaling));
  for (const [i, f] of feats.entries()) if (f.some(Number.isNaN)) throw new Error(`column "${o.features[i]}" has missing values; drop them first (clean(..., dropMissing: true))`);
  // Each series is a run of rows with the same group value, in table order.
  const series: number[][] = [];
  const groups = new Map<string, number[]>();
  const key = o.groupBy ? column(t, o.groupBy).values : undefined;
  for (let i = 0; i < n; i++) {
    const k = key ? String(key[i]) : "";
    let g = groups.get(k);
    if (!g) groups.set(k, (g = [])), series.push(g);
    g.push(i);
  }
  const ahead = o.task === "forecast" ? o.horizon : 0;
  const starts: [number[], number][] = [];
  for (const rows of series) for (let s = 0; s + o.length + ahead <= rows.length; s += o.stride) starts.push([rows, s]);
  const N = starts.length;
  const x = new Float32Array(N * o.length * F);
  const size = o.targets.length * o.horizon;
  const yv = new Float32Array(N * size);
  const yc = new Int32Array(N);
  const labels = o.classes ? asStrings(column(t, t.roles.label!)) : undefined;
  const classIndex = new Map(o.classes?.map((c, i) => [c, i]));
  starts.forEach(([rows, s], w) => {
    for (let step = 0; step < o.length; step++) {
      const row = rows[s + step]!;
      for (let f = 0; f < F; f++) x[(w * o.length + step) * F + f] = feats[f]![row]!;
    }
    if (o.task === "forecast") {
      for (let h = 0; h < o.horizon; h++) {
        const row = rows[s + o.length + h]!;
        for (let k = 0; k < o.targets.length; k++) yv[w * size + h * o.targets.length + k] = targs[k]![row]!;
      }
    } else {
      const label = labels![rows[s + o.length - 1]!]!;
      const c = classIndex.get(label);
      if (c === undefined) throw new Error(`label "${label}" does not occur in the fit part (classes: ${o.classes!.join(", ")})`);
      yc[w] = c;
    }
  });
  const target: Target =
    o.task === "forecast"
      ? { kind: "value", y: yv, names: o.targets, horizon: o.horizon, size, ...(o.scaling ? { scaling: pick(o.scaling, o.targets) } : {}) }
      : { kind: "class", y: yc, classes: o.classes! };
  return {
    type: "sequences",
    input: "features",
    x,
    shape: [N, o.length, F],
    lengths: new Int32Array(N).fill(o.length),
    padding: "post",
    target,
    window: { columns: o.features, length: o.length, ...(o.scaling ? { scaling: pick(o.scaling, o.features) } : {}) },
  };
}

function pick(s: Record<string, Scaling>, names: string[]): Record<string, Scaling> {
  return Object.fromEntries(names.filter((n) => s[n]).map((n) => [n, s[n]!]));
}

function labelClasses(t: Table): string[] {
  if (!t.roles.label) throw new Error('task: "classify" needs a label column (name it with `label:` when loading)');
  return [...new Set(asStrings(column(t, t.roles.label)))].sort();
}

function fitStats(t: Table, names: string[], method: "zscore" | "minmax"): Record<string, Scaling> {
  return Object.fromEntries(names.map((name) => [name, fitScaling(numeric(t, name), method, name)]));
}
