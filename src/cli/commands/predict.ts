import { fromCwd, io, stdout } from "../io.js";
import { readFileSync } from "node:fs";
import { parse as parseCsv } from "csv-parse/sync";
import type { TrainedData, TrainedModel } from "../../artifacts/model.js";
import { decodeValue, type SequenceSet } from "../../artifacts/sequences.js";
import { encodeTexts } from "../../kinds/encode.js";
import { encodeRows } from "../../kinds/window.js";
import { predictAll } from "../../numerics/predict.js";
import { decode, inferenceModels } from "../../numerics/seq2seq.js";
import { RuntimeUnavailable } from "../../runtime/descriptor.js";
import { loadTf } from "../../numerics/tf.js";
import { restoreModel } from "../../numerics/weights.js";
import { readArtifact } from "../../run/artifacts.js";
import { EXIT, Exit, openPlan, printJson, table, type CommonOptions } from "../context.js";
import { builtStage, oneStage } from "../stages.js";

export interface PredictOptions extends CommonOptions {
  stage: string;
  beam?: number;
  input?: string[];
  file?: string;
  top?: number;
  json?: boolean;
}

/**
 * Runs a cached trained model on new input, encoded the way its training data was: text given with
 * --input (repeatable) or as the lines of --file; for window models, a CSV --file whose last rows
 * form the window.
 */
export async function predictCommand(
  file: string | undefined,
  opts: PredictOptions,
): Promise<number> {
  const planner = await openPlan(file, opts);
  const stage = oneStage(planner, opts.stage, "--stage");
  opts = { ...opts, stage };
  if (planner.stage(stage).kind.outputType !== "trained")
    throw new Exit(
      EXIT.invalid,
      `--stage ${stage}: ${/^[aeiou]/.test(planner.stage(stage).kind.name) ? "an" : "a"} ${planner.stage(stage).kind.name} stage, not a train stage`,
    );
  const res = builtStage(planner, stage, "--stage");
  const trained = readArtifact(planner.store, res.record.outputs.out!.digest) as TrainedModel;
  const data = trained.data;
  if (opts.beam !== undefined && data.target.kind !== "tokens")
    throw new Exit(
      EXIT.invalid,
      `--beam: \`${opts.stage}\` is not an encoder-decoder; beams are for decoding token sequences`,
    );
  const fileText = opts.file !== undefined ? await readInputFile(opts.file) : undefined;
  const { set, labels, relativeTo } = inputsFor(data, opts, fileText);
  if (!planner.runtime || planner.runtime instanceof RuntimeUnavailable)
    throw new Exit(EXIT.failed, planner.runtime?.message ?? "no numeric backend");
  const tf = await loadTf(planner.runtime);
  const model = await restoreModel(
    tf,
    trained.topology,
    trained.weightSpecs,
    trained.weights,
    planner.runtime,
  );
  const target = data.target;
  if (target.kind === "tokens") {
    // An encoder-decoder: decode each input (greedy, or beam search with --beam).
    const t = target;
    const decoded = decode(
      tf,
      inferenceModels(tf, model),
      set.x as Int32Array,
      set.shape as [number, number],
      { bos: t.bos, eos: t.eos, maxLen: t.length, beam: opts.beam ?? 1 },
    );
    model.dispose();
    const results = labels.map((input, i) => ({
      input,
      output: decoded[i]!.map((id) => t.tokens[id]).join(t.level === "char" ? "" : " "),
    }));
    if (opts.json) printJson({ stage: opts.stage, key: res.key, results });
    else for (const r of results) stdout().write(`${stdout().c.bold(r.input)}  ${r.output}\n`);
    return EXIT.ok;
  }
  const { values, units } = predictAll(tf, model, set);
  model.dispose();
  const top = opts.top ?? 3;
  const rows = labels.map((label, i) => {
    const out = values.subarray(i * units, (i + 1) * units);
    if (target.kind === "sequence") {
      // A token per input step: decode where the input is not padding.
      const steps = set.shape[1]!;
      const vocab = units / steps;
      const tokens: string[] = [];
      for (let t = 0; t < steps; t++) {
        if (set.x[i * steps + t] === 0) continue;
        let best = 0;
        for (let k = 1; k < vocab; k++) if (out[t * vocab + k]! > out[t * vocab + best]!) best = k;
        if (best !== 0) tokens.push(target.tokens[best]!);
      }
      return {
        input: label,
        predictions: [{ output: tokens.join(target.level === "char" ? "" : " ") }],
      };
    }
    if (target.kind === "class") {
      const classes = target.classes;
      const probs = units === 1 ? [1 - out[0]!, out[0]!] : Array.from(out);
      const ranked = probs
        .map((p, c) => ({ label: classes[c]!, p }))
        .sort((a, b) => b.p - a.p)
        .slice(0, top);
      return { input: label, predictions: ranked };
    }
    if (target.kind !== "value")
      throw new Exit(EXIT.failed, `\`${opts.stage}\` was trained without a target to predict`);
    const names = target.names;
    const predicted = Array.from(out, (v, j) => {
      const name = names[j % names.length]!;
      return {
        target: name,
        step: Math.floor(j / names.length) + 1,
        value: decodeValue(v, target.scaling?.[name], relativeTo?.get(name)),
      };
    });
    return { input: label, predictions: predicted };
  });
  if (opts.json) printJson({ stage: opts.stage, key: res.key, results: rows });
  else {
    for (const r of rows) {
      stdout().write(`${stdout().c.bold(r.input)}\n`);
      stdout().write(
        table(
          r.predictions.map((p) =>
            "output" in p
              ? [`  ${p.output}`]
              : "label" in p
                ? [`  ${p.label}`, `${(100 * p.p).toFixed(1)}%`]
                : [
                    `  ${p.target}${target.kind === "value" && target.horizon > 1 ? ` (+${p.step})` : ""}`,
                    String(+p.value.toPrecision(6)),
                  ],
          ),
        ) + "\n",
      );
    }
  }
  return EXIT.ok;
}

