import type { Artifact } from "./index.js";
import type { TrainedModel } from "./model.js";
import type { Report } from "./report.js";
import { decodeValue, type SequenceSet } from "./sequences.js";
import type { ShiftReport } from "./shift.js";
import { rowCount, type Table } from "./table.js";
import type { Vocabulary } from "./vocabulary.js";

/**
 * Artifacts as rows of named cells, for `rnnp show --format csv|jsonl|json`: a table's rows, each
 * sequence decoded back to its text, labels and values in their own units, a training history's
 * epochs, a report's metrics beside its baselines in long form. Numbers keep full precision: float64
 * values as they are, float32 values as the shortest decimal that reads back to the same float32.
 * Rows are made one at a time (a generator), so a large artifact is never formatted whole.
 */
export type Cell = string | number | boolean | null | Cell[];
export type Row = Record<string, Cell>;

/** A row: a prototype-less object, since column names are the user's (a column may be `__proto__`). */
export function newRow(cells: Record<string, Cell> = {}): Row {
  return Object.assign(Object.create(null) as Row, cells);
}

export interface Rows {
  /** Every column a row may have, in order (a CSV header). */
  columns: string[];
  rows: Iterable<Row>;
}

/** The artifact's rows; undefined for a type that has none (a model's description is a document). */
export function artifactRows(a: Artifact): Rows | undefined {
  switch (a.type) {
    case "table":
      return tableRows(a);
    case "vocabulary":
      return vocabularyRows(a);
    case "sequences":
      return sequenceRows(a);
    case "trained":
      return historyRows(a);
    case "report":
      return reportRows(a);
    case "shift":
      return shiftRows(a);
    case "files":
      return {
        columns: ["file", "bytes"],
        rows: Object.entries(a.files).map(([file, b]) => ({
          file: `${a.dir}/${file}`,
          bytes: b.byteLength,
        })),
      };
    case "model":
      return undefined;
  }
}

/**
 * What `--format json` prints for an artifact that is one document rather than rows: a report
 * whole (with its baselines and verdict), a model's description (its weights are in `export`).
 */
export function artifactDocument(a: Artifact): unknown {
  if (a.type === "report" || a.type === "shift") return a;
  if (a.type === "model") {
    const { weights: _weights, ...description } = a;
    return description;
  }
  return undefined;
}

