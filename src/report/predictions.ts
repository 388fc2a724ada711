import type { TrainedModel } from "../artifacts/model.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { count, decodeValue } from "../artifacts/sequences.js";
import { editDistance } from "../evaluation/metrics.js";
import { naiveForecast } from "../kinds/evaluate.js";
import type { Planner } from "../plan/planner.js";
import { readArtifact } from "../run/artifacts.js";
import { RuntimeUnavailable } from "../runtime/descriptor.js";
import { loadTf, type TF } from "../numerics/tf.js";
import { predictAll } from "../numerics/predict.js";
import { decode, inferenceModels } from "../numerics/seq2seq.js";
import { restoreModel } from "../numerics/weights.js";
import type { EvaluateView, ReportData, Samples } from "./collect.js";

/** Forecast examples drawn (the first of the test set, in its order). */
export const FORECAST_EXAMPLES = 300;
/** Decoded sequences shown per evaluate stage. */
export const DECODED_EXAMPLES = 12;

/**
 * What a report cannot read from a cached evaluation, because evaluate keeps only the scores: the
 * forecasts beside the truth and the baselines', and decoded sequences beside theirs. Made here
 * from the cached model and test data, on the backend the pipeline is keyed on, for evaluate stages
 * that are built; class reports need none. Loads TF.js only when some stage needs it.
 */
export async function addSamples(
  planner: Planner,
  data: ReportData,
  warn: (message: string) => void,
): Promise<void> {
  const wanted = data.evaluate.filter((e) => e.report.task !== "class");
  if (!wanted.length) return;
  const runtime = planner.runtime;
  if (!runtime || runtime instanceof RuntimeUnavailable) {
    warn(`no forecasts or decoded samples in the report: ${runtime?.message ?? "no backend"}`);
    return;
  }
  const tf = await loadTf(runtime);
  for (const e of wanted) {
    const inputs = inputsOf(planner, e);
    if (!inputs) continue;
    const model = await restoreModel(
      tf,
      inputs.trained.topology,
      inputs.trained.weightSpecs,
      inputs.trained.weights,
      runtime,
    );
    try {
      const beam = planner.stage(e.stage).params.beam;
      const samples = samplesOf(tf, model, inputs.data, typeof beam === "number" ? beam : 1);
      if (samples) e.samples = samples;
    } finally {
      model.dispose();
    }
  }
}

/** The trained model and the sequences an evaluate stage scored, from the cache. */
function inputsOf(
  planner: Planner,
  e: EvaluateView,
): { trained: TrainedModel; data: SequenceSet } | undefined {
  const s = planner.stage(e.stage);
  const artifact = (slot: string) => {
    const ref = s.inputs[slot];
    const outs = ref ? planner.outputsOf(ref.stage) : undefined;
    const digest = outs && (ref!.output !== undefined ? outs[ref!.output] : Object.values(outs)[0]);
    return digest ? readArtifact(planner.store, digest) : undefined;
  };
  const trained = artifact("model");
  const data = artifact("data");
  return trained?.type === "trained" && data?.type === "sequences" ? { trained, data } : undefined;
}

type Model = Awaited<ReturnType<typeof restoreModel>>;

function samplesOf(tf: TF, model: Model, data: SequenceSet, beam: number): Samples | undefined {
  const t = data.target;
  if (t.kind === "value") return forecasts(tf, model, data);
  if (t.kind === "tokens") {
    const n = Math.min(DECODED_EXAMPLES, count(data));
    const T = data.shape[1]!;
    const decoded = decode(
      tf,
      inferenceModels(tf, model),
      data.x.subarray(0, n * T) as Int32Array,
      [n, T],
      {
        bos: t.bos,
        eos: t.eos,
        maxLen: t.length,
        beam,
      },
    );
    const join = t.level === "char" ? "" : " ";
    const spell = (ids: readonly number[]) => ids.map((id) => t.tokens[id] ?? "?").join(join);
    return {
      kind: "decoded",
      rows: decoded.map((pred, i) => {
        const truth = Array.from(t.y.subarray(i * t.length, (i + 1) * t.length)).filter(
          (id) => id !== 0 && id !== t.eos,
        );
        return {
          input: inputText(data, i),
          truth: spell(truth),
          predicted: spell(pred),
          errors: editDistance(pred, truth),
        };
      }),
    };
  }
  if (t.kind === "sequence") {
    const n = Math.min(DECODED_EXAMPLES, count(data));
    const T = data.shape[1]!;
    const sub: SequenceSet = {
      ...data,
      x: data.x.subarray(0, n * T),
      shape: [n, T],
      lengths: data.lengths.subarray(0, n),
      target: { ...t, y: t.y.subarray(0, n * T) },
    };
    delete sub.batches;
    const { values, units } = predictAll(tf, model, sub);
    const classes = units / T;
    const join = t.level === "char" ? "" : " ";
    return {
      kind: "decoded",
      rows: Array.from({ length: n }, (_, i) => {
        const truth: number[] = [];
        const pred: number[] = [];
        for (let s = 0; s < T; s++) {
          const y = t.y[i * T + s]!;
          if (y === 0) continue;
          truth.push(y);
          pred.push(argmaxAt(values, (i * T + s) * classes, classes));
        }
        const spell = (ids: number[]) => ids.map((id) => t.tokens[id] ?? "?").join(join);
        return {
          input: inputText(data, i),
          truth: spell(truth),
          predicted: spell(pred),
          errors: pred.filter((p, k) => p !== truth[k]).length,
        };
      }),
    };
  }
  return undefined;
}

function argmaxAt(v: Float32Array, at: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (v[at + k]! > v[at + best]!) best = k;
  return best;
}

/** An example's input as text, from its token ids (padding and reserved tokens left out). */
function inputText(data: SequenceSet, i: number): string {
  const enc = data.text;
  if (!enc || data.input !== "tokens") return `#${i + 1}`;
  const T = data.shape[1]!;
  const reserved = new Set(Object.values(enc.reserved).filter((v) => v !== undefined));
  const ids = Array.from(data.x.subarray(i * T, (i + 1) * T)).filter((id) => !reserved.has(id));
  return ids.map((id) => enc.tokens[id] ?? "?").join(enc.level === "char" ? "" : " ");
}

/** Each target's first-step forecast, the truth and the baselines', in original units. */
function forecasts(tf: TF, model: Model, data: SequenceSet): Samples | undefined {
  const t = data.target;
  if (t.kind !== "value") return undefined;
  const { values } = predictAll(tf, model, data);
  const naive = naiveForecast(data);
  const baselines = [
    ...(data.baselines?.forecasts ?? []),
    ...(naive && !data.baselines?.forecasts?.some((f) => f.name === "naive")
      ? [{ name: "naive", y: naive }]
      : []),
  ];
  const unscale = (v: number, k: number, example: number) =>
    decodeValue(v, t.scaling?.[t.names[k]!], t.relativeTo?.[example * t.names.length + k]);
  const n = Math.min(FORECAST_EXAMPLES, count(data));
  const rows: Extract<Samples, { kind: "forecast" }>["rows"] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < t.names.length; k++) {
      const j = i * t.size + k; // step 1 of target k
      const row = (series: string, v: number) =>
        rows.push({ i: i + 1, step: 1, target: t.names[k]!, series, value: unscale(v, k, i) });
      row("actual", t.y[j]!);
      row("model", values[j]!);
      for (const b of baselines) row(b.name, b.y[j]!);
    }
  }
  return { kind: "forecast", rows };
}