/** --file's text: standard input for `-`, else the file (a missing one is a usage error, not a crash). */
async function readInputFile(path: string): Promise<string> {
  if (path === "-") {
    const chunks: Buffer[] = [];
    for await (const c of io().stdin)
      chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return readFileSync(fromCwd(path), "utf8");
  } catch (e) {
    throw new Exit(
      EXIT.invalid,
      `--file ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}

function inputsFor(
  data: TrainedData,
  opts: PredictOptions,
  fileText: string | undefined,
): { set: SequenceSet; labels: string[]; relativeTo?: Map<string, number> } {
  if (data.text) {
    const texts = [
      ...(opts.input ?? []),
      ...(fileText !== undefined ? fileText.split(/\r?\n/).filter((l) => l.trim() !== "") : []),
    ];
    if (texts.length === 0)
      throw new Exit(
        EXIT.invalid,
        'give text to classify with --input "..." (repeatable) or --file FILE (one text per line)',
      );
    return { set: encodeTexts(texts, data.text), labels: texts };
  }
  if (data.window) {
    if (fileText === undefined)
      throw new Exit(
        EXIT.invalid,
        `this model reads windows of ${data.window.length} rows of ${data.window.columns.join(", ")}: give them as a CSV --file`,
      );
    const w = data.window;
    const records = parseCsv(fileText, {
      columns: true,
      skip_empty_lines: true,
      bom: true,
    }) as Record<string, string>[];
    if (records.length < w.length)
      throw new Exit(
        EXIT.invalid,
        `${opts.file} has ${records.length} rows; the model needs the last ${w.length}`,
      );
    const rows = records.slice(-w.length);
    for (const c of [...w.columns, ...(w.categorical ?? []).map((k) => k.column)])
      if (!(c in rows[0]!)) throw new Exit(EXIT.invalid, `${opts.file} has no column "${c}"`);
    const { x, width: F, relativeTo } = encodeRows(rows, w);
    return {
      set: {
        type: "sequences",
        input: "features",
        x,
        shape: [1, w.length, F],
        lengths: Int32Array.of(w.length),
        padding: "post",
        target: { kind: "none" },
      },
      labels: [`last ${w.length} rows of ${opts.file}`],
      ...(relativeTo ? { relativeTo } : {}),
    };
  }
  throw new Exit(
    EXIT.invalid,
    "this model's training data carries no encoding to apply to new input",
  );
}
