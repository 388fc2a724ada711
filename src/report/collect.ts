import type { Json } from "../core/canonical.js";
import { weightsEpoch, type EpochRecord, type TrainedModel } from "../artifacts/model.js";
import type { Report } from "../artifacts/report.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { rowCount, type Table } from "../artifacts/table.js";
import type { Artifact } from "../artifacts/index.js";
import type { StageIR } from "../lang/ir.js";
import type { Planner } from "../plan/planner.js";
import { explain, type Reason } from "../plan/why.js";
import { readArtifact } from "../run/artifacts.js";
import { runtimeText } from "../runtime/descriptor.js";
import { defaultMetric, isError } from "../evaluation/baselines.js";
import { chooseBest } from "../evaluation/selection.js";
import { GRADIENT_LIMITS } from "../numerics/train.js";

/**
 * What the HTML report shows, read from the plan and the cache (nothing runs): plain JSON, so the
 * page embeds it as it is and the tests read it without a browser.
 */
export interface ReportData {
  pipeline: string;
  file: string;
  /** When the report was made, and by which rnnp. */
  made: { at: string; rnnp: string };
  sweep?: Record<string, Json[]>;
  stages: StageView[];
  edges: { from: string; to: string; label: string }[];
  train: TrainView[];
  evaluate: EvaluateView[];
  data: DataStageView[];
  sweeps: SweepView[];
}

/**
 * A stage's state: in this machine's cache; built by the run the report is made after; only in the
 * remote cache (a run downloads it), or fetched from it; failed, or skipped because a stage above
 * failed, in that run; stale (its inputs are known and it is not cached); waiting on a stale stage
 * above it; or impossible to plan (a missing data file).
 */
export type StageState =
  | "cached"
  | "ran"
  | "remote"
  | "failed"
  | "skipped"
  | "stale"
  | "waiting"
  | "invalid";

/**
 * What the cache alone cannot tell: how each stage of a run ended (`rnnp run --report`), and which
 * stale stages the remote cache holds.
 */
export interface Known {
  remoteFresh?: ReadonlySet<string>;
  outcomes?: ReadonlyMap<string, RunOutcome>;
}

export interface RunOutcome {
  status: "ran" | "cached" | "failed" | "skipped";
  /** Fetched from the remote cache in this run. */
  remote?: boolean;
  /** Failed: what went wrong; skipped: the failed stages above it. */
  because?: string;
}

export interface StageView {
  name: string;
  kind: string;
  state: StageState;
  key?: string;
  durationMs?: number;
  /** Sum of the outputs' stored sizes. */
  bytes?: number;
  outputs: { name: string; type: string; size: number; summary: string; digest: string }[];
  params: Record<string, Json>;
  /** Stage parameter -> the pipeline params it was taken from. */
  paramOrigins: Record<string, string[]>;
  variant?: { of: string; values: Record<string, Json> };
  /** The manifest its key is the hash of: kind, version, params, input digests, files, seed, runtime. */
  manifest?: Json;
  provenance?: {
    createdAt: string;
    durationMs: number;
    rnnpVersion: string;
    runtime?: string;
    tools?: Record<string, string>;
  };
  why: { state: string; reasons: Reason[] };
}

export interface TrainView {
  stage: string;
  variant?: Record<string, Json>;
  /** The family of a swept stage (`fit` for `fit@units=64`), so variants overlay on one chart. */
  family: string;
  history: EpochRecord[];
  /** The epoch whose weights the model holds, and whether early stopping restored it. */
  weightsEpoch?: number;
  restored: boolean;
  warnings: string[];
  /** The training monitor's thresholds on gradient norms (per layer), drawn on the norm charts. */
  limits: { vanishing: number; exploding: number; explodingRatio: number };
  /** Recurrent layers' gradient flow through time, per epoch (when the model recorded it). */
  flow: { layer: string; epoch: number; stepsBack: number; norm: number }[];
}

