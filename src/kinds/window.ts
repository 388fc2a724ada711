import { UserError } from "../core/diagnostic.js";
import { defineKind, type ParamProblem } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import {
  asStrings,
  column,
  type ColumnReads,
  tableInfo,
  type Scaling,
  type Table,
  type TableInfo,
} from "../artifacts/table.js";
import {
  scaleValue,
  toRelative,
  type Baselines,
  type SequenceSet,
  type Target,
  type WindowEncoding,
  type WindowReport,
} from "../artifacts/sequences.js";
import { fitPart } from "../data/parts.js";
import { fitScaling } from "../data/scaling.js";
import { assemble, type Segment, type Slots } from "../data/series.js";
import { EVERY } from "../data/time.js";

export const window = defineKind({
  name: "window",
  // 2: windows are made over the series put back together from the parts of a sequential split; a
  //    window goes to the part its label or targets lie in (never across parts); `horizon` acts for
  //    classifiers; time columns, gaps, categorical features, baselines and a report.
  version: 2,
  doc: "Cuts numeric series into sliding windows for forecasting (predict the next `horizon` values of `targets`) or classification (predict the label `horizon` steps after the window's last step). Given a sequential split, each part's windows read the history they need from the parts before it, and a window's label or targets always lie in its own part: nothing leaks, whatever the length, stride and horizon. With a time column, gaps are refused or handled by `gaps`. With `relative`, each window is expressed relative to its last value (scale-free series, e.g. prices). Normalisation and categorical classes are fitted on one part only. The windows carry the baselines evaluate scores: persistence and class counts for classifiers; naive, seasonal naive and training-mean forecasts.",
  params: {
    length: p.int("Steps per window.", { min: 1 }),
    stride: p.int("Steps between window starts.", { min: 1 }).default(1),
    horizon: p
      .int(
        "Forecast: how many future steps to predict (default 1). Classify: how many steps after the window's last step the label is (default 0: the label of the last step; 1: the next step's).",
        { min: 0 },
      )
      .optional(),
    features: p
      .list(
        p.string("column"),
        "Numeric input columns (default: every numeric column but the label, time and series).",
        { minItems: 1 },
      )
      .optional(),
    categorical: p
      .list(
        p.string("column"),
        "Columns given to the model one-hot (classes fitted on the fit part; a class it lacks is all zeros), e.g. the label, as today's label for tomorrow's.",
        { minItems: 1 },
      )
      .optional(),
    targets: p
      .list(p.string("column"), "Forecast: columns to predict (default: the features).", {
        minItems: 1,
      })
      .optional(),
    task: p
      .oneOf("forecast: future values; classify: a label.", ["forecast", "classify"])
      .default("forecast"),
    groupBy: p
      .string(
        "Column naming separate series (default: the table's series column); windows never cross series.",
      )
      .optional(),
    relative: p
      .bool(
        "Express each window, and its targets, as ratios to the window's last value minus 1 (positive series).",
      )
      .default(false),
    normalize: p
      .oneOf("Scaling of numeric features and targets, fitted on the fit part's windows.", [
        "none",
        "zscore",
        "minmax",
      ])
      .default("zscore"),
    fit: p.string("The part whose statistics are used (default: train).").optional(),
    gaps: p
      .oneOf(
        'Missing time steps (a time column) or rows removed after a split: "error" names them; "split" keeps windows within contiguous stretches; "fill" fills them (see `fill`); "ignore" treats the rows as consecutive steps (e.g. trading days).',
        ["error", "split", "fill", "ignore"],
      )
      .default("error"),
    fill: p
      .oneOf(
        'With gaps: "fill": "previous" repeats the last value; "linear" interpolates between the neighbours (categories repeat). Windows whose label or target is a filled step are left out.',
        ["previous", "linear"],
      )
      .optional(),
    every: p
      .oneOf("The series' time step (default: inferred from the time column).", EVERY)
      .optional(),
    seasonality: p
      .int(
        "Forecast: the season in steps (e.g. 12 for monthly data), for the seasonal naive baseline (the value one season before each target); at most `length`.",
        { min: 2 },
      )
      .optional(),
  },
  inputs: {
    data: {
      type: "table",
      doc: 'A table, or a split of one (order: "sequential" for time series: pass the whole split so each part can read its history).',
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
    ...(params.features && !params.categorical ? { features: params.features.length } : {}),
  }),
  check: (params, inputs) => [
    ...rules(params as WindowParams),
    ...againstInput(params as WindowParams, tableInfo(inputs.data)),
  ],
  reads: { data: (params) => columnsRead(params as WindowParams) },
  run(ctx, inputs, params) {
    const o = options(params as WindowParams, inputs.data);
    const names = [...inputs.data.keys()];
    const tables = [...inputs.data.values()];
    const series = assemble(tables, {
      names,
      groupBy: o.groupBy,
      gaps: params.gaps,
      every: params.every,
    });
    const cuts = cutAll(tables, series, o);
    const fitIndex = names.indexOf(o.fitName);
    const fitCut = cuts[fitIndex]!;
    const scaling = params.normalize === "none" ? undefined : fitStats(fitCut, o, params.normalize);
    const means = o.task === "forecast" ? targetMeans(fitCut, o) : undefined;
    const classCounts = o.classes ? countOf(fitCut.classes, o.classes.length) : undefined;
    const out: Record<string, SequenceSet> = {};
    names.forEach((name, i) => {
      const report: WindowReport = {
        windows: cuts[i]!.n,
        dropped: cuts[i]!.dropped,
        filled: series.filled[i]!,
        ...(series.step ? { step: series.describeAhead!(1).slice(1) } : {}),
      };
      out[name] = finish(cuts[i]!, o, report, scaling, means, classCounts, series.describeAhead);
    });
    ctx.log(
      `windows: ${names.map((n) => `${n} ${out[n]!.report!.windows}`).join(", ")}${describeDrops(out)}${series.step ? `; time step ${out[names[0]!]!.report!.step}` : ""}`,
    );
    return out;
  },
});

