import { stdout } from "./io.js";

/** Colours of standard output, where previews go. */
const color = () => stdout().c;
import type { Artifact } from "../artifacts/index.js";
import { type LayerFlow, weightsEpoch, type TrainedModel } from "../artifacts/model.js";
import { type PortabilityCell, verdictLine, type Report } from "../artifacts/report.js";
import { isError } from "../evaluation/baselines.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { rowCount, type Table } from "../artifacts/table.js";
import type { Vocabulary } from "../artifacts/vocabulary.js";
import { psiLevel, type FeatureShift, type ShiftReport } from "../artifacts/shift.js";
import { table } from "./context.js";

/** What `rnnp show` prints for each artifact type: the part a person wants to look at. */
export function preview(a: Artifact, rows: number): string {
  switch (a.type) {
    case "table":
      return tablePreview(a, rows);
    case "vocabulary":
      return vocabularyPreview(a, rows);
    case "sequences":
      return sequencesPreview(a, rows);
    case "model":
      return (
        a.summary.map((l, i) => `  ${i + 1}. ${l}`).join("\n") +
        `\n  ${a.params} parameters; input ${a.input.dtype} [${a.input.shape.join(", ")}], output [${a.output.shape.join(", ")}] ${a.output.activation}`
      );
    case "trained":
      return trainedPreview(a);
    case "report":
      return reportPreview(a);
    case "shift":
      return shiftPreview(a, rows);
    case "files":
      return Object.entries(a.files)
        .map(([name, b]) => `  ${a.dir}/${name}  ${b.byteLength} bytes`)
        .join("\n");
  }
}

const indent = (s: string) =>
  s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
const num = (v: number) =>
  Number.isNaN(v)
    ? "NaN"
    : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0)
      ? v.toExponential(3)
      : String(+v.toPrecision(5));
const clip = (s: string) => (s.length > 48 ? `${s.slice(0, 45)}...` : s);

function tablePreview(t: Table, n: number): string {
  const shown = Math.min(n, rowCount(t));
  const body = [t.columns.map((c) => color().bold(c.name))];
  const cell = (c: Table["columns"][number], i: number) =>
    c.dtype === "number"
      ? num(c.values[i]!)
      : c.dtype === "audio"
        ? `[${(c.values[i]!.length / c.sampleRate).toFixed(2)} s of audio]`
        : JSON.stringify(c.values[i]);
  for (let i = 0; i < shown; i++) body.push(t.columns.map((c) => clip(cell(c, i))));
  const more = rowCount(t) > shown ? color().dim(`\n  ... ${rowCount(t) - shown} more rows`) : "";
  return indent(table(body)) + more;
}

function vocabularyPreview(v: Vocabulary, n: number): string {
  const body = [[color().bold("id"), color().bold("token"), color().bold("count")]];
  for (let i = 0; i < Math.min(v.tokens.length, n + Object.keys(v.reserved).length); i++)
    body.push([String(i), JSON.stringify(v.tokens[i]), String(v.counts[i])]);
  return (
    indent(table(body)) +
    (v.tokens.length > n
      ? color().dim(`\n  ... ${v.tokens.length - n - Object.keys(v.reserved).length} more tokens`)
      : "")
  );
}

function sequencesPreview(s: SequenceSet, n: number): string {
  const N = s.shape[0]!;
  const T = s.shape[1]!;
  const body = [
    [color().bold("#"), color().bold("length"), color().bold("target"), color().bold("input")],
  ];
  for (let i = 0; i < Math.min(n, N); i++) {
    let input: string;
    if (s.input === "tokens") {
      const ids = Array.from(s.x.subarray(i * T, (i + 1) * T)).filter(
        (id) => id !== (s.text?.reserved.pad ?? 0),
      );
      input = s.text
        ? ids.map((id) => s.text!.tokens[id]).join(s.text.level === "char" ? "" : " ")
        : ids.join(" ");
    } else {
      const F = s.shape[2]!;
      input = `[${Array.from(s.x.subarray(i * T * F, i * T * F + Math.min(3, T) * F), num).join(", ")}${T > 3 ? ", ..." : ""}]`;
    }
    const t = s.target;
    const target =
      t.kind === "class"
        ? t.classes[t.y[i]!]!
        : t.kind === "value"
          ? Array.from(t.y.subarray(i * t.size, (i + 1) * t.size), num).join(", ")
          : t.kind === "sequence"
            ? Array.from(t.y.subarray(i * T, (i + 1) * T))
                .filter((id) => id !== 0)
                .map((id) => t.tokens[id])
                .join(t.level === "char" ? "" : " ")
            : "";
    body.push([String(i), String(s.lengths[i]), target, clip(JSON.stringify(input))]);
  }
  return indent(table(body)) + (N > n ? color().dim(`\n  ... ${N - n} more sequences`) : "");
}