export interface EvaluateView {
  stage: string;
  variant?: Record<string, Json>;
  family: string;
  /** The train stage whose model it scores. */
  model?: string;
  report: Report;
  /** The verdict's metric (the kind's default when there is no verdict). */
  metric: string;
  higherIsBetter: boolean;
  /** Forecasts or decoded sequences beside the truth, when the report command computed them. */
  samples?: Samples;
}

/** Predictions next to the truth, made again from the cached model and data (see predictions.ts). */
export type Samples =
  | {
      kind: "forecast";
      /** One row per example and step: the truth, the model and each baseline, in original units. */
      rows: { i: number; step: number; target: string; series: string; value: number }[];
    }
  | {
      kind: "decoded";
      rows: { input: string; truth: string; predicted: string; errors: number }[];
    };

export interface DataStageView {
  stage: string;
  kind: string;
  parts: PartView[];
}

export interface PartView {
  /** The output's name (train, val, test; out for a single output). */
  part: string;
  type: "table" | "sequences";
  rows: number;
  /** Rows per class of the label (tables with a label role, sequences with class targets). */
  classes?: { label: string; count: number }[];
  /** Encoded text: how many sequences have each true length, and the length they were padded or cut to. */
  lengths?: { length: number; count: number }[];
  maxLen?: number;
  /** Sequences at the length limit (those truncation may have cut). */
  atLimit?: number;
}

export interface SweepView {
  /** The evaluate stage swept (its family name). */
  stage: string;
  metric: string;
  higherIsBetter: boolean;
  swept: string[];
  /** The variant `rnnp compare` chooses: the lowest validation loss of the model it scores. */
  chosen?: string;
  rows: {
    stage: string;
    variant: Record<string, Json>;
    label: string;
    metrics?: Record<string, number>;
    validation?: number;
    baseline?: { name: string; value: number };
  }[];
}

/** The report's data: every stage's view, and the charts' data of those that are built here. */
export function collectReport(
  planner: Planner,
  known: Known,
  made: ReportData["made"],
): ReportData {
  const stages = stageViews(planner, known);
  const built = (s: StageIR) => {
    const r = planner.resolve(s.name);
    return r.state === "keyed" && r.record ? r.record : undefined;
  };
  const read = (s: StageIR, output: string): Artifact | undefined => {
    const ref = built(s)?.outputs[output];
    return ref ? readArtifact(planner.store, ref.digest) : undefined;
  };
  const train: TrainView[] = [];
  const evaluate: EvaluateView[] = [];
  const data: DataStageView[] = [];
  for (const s of planner.order) {
    const record = built(s);
    if (!record) continue;
    const outputs = Object.keys(record.outputs);
    const first = read(s, outputs[0]!);
    if (first?.type === "trained") train.push(trainView(s, first));
    else if (first?.type === "report") evaluate.push(evaluateView(s, first));
    else if (first?.type === "table" || first?.type === "sequences") {
      const parts = outputs.flatMap((o) => {
        const a = o === outputs[0] ? first : read(s, o);
        return a?.type === "table" || a?.type === "sequences" ? [partView(o, a)] : [];
      });
      data.push({ stage: s.name, kind: s.kind.name, parts });
    }
  }
  return {
    pipeline: planner.ir.name,
    file: planner.ir.file,
    made,
    ...(planner.ir.sweep ? { sweep: planner.ir.sweep } : {}),
    stages,
    edges: planner.order.flatMap((s) =>
      Object.entries(s.inputs).map(([slot, ref]) => ({
        from: ref.stage,
        to: s.name,
        label: ref.output !== undefined ? `${ref.output} -> ${slot}` : slot,
      })),
    ),
    train,
    evaluate,
    data,
    sweeps: sweepViews(planner, evaluate, train),
  };
}