interface WindowParams {
  length: number;
  stride: number;
  horizon?: number | undefined;
  features?: string[] | undefined;
  categorical?: string[] | undefined;
  targets?: string[] | undefined;
  task: "forecast" | "classify";
  groupBy?: string | undefined;
  relative: boolean;
  normalize: "none" | "zscore" | "minmax";
  fit?: string | undefined;
  gaps: "error" | "split" | "fill" | "ignore";
  fill?: "previous" | "linear" | undefined;
  every?: string | undefined;
  seasonality?: number | undefined;
}

/** Rules between the window's own parameters. */
function rules(w: WindowParams): ParamProblem[] {
  const out: ParamProblem[] = [];
  const horizon = w.horizon ?? (w.task === "forecast" ? 1 : 0);
  if (w.task === "forecast" && horizon === 0)
    out.push({
      param: "horizon",
      message: "a forecast predicts at least one step ahead",
      hint: "horizon: 1 for the next step",
    });
  if (w.task === "classify" && w.targets)
    out.push({
      param: "targets",
      message: "targets are for forecasting; a classifier predicts the table's label",
      hint: 'remove targets, or use task: "forecast"',
    });
  if (w.relative && w.targets?.some((c) => !(w.features ?? w.targets!).includes(c)))
    out.push({
      param: "targets",
      message:
        "with relative: true every target must also be a feature (its last value is the reference)",
    });
  if (w.gaps === "fill" && !w.fill)
    out.push({
      param: "gaps",
      message: 'gaps: "fill" needs a method',
      hint: 'add fill: "previous" or fill: "linear"',
    });
  if (w.fill && w.gaps !== "fill")
    out.push({
      param: "fill",
      message: 'fill is the method of gaps: "fill"',
      hint: 'add gaps: "fill", or remove fill',
    });
  if (w.seasonality !== undefined && w.task !== "forecast")
    out.push({
      param: "seasonality",
      message: "seasonality is for the seasonal naive forecast; a classifier has persistence",
    });
  if (w.seasonality !== undefined && w.seasonality > w.length)
    out.push({
      param: "seasonality",
      message: `the seasonal naive forecast reads the value one season back, inside the window: seasonality (${w.seasonality}) must be at most length (${w.length})`,
      hint: `length: ${w.seasonality} or more`,
    });
  const overlap = w.categorical?.filter((c) => w.features?.includes(c)) ?? [];
  if (overlap.length)
    out.push({
      param: "categorical",
      message: `"${overlap[0]}" is both a numeric feature and a categorical one`,
    });
  return out;
}