function trainedPreview(t: TrainedModel): string {
  const metricNames = [...new Set(t.history.flatMap((e) => Object.keys(e.metrics)))];
  const hasVal = t.history.some((e) => e.valLoss !== undefined);
  const layers = [...new Set(t.history.flatMap((e) => (e.flow ?? []).map((l) => l.layer)))];
  const head = [
    "epoch",
    "loss",
    ...metricNames,
    ...(hasVal ? ["val_loss", ...metricNames.map((m) => `val_${m}`)] : []),
    "lr",
    "|grad|",
    // Per recurrent layer: steps back its gradient reaches, of all steps, and its growth per step.
    ...layers.map((l) => `${l} horizon`),
  ];
  const body = [head.map((h) => color().bold(h))];
  for (const e of t.history) {
    const flow = (layer: string) => e.flow?.find((l) => l.layer === layer);
    body.push([
      `${e.epoch}${e.epoch === t.bestEpoch ? "*" : ""}`,
      num(e.loss),
      ...metricNames.map((m) => num(e.metrics[m] ?? NaN)),
      ...(hasVal
        ? [num(e.valLoss ?? NaN), ...metricNames.map((m) => num(e.valMetrics?.[m] ?? NaN))]
        : []),
      num(e.lr),
      num(e.gradNorm),
      ...layers.map((l) => horizonCell(flow(l))),
    ]);
  }
  const notes = [
    ...(t.bestEpoch !== undefined
      ? [
          weightsEpoch(t).restored
            ? "* best epoch (weights restored from it)"
            : "* best epoch (weights not restored)",
        ]
      : []),
    ...(t.baselineLoss !== undefined
      ? [`baseline: the best constant prediction scores loss ${num(t.baselineLoss)}`]
      : []),
  ];
  const warnings = t.warnings.map((w) => color().yellow(`warning: ${w}`));
  return [
    indent(table(body)),
    ...(notes.length ? [indent(notes.join("\n"))] : []),
    ...flowPreview(t),
    ...(warnings.length ? [indent(warnings.join("\n"))] : []),
  ].join("\n");
}

/** "12/12 x0.78": steps back the gradient reaches, of all, and how it changes per step back. */
function horizonCell(l: LayerFlow | undefined): string {
  if (!l) return "";
  return `${l.horizon}/${l.norms.length}${l.growth === null ? "" : ` x${num(l.growth)}`}`;
}

const percent = (v: number | undefined) =>
  v === undefined ? "-" : `${+(100 * v).toPrecision(2)}%`;

/** The last epoch's gradient flow, per recurrent layer: horizon, growth, saturation. */
function flowPreview(t: TrainedModel): string[] {
  const last = t.history.at(-1);
  if (!last?.flow?.length) return [];
  const body = [
    [
      "layer",
      "cell",
      "horizon",
      "growth/step",
      "candidates saturated",
      "gates near 0",
      "near 1",
    ].map((h) => color().bold(h)),
    ...last.flow.map((l) => [
      l.layer,
      l.cell,
      `${l.horizon} of ${l.norms.length} steps`,
      l.growth === null ? "-" : `x${num(l.growth)}`,
      percent(l.saturation?.candidates),
      percent(l.saturation?.gates?.near0),
      percent(l.saturation?.gates?.near1),
    ]),
  ];
  const tfjs = last.flow.some((l) => l.source === "tfjs");
  return [
    color().dim(
      `  gradient flow through time at epoch ${last.epoch}: the horizon counts the steps back over which ‖∂loss/∂h‖ keeps at least 1% of its last-step value; growth is its mean ratio per step back`,
    ),
    indent(table(body)),
    ...(tfjs
      ? [
          color().dim(
            "  gate saturation is measured on rnnp's fused kernels only (the layers above marked - run TF.js's cells)",
          ),
        ]
      : []),
  ];
}