/** Every stage's state, key, cost and why, in the plan's order. */
export function stageViews(planner: Planner, known: Known = {}): StageView[] {
  for (const s of planner.order) planner.resolve(s.name);
  return planner.order.map((s) => {
    const view = stageView(planner, s, known.remoteFresh ?? new Set());
    const outcome = known.outcomes?.get(s.name);
    return outcome ? withOutcome(view, outcome) : view;
  });
}

/** A stage as the run left it: ran, fetched, failed (and why), or skipped. */
function withOutcome(view: StageView, o: RunOutcome): StageView {
  if (o.status === "failed" || o.status === "skipped") {
    const text =
      o.status === "failed"
        ? `failed in this run: ${o.because ?? "see the run's output"}`
        : `skipped in this run: ${o.because ?? "a stage above it"} failed`;
    return { ...view, state: o.status, why: { state: o.status, reasons: [{ text }] } };
  }
  if (view.state !== "cached") return view;
  return o.remote
    ? { ...view, state: "remote" }
    : o.status === "ran"
      ? { ...view, state: "ran" }
      : view;
}

function stageView(planner: Planner, s: StageIR, remoteFresh: ReadonlySet<string>): StageView {
  const res = planner.resolve(s.name);
  const base = {
    name: s.name,
    kind: s.kind.name,
    params: s.params,
    paramOrigins: s.paramOrigins,
    ...(s.variant ? { variant: s.variant } : {}),
    why: explain(planner, s.name),
  };
  if (res.state !== "keyed")
    return { ...base, state: res.state === "waiting" ? "waiting" : "invalid", outputs: [] };
  const manifest = res.fingerprint as unknown as Json;
  const record = res.record;
  if (!record)
    return {
      ...base,
      state: remoteFresh.has(s.name) ? "remote" : "stale",
      key: res.key,
      manifest,
      outputs: [],
    };
  const outputs = Object.entries(record.outputs).map(([name, o]) => ({
    name,
    type: o.type,
    size: o.size,
    summary: o.summary,
    digest: o.digest,
  }));
  const fp = record.manifest;
  return {
    ...base,
    state: "cached",
    key: res.key,
    durationMs: record.provenance.durationMs,
    bytes: outputs.reduce((n, o) => n + o.size, 0),
    outputs,
    manifest,
    provenance: {
      createdAt: record.provenance.createdAt,
      durationMs: record.provenance.durationMs,
      rnnpVersion: record.provenance.rnnpVersion,
      ...(fp.runtime
        ? {
            runtime: runtimeText({
              backend: fp.runtime.backend,
              version: fp.runtime.version,
              ...(fp.runtime.kernels ? { kernels: fp.runtime.kernels } : {}),
            } as never),
          }
        : {}),
      ...(fp.tools ? { tools: fp.tools } : {}),
    },
  };
}

/** The parts of a sweep variant's name before its values: `fit` of `fit@units=64`. */
const familyOf = (s: StageIR) => s.variant?.of ?? s.name;

/** Gradient flow as the trained model may carry it (recorded with `gradientFlow`). */
interface FlowRecord {
  layer: string;
  norms: number[];
}

export function trainView(s: StageIR, t: TrainedModel): TrainView {
  const { epoch, restored } = weightsEpoch(t);
  const flow = t.history.flatMap((e) =>
    ((e as EpochRecord & { flow?: FlowRecord[] }).flow ?? []).flatMap((f) =>
      f.norms.map((norm, k) => ({ layer: f.layer, epoch: e.epoch, stepsBack: k, norm })),
    ),
  );
  return {
    stage: s.name,
    ...(s.variant ? { variant: s.variant.values } : {}),
    family: familyOf(s),
    // Without the flow: it is drawn from `flow` below, in long form.
    history: t.history.map(({ ...e }) => {
      delete (e as { flow?: unknown }).flow;
      return e;
    }),
    ...(epoch ? { weightsEpoch: epoch.epoch } : {}),
    restored,
    warnings: t.warnings,
    limits: { ...GRADIENT_LIMITS },
    flow,
  };
}