/** Rules against what is known of the input: its split, its roles. */
function againstInput(w: WindowParams, info: TableInfo | undefined): ParamProblem[] {
  if (!info) return [];
  const out: ParamProblem[] = [];
  const series = w.groupBy ?? info.series;
  const horizon = w.horizon ?? (w.task === "forecast" ? 1 : 0);
  if (info.split?.order === "random" && !(info.split.groupBy && info.split.groupBy === series))
    out.push({
      message:
        "windows over a random split: each part keeps its rows in order but with holes, so windows would span gaps in time (and parts would share time periods)",
      hint: info.split.groupBy
        ? `windows within whole groups are fine: window(..., groupBy: "${info.split.groupBy}")`
        : 'split the series with order: "sequential" (each part reads its history from the parts before it), or keep whole series in one part with split(groupBy: ...) and window(groupBy: ...)',
    });
  if (info.split?.order === "sequential" && info.split.groupBy && info.split.groupBy !== series)
    out.push({
      ...(w.groupBy !== undefined ? { param: "groupBy" } : {}),
      message: `the split cut each series of "${info.split.groupBy}" on its own, but the windows ${series ? `group by "${series}"` : "run across series"}`,
      hint: `groupBy: "${info.split.groupBy}"`,
    });
  if (info.sampled)
    out.push({
      message:
        "rows were sampled at random upstream: a series has holes, and windows would span them",
      hint: "sample before windowing only whole series, or use head",
    });
  if (
    !info.time &&
    (w.every !== undefined || (w.gaps === "fill" && info.split?.order !== "sequential"))
  )
    out.push({
      param: w.every !== undefined ? "every" : "gaps",
      message: "the table has no time column to find gaps in",
      hint: 'declare it when loading: load.csv(..., time: "date")',
    });
  if (w.task === "classify" && info.label && w.categorical?.includes(info.label) && horizon === 0)
    out.push({
      param: "categorical",
      message: `the label "${info.label}" is a feature and horizon is 0: every window would see its own answer`,
      hint: "horizon: 1 to predict the next step's label from today's",
    });
  return out;
}

/**
 * What `run` reads of each part: the named columns, the series (groupBy's default) and time columns
 * (assemble), the label of a classifier, and without `features` every numeric column (the default
 * features are the numeric ones but the label, time and series). Not the text, nor any other string
 * column. (Lines and the timeline are not columns: they always come.)
 */
function columnsRead(w: WindowParams): ColumnReads {
  return {
    names: [
      ...(w.features ?? []),
      ...(w.targets ?? []),
      ...(w.categorical ?? []),
      ...(w.groupBy !== undefined ? [w.groupBy] : []),
    ],
    roles: [
      "time",
      ...(w.groupBy === undefined ? (["series"] as const) : []),
      ...(w.task === "classify" ? (["label"] as const) : []),
    ],
    dtypes: w.features ? [] : ["number"],
  };
}

interface Options {
  length: number;
  stride: number;
  horizon: number;
  task: "forecast" | "classify";
  features: string[];
  categorical: { column: string; classes: string[] }[];
  targets: string[];
  relative: boolean;
  groupBy?: string | undefined;
  classes?: string[] | undefined;
  label?: string | undefined;
  fill?: "previous" | "linear" | undefined;
  seasonality?: number | undefined;
  fitName: string;
}