/** A float64 value: itself; NaN and infinities (which JSON and CSV cannot hold) as null. */
export function f64(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** A float32 value as the shortest decimal that reads back (through Math.fround) to the same float32. */
export function f32(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return Number(v.toPrecision(9));
}

function tableRows(t: Table): Rows {
  const columns = t.columns.map((c) => c.name);
  function* rows(): Generator<Row> {
    for (let i = 0; i < rowCount(t); i++) {
      const row = newRow();
      for (const c of t.columns)
        row[c.name] =
          c.dtype === "number"
            ? f64(c.values[i]!)
            : c.dtype === "audio"
              ? Array.from(c.values[i]!, f32)
              : c.values[i]!;
      yield row;
    }
  }
  return { columns, rows: rows() };
}

function vocabularyRows(v: Vocabulary): Rows {
  function* rows(): Generator<Row> {
    for (let id = 0; id < v.tokens.length; id++)
      yield { id, token: v.tokens[id]!, count: v.counts[id]! };
  }
  return { columns: ["id", "token", "count"], rows: rows() };
}

/**
 * One row per example: its true length, its input (token sequences decoded to text, with their ids;
 * feature windows as steps of features), its target decoded (a class's label, a token sequence's
 * text, values unscaled and made absolute again, one column per target and step), and its group.
 */
function sequenceRows(s: SequenceSet): Rows {
  const [N = 0, T = 0, F = 1] = s.shape;
  const t = s.target;
  const valueColumns =
    t.kind === "value"
      ? Array.from({ length: t.size }, (_, j) => {
          const name = t.names[j % t.names.length]!;
          const step = Math.floor(j / t.names.length);
          return t.horizon === 1 ? name : `${name} ${t.steps?.[step] ?? `h${step + 1}`}`;
        })
      : [];
  const columns = [
    "example",
    "length",
    "input",
    ...(s.input === "tokens" ? ["ids"] : []),
    ...(t.kind === "none" ? [] : t.kind === "value" ? valueColumns : ["target"]),
    ...(s.groups ? [s.groups.name] : []),
  ];
  const joiner = (level: "char" | "word") => (level === "char" ? "" : " ");
  // The steps that hold the example: padding is on one side of its true length.
  const live = (i: number) => {
    const n = Math.min(s.lengths[i]!, T);
    return s.padding === "pre" ? [T - n, T] : [0, n];
  };
  function* rows(): Generator<Row> {
    for (let i = 0; i < N; i++) {
      const [from, to] = live(i) as [number, number];
      const row = newRow({ example: i, length: s.lengths[i]! });
      if (s.input === "tokens") {
        const ids = Array.from(s.x.subarray(i * T + from, i * T + to));
        row.input = s.text
          ? ids.map((id) => s.text!.tokens[id] ?? "").join(joiner(s.text.level))
          : ids.join(" ");
        row.ids = ids;
      } else {
        const steps: Cell[] = [];
        for (let k = from; k < to; k++)
          steps.push(Array.from(s.x.subarray((i * T + k) * F, (i * T + k + 1) * F), f32));
        row.input = steps;
      }
      if (t.kind === "class") row.target = t.classes[t.y[i]!] ?? null;
      else if (t.kind === "sequence")
        row.target = Array.from(t.y.subarray(i * T + from, i * T + to))
          .filter((id) => id !== 0)
          .map((id) => t.tokens[id] ?? "")
          .join(joiner(t.level));
      else if (t.kind === "tokens") {
        const ids = Array.from(t.y.subarray(i * t.length, (i + 1) * t.length));
        const end = ids.indexOf(t.eos);
        row.target = (end < 0 ? ids : ids.slice(0, end))
          .filter((id) => id !== 0)
          .map((id) => t.tokens[id] ?? "")
          .join(joiner(t.level));
      } else if (t.kind === "value") {
        const names = t.names.length;
        for (let j = 0; j < t.size; j++) {
          const name = t.names[j % names]!;
          const ref = t.relativeTo?.[i * names + (j % names)];
          row[valueColumns[j]!] = f64(decodeValue(t.y[i * t.size + j]!, t.scaling?.[name], ref));
        }
      }
      if (s.groups) row[s.groups.name] = s.groups.values[i] ?? null;
      yield row;
    }
  }
  return { columns, rows: rows() };
}

/** One row per epoch: losses and metrics (validation ones prefixed val_), the learning rate, the gradient norm, each recurrent layer's gradient horizon and growth per step, and the best epoch marked. */
function historyRows(t: TrainedModel): Rows {
  const metrics = [...new Set(t.history.flatMap((e) => Object.keys(e.metrics)))];
  const hasVal = t.history.some((e) => e.valLoss !== undefined);
  const layers = [...new Set(t.history.flatMap((e) => (e.flow ?? []).map((l) => l.layer)))];
  const columns = [
    "epoch",
    "loss",
    ...metrics,
    ...(hasVal ? ["val_loss", ...metrics.map((m) => `val_${m}`)] : []),
    "lr",
    "grad_norm",
    ...layers.flatMap((l) => [`${l} horizon`, `${l} growth`]),
    "best",
  ];
  const rows = t.history.map((e) => {
    const row = newRow({ epoch: e.epoch, loss: f64(e.loss) });
    for (const m of metrics) row[m] = f64(e.metrics[m] ?? NaN);
    if (hasVal) {
      row.val_loss = f64(e.valLoss ?? NaN);
      for (const m of metrics) row[`val_${m}`] = f64(e.valMetrics?.[m] ?? NaN);
    }
    row.lr = f64(e.lr);
    row.grad_norm = f64(e.gradNorm);
    for (const l of layers) {
      const flow = e.flow?.find((f) => f.layer === l);
      row[`${l} horizon`] = flow ? flow.horizon : null;
      row[`${l} growth`] = flow?.growth ?? null;
    }
    row.best = e.epoch === t.bestEpoch;
    return row;
  });
  return { columns, rows };
}

/**
 * A report in long form, one number a row, as `dvc metrics show` lists them: `of` says whose number
 * it is (the model, a baseline, a class, a forecast step, a target, a group, another test set, a cell
 * of the confusion matrix) and `name` which one.
 */
function reportRows(r: Report): Rows {
  const rows: Row[] = [];
  const add = (of: string, name: string | null, metrics: Record<string, number>) => {
    for (const [metric, value] of Object.entries(metrics))
      rows.push({ of, name, metric, value: f64(value) });
  };
  add("model", null, r.metrics);
  for (const b of r.baselines ?? []) add("baseline", b.name, b.metrics);
  for (const c of r.perClass ?? [])
    add("class", c.label, {
      precision: c.precision,
      recall: c.recall,
      f1: c.f1,
      support: c.support,
    });
  for (const s of r.perStep ?? [])
    add("step", s.step, {
      mae: s.mae,
      rmse: s.rmse,
      ...Object.fromEntries(Object.entries(s.baselines).map(([b, v]) => [`${b} mae`, v])),
    });
  for (const t of r.perTarget ?? [])
    add("target", t.name, { mae: t.mae, rmse: t.rmse, mape: t.mape });
  for (const g of r.perGroup?.rows ?? [])
    add(`${r.perGroup!.column}`, g.group, { n: g.n, accuracy: g.accuracy });
  for (const s of r.sets ?? []) add("set", s.name, s.report.metrics);
  if (r.confusion) {
    const { labels, matrix } = r.confusion;
    matrix.forEach((row, i) =>
      add(
        "confusion",
        labels[i]!,
        Object.fromEntries(row.map((n, j) => [`predicted ${labels[j]!}`, n])),
      ),
    );
  }
  return { columns: ["of", "name", "metric", "value"], rows };
}

/** Per set, each measured distribution: its PSI and KS against the reference, means and spreads. */
function shiftRows(r: ShiftReport): Rows {
  const rows: Row[] = [];
  for (const s of r.sets) {
    const measured = [
      ...(s.lengths ? [{ ...s.lengths, name: "length" }] : []),
      ...s.features,
      ...(s.tokens ? [{ ...s.tokens.length, name: "tokens per sequence" }] : []),
      ...(s.targets ?? []),
    ];
    for (const f of measured)
      rows.push({
        set: s.name,
        measure: f.name,
        psi: f64(f.psi),
        ks: f64(f.ks),
        mean: f64(f.mean),
        reference_mean: f64(f.referenceMean),
        std: f64(f.std),
        reference_std: f64(f.referenceStd),
      });
    if (s.labels)
      rows.push({
        set: s.name,
        measure: "labels",
        psi: f64(s.labels.psi),
        ks: null,
        mean: null,
        reference_mean: null,
        std: null,
        reference_std: null,
      });
  }
  return {
    columns: ["set", "measure", "psi", "ks", "mean", "reference_mean", "std", "reference_std"],
    rows,
  };
}