function evaluateView(s: StageIR, r: Report): EvaluateView {
  const metric = r.verdict?.metric ?? defaultMetric(r);
  return {
    stage: s.name,
    ...(s.variant ? { variant: s.variant.values } : {}),
    family: familyOf(s),
    ...(s.inputs.model ? { model: s.inputs.model.stage } : {}),
    report: r,
    metric,
    higherIsBetter: r.verdict?.higherIsBetter ?? !isError(metric),
  };
}

function partView(part: string, a: Table | SequenceSet): PartView {
  if (a.type === "table") {
    const label = a.roles.label
      ? a.columns.find((c) => c.name === a.roles.label && c.dtype === "string")
      : undefined;
    return {
      part,
      type: "table",
      rows: rowCount(a),
      ...(label ? { classes: tally(label.values as string[]) } : {}),
    };
  }
  const n = a.shape[0] ?? 0;
  const t = a.target;
  const byLength = new Map<number, number>();
  for (const len of a.lengths) byLength.set(len, (byLength.get(len) ?? 0) + 1);
  const maxLen = a.shape[1] ?? 0;
  return {
    part,
    type: "sequences",
    rows: n,
    ...(t.kind === "class"
      ? { classes: tally(Array.from(t.y, (c) => t.classes[c] ?? String(c))) }
      : {}),
    // Windows of features all have the window's length: only encoded text has a distribution.
    ...(a.input === "tokens"
      ? {
          lengths: [...byLength]
            .sort(([x], [y]) => x - y)
            .map(([length, count]) => ({ length, count })),
          maxLen,
          atLimit: byLength.get(maxLen) ?? 0,
        }
      : {}),
  };
}

/** Counts per value, by value (stable across runs). */
function tally(values: readonly string[]): { label: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, count]) => ({ label, count }));
}

/**
 * Sweeps: per swept evaluate stage, its chosen metric (the verdict's) across the variants, with the
 * validation loss of the model each scores (the number a variant is chosen by) and the baseline.
 */
function sweepViews(planner: Planner, evaluate: EvaluateView[], train: TrainView[]): SweepView[] {
  const families = new Map<string, StageIR[]>();
  for (const s of planner.order)
    if (s.variant && s.kind.outputType === "report")
      families.set(s.variant.of, [...(families.get(s.variant.of) ?? []), s]);
  const trained = new Map(train.map((t) => [t.stage, t]));
  return [...families].map(([family, variants]) => {
    const views = new Map(evaluate.filter((e) => e.family === family).map((e) => [e.stage, e]));
    const first = views.values().next().value as EvaluateView | undefined;
    const metric = first?.metric ?? "accuracy";
    const swept = [...new Set(variants.flatMap((v) => Object.keys(v.variant!.values)))];
    const rows = variants.map((v) => {
      const e = views.get(v.name);
      const t = e?.model ? trained.get(e.model) : undefined;
      const at = t?.history.find((h) => h.epoch === t.weightsEpoch);
      return {
        stage: v.name,
        variant: v.variant!.values,
        label: swept.map((p) => `${p}=${JSON.stringify(v.variant!.values[p])}`).join(", "),
        ...(e ? { metrics: e.report.metrics } : {}),
        ...(at?.valLoss !== undefined ? { validation: at.valLoss } : {}),
        ...(e?.report.verdict
          ? {
              baseline: {
                name: e.report.verdict.baseline,
                value: e.report.verdict.baselineValue,
              },
            }
          : {}),
      };
    });
    const chosen = chooseBest(rows, (r) => r.validation, "val_loss");
    return {
      stage: family,
      metric,
      higherIsBetter: first?.higherIsBetter ?? true,
      swept,
      ...(chosen ? { chosen: chosen.stage } : {}),
      rows,
    };
  });
}