/** The window's settings resolved against the data: columns, classes, the fit part. */
function options(w: WindowParams, parts: ReadonlyMap<string, Table>): Options {
  const [fitName, fitTable] = fitPart(parts, w.fit, "window");
  const roles = fitTable.roles;
  const groupBy = w.groupBy ?? roles.series;
  const timeline = [...parts.values()].find((t) => t.timeline)?.timeline;
  if (timeline?.series !== undefined && timeline.series !== groupBy)
    throw new UserError(
      `the split cut each series of "${timeline.series}" on its own; the windows must group by it too`,
      { hint: `groupBy: "${timeline.series}"` },
    );
  const categorical = (w.categorical ?? []).map((c) => ({
    column: c,
    classes: [...new Set(asStrings(column(fitTable, c)))].sort(),
  }));
  const skip = new Set([roles.label, roles.time, groupBy, ...(w.categorical ?? [])]);
  const features =
    w.features ??
    fitTable.columns.filter((c) => c.dtype === "number" && !skip.has(c.name)).map((c) => c.name);
  if (features.length === 0 && categorical.length === 0)
    throw new UserError("the table has no numeric columns to window");
  for (const f of features) numeric(fitTable, f);
  const targets = w.task === "forecast" ? (w.targets ?? features) : [];
  if (w.task === "forecast" && targets.length === 0)
    throw new UserError("a forecast needs numeric targets", { hint: "name them with targets:" });
  if (w.relative && targets.some((c) => !features.includes(c)))
    throw new UserError("with relative: true every target must also be a feature");
  const classify = w.task === "classify";
  if (classify && !roles.label)
    throw new UserError(
      'task: "classify" needs a label column (name it with `label:` when loading)',
    );
  return {
    length: w.length,
    stride: w.stride,
    horizon: w.horizon ?? (classify ? 0 : 1),
    task: w.task,
    features,
    categorical,
    targets,
    relative: w.relative,
    groupBy,
    ...(classify
      ? {
          classes: [...new Set(asStrings(column(fitTable, roles.label!)))].sort(),
          label: roles.label,
        }
      : {}),
    fill: w.fill,
    seasonality: w.seasonality,
    fitName,
  };
}

function numeric(t: Table, name: string): Float64Array {
  const c = column(t, name);
  if (c.dtype !== "number") throw new UserError(`column "${name}" is not numeric`);
  return c.values;
}

/** One part's windows, unscaled (but relative when asked), with what the baselines predict. */
interface Cut {
  n: number;
  x: Float32Array;
  y: Float32Array;
  classes: Int32Array;
  /** With `relative`: each window's last value of each target, the reference to undo the ratios. */
  base?: Float32Array;
  /** Per example: the class of the last label known before the target (-1: none). */
  persistence?: Int32Array;
  naive?: Float32Array;
  seasonal?: Float32Array;
  dropped: Record<string, number>;
}

/** Values of every slot: real rows read from their part, filled steps made from their neighbours. */
function reader(tables: readonly Table[], slots: Slots, o: Options) {
  const numbers = (name: string) => tables.map((t) => numeric(t, name));
  const cols = new Map([...new Set([...o.features, ...o.targets])].map((n) => [n, numbers(n)]));
  for (const [name, perPart] of cols)
    if (perPart.some((v) => v.some(Number.isNaN)))
      throw new UserError(
        `column "${name}" has missing values; drop them first (clean(..., dropMissing: true))`,
      );
  const strings = (name: string) => tables.map((t) => asStrings(column(t, name)));
  const cats = new Map(o.categorical.map((c) => [c.column, strings(c.column)]));
  const labels = o.label ? strings(o.label) : undefined;
  const value = (name: string, s: number): number => {
    const row = slots.row(s);
    if (row >= 0) return cols.get(name)![slots.part(s)]![row]!;
    const { from, to, at } = slots.fill(s)!;
    const a = value(name, from);
    return o.fill === "linear" ? a + (value(name, to) - a) * at : a;
  };
  const category = (name: string, s: number): string => {
    const row = slots.row(s);
    return row >= 0 ? cats.get(name)![slots.part(s)]![row]! : category(name, slots.fill(s)!.from);
  };
  const label = (s: number): string | undefined => {
    const row = slots.row(s);
    return row >= 0 && labels ? labels[slots.part(s)]![row] : undefined;
  };
  return { value, category, label };
}

/**
 * A part's windows: each one's segment (its index in the series' segments) and first input step,
 * as two lists of numbers rather than a record per window (a million of them).
 */
interface Windows {
  segment: Int32Array;
  start: Int32Array;
}