/** The portability table: each set (and group) with each metric, its baseline and the change. */
export function portabilityPreview(pt: NonNullable<Report["portability"]>): string {
  // The change from the reference set, signed as the metric moves (accuracy -0.05, mae +0.3).
  const change = (c: PortabilityCell) => {
    const v = isError(c.metric) ? c.drop : -c.drop;
    const text = v === 0 ? "0" : `${v > 0 ? "+" : "-"}${num(Math.abs(v))}`;
    return c.drop > 0 ? color().yellow(text) : text;
  };
  const head = ["set", "n", ...pt.metrics.flatMap((m) => [m, "baseline", "change"])].map((h) =>
    color().bold(h),
  );
  const rows = pt.rows.map((row) => [
    row.group !== undefined ? `  ${row.group}` : row.set,
    String(row.n),
    ...row.cells.flatMap((c) => {
      const base =
        c.baseline !== undefined
          ? `${c.baseline} ${num(c.baselineValue!)}${c.beats ? "" : " (not beaten)"}`
          : "";
      return [
        num(c.model),
        c.beats === false ? color().yellow(base) : base,
        row.set === pt.reference && row.group === undefined ? "" : change(c),
      ];
    }),
  ]);
  return [
    color().dim(
      `  portability: each set beside its strongest baseline, and the change from "${pt.reference}"`,
    ),
    indent(table([head, ...rows])),
  ].join("\n");
}

function reportPreview(r: Report): string {
  const parts = [
    indent(
      table([
        [color().bold("metric"), color().bold("value")],
        ...Object.entries(r.metrics).map(([k, v]) => [k, num(v)]),
      ]),
    ),
  ];
  if (r.perClass) {
    parts.push(
      indent(
        table([
          ["class", "precision", "recall", "f1", "support"].map((h) => color().bold(h)),
          ...r.perClass.map((c) => [
            c.label,
            num(c.precision),
            num(c.recall),
            num(c.f1),
            c.support === 0 ? color().yellow("0 (no test example)") : String(c.support),
          ]),
        ]),
      ),
    );
  }
  if (r.confusion && r.confusion.labels.length <= 20) {
    const labels = r.confusion.labels;
    parts.push(
      color().dim("  confusion (rows: true class, columns: predicted)"),
      indent(
        table([
          ["", ...labels].map((h) => color().bold(h)),
          ...r.confusion.matrix.map((row, i) => [color().bold(labels[i]!), ...row.map(String)]),
        ]),
      ),
    );
  }
  if (r.perGroup) {
    parts.push(
      indent(
        table([
          [r.perGroup.column, "n", "accuracy"].map((h) => color().bold(h)),
          ...r.perGroup.rows.map((g) => [g.group, String(g.n), num(g.accuracy)]),
        ]),
      ),
    );
  }
  if (r.zeroSupport?.length)
    parts.push(
      color().yellow(
        `  ${r.zeroSupport.length} class${r.zeroSupport.length === 1 ? " has" : "es have"} no test example (${r.zeroSupport.join(", ")}): macro averages over all classes count them as 0; the *Present averages leave them out`,
      ),
    );
  if (r.baselines?.length) {
    const names = [...new Set(r.baselines.flatMap((b) => Object.keys(b.metrics)))].filter(
      (m) => m in r.metrics,
    );
    parts.push(
      indent(
        table([
          ["baseline", ...names, "what it predicts"].map((h) => color().bold(h)),
          ["(model)", ...names.map((m) => num(r.metrics[m]!)), ""],
          ...r.baselines.map((b) => [
            b.name,
            ...names.map((m) => (b.metrics[m] === undefined ? "" : num(b.metrics[m]!))),
            b.doc,
          ]),
        ]),
      ),
    );
  }
  if (r.verdict) {
    const line = `  ${verdictLine(r.verdict)}`;
    parts.push(r.verdict.beats ? color().green(line) : color().yellow(line));
  }
  if (r.perStep) {
    const names = Object.keys(r.perStep[0]?.baselines ?? {});
    parts.push(
      indent(
        table([
          ["step", "mae", "rmse", ...names.map((n) => `${n} mae`)].map((h) => color().bold(h)),
          ...r.perStep.map((s) => [
            s.step,
            num(s.mae),
            num(s.rmse),
            ...names.map((n) => num(s.baselines[n] ?? NaN)),
          ]),
        ]),
      ),
    );
  }
  if (r.portability) parts.push(portabilityPreview(r.portability));
  if (r.perTarget)
    parts.push(
      indent(
        table([
          ["target", "mae", "rmse", "mape %"].map((h) => color().bold(h)),
          ...r.perTarget.map((t) => [
            t.name,
            num(t.mae),
            num(t.rmse),
            t.mape < 0 ? "-" : num(t.mape),
          ]),
        ]),
      ),
    );
  return parts.join("\n\n");
}