/** Every part's windows: each candidate window goes to the part that owns its label or targets. */
function cutAll(tables: readonly Table[], series: ReturnType<typeof assemble>, o: Options): Cut[] {
  const span = o.length + o.horizon;
  const { slots } = series;
  const targetsOf = (seg: Segment, start: number): ArrayLike<number> =>
    o.task === "forecast"
      ? seg.slots.subarray(start + o.length, start + o.length + o.horizon)
      : [seg.slots[start + o.length - 1 + o.horizon]!];
  const anyOf = (xs: ArrayLike<number>, test: (x: number) => boolean) => {
    for (let i = 0; i < xs.length; i++) if (test(xs[i]!)) return true;
    return false;
  };
  const dropped = tables.map(() => ({}) as Record<string, number>);
  const drop = (part: number, why: string) =>
    (dropped[part]![why] = (dropped[part]![why] ?? 0) + 1);
  /** Every candidate window with the part that owns it, and why it is dropped if it is. */
  const candidates = (
    visit: (owner: number, segment: number, start: number, why?: string) => void,
  ) =>
    series.segments.forEach((seg, i) => {
      for (let start = 0; start + span <= seg.slots.length; start += o.stride) {
        const targets = targetsOf(seg, start);
        const owner = slots.part(targets[0]!);
        if (anyOf(targets, (t) => slots.row(t) < 0)) visit(owner, i, start, "filled");
        else if (anyOf(targets, (t) => slots.part(t) !== owner)) visit(owner, i, start, "parts");
        else visit(owner, i, start);
      }
    });
  // Counted, then listed in arrays of that size: lists grown a push at a time would hold a million
  // numbers at 8 bytes each, and their earlier copies as garbage.
  const counts = tables.map(() => 0);
  candidates((owner, _segment, _start, why) => {
    if (why === undefined) counts[owner]!++;
  });
  const perPart: Windows[] = counts.map((n) => ({
    segment: new Int32Array(n),
    start: new Int32Array(n),
  }));
  const filledIn = tables.map(() => 0);
  candidates((owner, segment, start, why) => {
    if (why !== undefined) return drop(owner, why);
    const w = perPart[owner]!;
    w.segment[filledIn[owner]!] = segment;
    w.start[filledIn[owner]!++] = start;
  });
  // With gaps: "split", the windows the gaps cost: those of each whole series that span a cut.
  if (series.whole) {
    const segmentOf = new Int32Array(slots.count);
    series.segments.forEach((seg, i) => {
      for (const slot of seg.slots) segmentOf[slot] = i;
    });
    for (const seg of series.whole)
      for (let start = 0; start + span <= seg.slots.length; start += o.stride)
        if (segmentOf[seg.slots[start]!] !== segmentOf[seg.slots[start + span - 1]!])
          drop(slots.part(targetsOf(seg, start)[0]!), "gap");
  }
  const read = reader(tables, slots, o);
  return perPart.map((windows, part) => cutPart(windows, series.segments, o, read, dropped[part]!));
}

function cutPart(
  windows: Windows,
  segments: readonly Segment[],
  o: Options,
  read: ReturnType<typeof reader>,
  dropped: Record<string, number>,
): Cut {
  const N = windows.start.length;
  const numericF = o.features.length;
  const F = width(o);
  const K = o.targets.length;
  const size = K * o.horizon;
  const x = new Float32Array(N * o.length * F);
  const y = new Float32Array(o.task === "forecast" ? N * size : 0);
  const classes = new Int32Array(o.task === "classify" ? N : 0);
  const base = o.relative ? new Float32Array(N * K) : undefined;
  const naive = o.task === "forecast" ? new Float32Array(N * size) : undefined;
  const seasonal = o.seasonality ? new Float32Array(N * size) : undefined;
  const persistence = o.task === "classify" ? new Int32Array(N) : undefined;
  const classIndex = new Map(o.classes?.map((c, i) => [c, i]));
  const catIndex = o.categorical.map((c) => new Map(c.classes.map((k, i) => [k, i])));
  for (let w = 0; w < N; w++) {
    const slots = segments[windows.segment[w]!]!.slots;
    const start = windows.start[w]!;
    const last = slots[start + o.length - 1]!;
    const ref = (name: string) => {
      const v = read.value(name, last);
      if (!(v > 0))
        throw new UserError(`relative windows need positive values, but column "${name}" is ${v}`);
      return v;
    };
    const encode = (name: string, v: number) => (o.relative ? toRelative(v, ref(name)) : v);
    for (let step = 0; step < o.length; step++) {
      const slot = slots[start + step]!;
      const at = (w * o.length + step) * F;
      o.features.forEach((f, i) => (x[at + i] = encode(f, read.value(f, slot))));
      let offset = numericF;
      o.categorical.forEach((c, j) => {
        const k = catIndex[j]!.get(read.category(c.column, slot));
        if (k !== undefined) x[at + offset + k] = 1;
        offset += c.classes.length;
      });
    }
    if (o.task === "forecast") {
      o.targets.forEach((name, k) => {
        if (base) base[w * K + k] = ref(name);
        for (let h = 0; h < o.horizon; h++) {
          const j = w * size + h * K + k;
          y[j] = encode(name, read.value(name, slots[start + o.length + h]!));
          naive![j] = encode(name, read.value(name, last));
          if (seasonal) {
            // The latest value of the same season the window holds: s * ceil(h / s) steps before the target.
            const s = o.seasonality!;
            const back = start + o.length + h - s * Math.ceil((h + 1) / s);
            seasonal[j] = encode(name, read.value(name, slots[back]!));
          }
        }
      });
    } else {
      const target = slots[start + o.length - 1 + o.horizon]!;
      const label = read.label(target)!;
      const c = classIndex.get(label);
      if (c === undefined)
        throw new UserError(
          `label "${label}" does not occur in the fit part (classes: ${o.classes!.join(", ")})`,
        );
      classes[w] = c;
      // Persistence: the last label known when the window ends (the step before the target at horizon 0).
      const known = o.horizon > 0 ? last : slots[start + o.length - 2];
      const p = known !== undefined ? read.label(known) : undefined;
      persistence![w] = p === undefined ? -1 : (classIndex.get(p) ?? -1);
    }
  }
  return {
    n: N,
    x,
    y,
    classes,
    ...(base ? { base } : {}),
    ...(naive ? { naive } : {}),
    ...(seasonal ? { seasonal } : {}),
    ...(persistence ? { persistence } : {}),
    dropped,
  };
}

/** Per column: statistics of the fit part's window values (numeric features over all steps; targets not among them, over their own values). */
function fitStats(w: Cut, o: Options, method: "zscore" | "minmax"): Record<string, Scaling> {
  const F = width(o);
  const out: Record<string, Scaling> = {};
  o.features.forEach((name, f) => {
    out[name] = fitScaling(w.x, method, name, { offset: f, stride: F });
  });
  o.targets.forEach((name, k) => {
    if (!out[name])
      out[name] = fitScaling(w.y, method, name, { offset: k, stride: o.targets.length });
  });
  return out;
}

/** Features per step: the numeric ones, then each categorical column's one-hot classes. */
function width(o: Options): number {
  return o.features.length + o.categorical.reduce((a, c) => a + c.classes.length, 0);
}

/** The training mean of each target (as encoded, before scaling): the mean forecast's constant. */
function targetMeans(w: Cut, o: Options): Float64Array {
  const K = o.targets.length;
  const sums = new Float64Array(K);
  const counts = new Float64Array(K);
  w.y.forEach((v, i) => {
    sums[i % K]! += v;
    counts[i % K]!++;
  });
  return sums.map((s, k) => (counts[k]! ? s / counts[k]! : 0));
}

function countOf(classes: Int32Array, C: number): Int32Array {
  const counts = new Int32Array(C);
  for (const c of classes) counts[c]!++;
  return counts;
}