/** Sets ranked by shift; under each, what moved most (features, tokens, labels). */
function shiftPreview(r: ShiftReport, rows: number): string {
  const level = (psi: number) => {
    const l = psiLevel(psi);
    const text = `${num(psi)} (${l})`;
    return l === "large" ? color().yellow(text) : text;
  };
  const parts = [
    indent(
      table([
        ["set", "n", "largest PSI", "of"].map((h) => color().bold(h)),
        ...r.sets.map((s) => [s.name, String(s.n), level(s.score), s.worst]),
      ]),
    ),
  ];
  const featureRows = (fs: FeatureShift[]) =>
    fs
      .slice(0, rows)
      .map((f) => [
        f.name,
        level(f.psi),
        num(f.ks),
        `${num(f.mean)} (${num(f.referenceMean)})`,
        `${num(f.std)} (${num(f.referenceStd)})`,
      ]);
  const featureHead = ["", "PSI", "KS", "mean (reference)", "std (reference)"];
  for (const s of r.sets) {
    parts.push(color().bold(`  ${s.name}`));
    const measured = [
      ...(s.lengths ? featureRows([s.lengths]) : []),
      ...featureRows(s.features),
      ...(s.tokens ? featureRows([s.tokens.length]) : []),
      ...featureRows(s.targets ?? []),
    ];
    if (measured.length)
      parts.push(indent(table([featureHead.map((h) => color().bold(h)), ...measured])));
    if (s.features.length > rows)
      parts.push(color().dim(`    ... ${s.features.length - rows} more features`));
    if (s.tokens)
      parts.push(
        `    out of vocabulary ${pct(s.tokens.oovRate)} (reference ${pct(s.tokens.referenceOovRate)}); cut at the maximum length ${pct(s.tokens.truncated)} (reference ${pct(s.tokens.referenceTruncated)}); token frequencies PSI ${level(s.tokens.tokenPsi)}`,
      );
    if (s.labels) {
      // The classes whose shares moved most.
      const moved = [...s.labels.shares]
        .sort((a, b) => Math.abs(b.set - b.reference) - Math.abs(a.set - a.reference))
        .filter((x) => x.set !== x.reference)
        .slice(0, 4);
      parts.push(
        `    labels: PSI ${level(s.labels.psi)}, total variation ${num(s.labels.tv)}${
          moved.length
            ? `; moved most: ${moved.map((x) => `${x.label} ${pct(x.set)} (${pct(x.reference)})`).join(", ")}`
            : "; the same shares as the reference"
        }`,
      );
    }
  }
  return parts.join("\n");
}

const pct = (v: number) => `${+(100 * v).toPrecision(3)}%`;