function finish(
  w: Cut,
  o: Options,
  report: WindowReport,
  scaling: Record<string, Scaling> | undefined,
  means: Float64Array | undefined,
  classCounts: Int32Array | undefined,
  describeAhead: ((h: number) => string) | undefined,
): SequenceSet {
  const F = width(o);
  const x = scaleFeatures(w.x, F, o.features, scaling);
  const K = o.targets.length;
  const size = K * o.horizon;
  // In place, as the features: the cut's arrays are this stage's own (a copy each would be as large
  // as the artifact).
  const scaleY = (ys: Float32Array) => {
    if (scaling)
      for (let i = 0; i < ys.length; i++) ys[i] = scaleValue(ys[i]!, scaling[o.targets[i % K]!]);
    return ys;
  };
  let target: Target;
  let baselines: Baselines;
  if (o.task === "forecast") {
    target = {
      kind: "value",
      y: scaleY(w.y),
      names: o.targets,
      horizon: o.horizon,
      size,
      ...(scaling ? { scaling: pick(scaling, o.targets) } : {}),
      ...(w.base ? { relativeTo: w.base } : {}),
      ...(describeAhead
        ? { steps: Array.from({ length: o.horizon }, (_, h) => describeAhead(h + 1)) }
        : {}),
    };
    const mean = new Float32Array(w.n * size);
    for (let i = 0; i < mean.length; i++) mean[i] = means![i % K]!;
    baselines = {
      forecasts: [
        { name: "naive", doc: "the last observed value, for every step", y: scaleY(w.naive!) },
        ...(w.seasonal
          ? [
              {
                name: "seasonal",
                doc: `the value one season (${o.seasonality} steps) before each target`,
                y: scaleY(w.seasonal),
              },
            ]
          : []),
        {
          name: "mean",
          doc: `the training mean${o.relative ? " change" : ""} of each target`,
          y: scaleY(mean),
        },
      ],
    };
  } else {
    target = { kind: "class", y: w.classes, classes: o.classes! };
    baselines = { classCounts: classCounts!, persistence: w.persistence! };
  }
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
      ...(o.categorical.length ? { categorical: o.categorical } : {}),
    },
    baselines,
    report,
  };
}

/**
 * Steps of F features: the numeric ones (the first `columns.length`) scaled, one-hot ones as they
 * are. In place (`x` is the caller's own): it is as large as the artifact.
 */
function scaleFeatures(
  x: Float32Array,
  F: number,
  columns: readonly string[],
  scaling: Record<string, Scaling> | undefined,
): Float32Array {
  if (!scaling) return x;
  for (let i = 0; i < x.length; i++) {
    const f = i % F;
    if (f < columns.length) x[i] = scaleValue(x[i]!, scaling[columns[f]!]);
  }
  return x;
}

/**
 * New rows (a CSV's records, the window's last `length` rows) encoded as the training windows were:
 * relative to the last row's values when the window is relative, one-hot categories, then scaled.
 * `relativeTo` is each numeric column's reference, to decode forecasts with.
 */
export function encodeRows(
  rows: readonly Record<string, string>[],
  w: WindowEncoding,
): { x: Float32Array; width: number; relativeTo?: Map<string, number> } {
  const categorical = w.categorical ?? [];
  const relativeTo = w.relative
    ? new Map(w.columns.map((c) => [c, Number(rows.at(-1)![c])]))
    : undefined;
  const F = w.columns.length + categorical.reduce((a, k) => a + k.classes.length, 0);
  const x = new Float32Array(rows.length * F);
  rows.forEach((r, t) => {
    w.columns.forEach((c, f) => {
      x[t * F + f] = relativeTo ? toRelative(Number(r[c]), relativeTo.get(c)!) : Number(r[c]);
    });
    let at = w.columns.length;
    for (const k of categorical) {
      const i = k.classes.indexOf(r[k.column]!);
      if (i >= 0) x[t * F + at + i] = 1;
      at += k.classes.length;
    }
  });
  return {
    x: scaleFeatures(x, F, w.columns, w.scaling),
    width: F,
    ...(relativeTo ? { relativeTo } : {}),
  };
}

function pick(s: Record<string, Scaling>, names: string[]): Record<string, Scaling> {
  return Object.fromEntries(names.filter((n) => s[n]).map((n) => [n, s[n]!]));
}

const WHY: Record<string, string> = {
  gap: "across a gap",
  filled: "with a filled target",
  parts: "with targets in two parts",
};

function describeDrops(out: Record<string, SequenceSet>): string {
  const total = new Map<string, number>();
  for (const s of Object.values(out))
    for (const [why, n] of Object.entries(s.report!.dropped))
      total.set(why, (total.get(why) ?? 0) + n);
  const filled = Object.values(out).reduce((a, s) => a + s.report!.filled, 0);
  const parts = [...total].map(([why, n]) => `${n} ${WHY[why] ?? why}`);
  return `${parts.length ? `; left out: ${parts.join(", ")}` : ""}${filled ? `; ${filled} steps filled` : ""}`;
}
