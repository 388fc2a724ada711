import { UserError } from "../core/diagnostic.js";
import { createRequire } from "node:module";
import { readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { relative, sep } from "node:path";
import { mapLimit } from "../core/parallel.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { asStrings, column, rowCount, type Column, type Table } from "../artifacts/table.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { listFiles } from "../project/paths.js";
import { fitPart } from "../data/parts.js";
import { fitScaling } from "../data/scaling.js";
import { dataError, LOADER } from "../data/read.js";
import { countClasses } from "./encode.js";

const DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

class MissingTool extends UserError {
  constructor(message: string, hint: string) {
    super(message, { code: "missing-tool", hint });
  }
}

let espeakVersion: string | undefined;

/** node:child_process, loaded when espeak-ng is first called: every command would pay for it otherwise. */
const childProcess = (): typeof import("node:child_process") =>
  createRequire(import.meta.url)("node:child_process");

/** espeak-ng's version, which its audio depends on (read once per process). */
function espeak(): string {
  if (espeakVersion) return espeakVersion;
  const r = childProcess().spawnSync("espeak-ng", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new MissingTool(
      "espeak-ng is not installed, and synth.speech needs it to speak",
      "install it: apt-get install espeak-ng (Debian/Ubuntu), brew install espeak-ng (macOS)",
    );
  }
  espeakVersion = /text-to-speech:\s*(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
  return espeakVersion;
}

/** espeak-ng's WAV output for these arguments. */
function speak(args: string[], voice: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn("espeak-ng", args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => reject(new UserError(`espeak-ng -v ${voice} failed: ${e.message}`)));
    child.on("close", (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(
            new UserError(
              `espeak-ng -v ${voice} failed: ${Buffer.concat(err).toString().trim() || `exit code ${code}`}`,
            ),
          ),
    );
  });
}

/** A table of clips (one sample rate) with their labels, then further columns. */
function labelledAudio(
  clips: Float32Array[],
  sampleRate: number,
  labels: string[],
  more: Column[],
): Table {
  return {
    type: "table",
    columns: [
      { name: "audio", dtype: "audio", values: clips, sampleRate },
      { name: "label", dtype: "string", values: labels },
      ...more,
    ],
    roles: { label: "label" },
  };
}

export const synthSpeech = defineKind({
  name: "synth.speech",
  version: 1,
  doc: "Synthesises spoken words with espeak-ng over every combination of voices, speeds and pitches: a table with an audio column, the word as label, and voice/speed/pitch columns.",
  params: {
    words: p
      .list(p.string("word"), "What to say; each becomes one label.", { minItems: 1 })
      .default(DIGITS),
    voices: p.list(
      p.string("voice"),
      'espeak-ng voices, e.g. ["en-us", "en-gb+f3"] (see espeak-ng --voices).',
      { minItems: 1 },
    ),
    speeds: p
      .list(
        p.int("words per minute", { min: 80, max: 450 }),
        "Speaking rates (words per minute).",
        { minItems: 1 },
      )
      .default([150]),
    pitches: p
      .list(p.int("pitch", { min: 0, max: 99 }), "Pitches (0-99).", { minItems: 1 })
      .default([50]),
  },
  ...LOADER,
  tools: () => ({ "espeak-ng": espeak() }),
  async run(ctx, _inputs, params): Promise<{ out: Table }> {
    const { decodeWav } = await import("../data/audio/wav.js");
    const clips: { word: string; voice: string; speed: number; pitch: number }[] = [];
    for (const voice of params.voices)
      for (const speed of params.speeds)
        for (const pitch of params.pitches)
          for (const word of params.words) clips.push({ word, voice, speed, pitch });
    // One espeak-ng process per clip, as many at once as there are cores (most of each is start-up).
    let done = 0;
    const wavs = await mapLimit(
      clips,
      availableParallelism(),
      async ({ word, voice, speed, pitch }) => {
        const wav = decodeWav(
          await speak(
            ["-v", voice, "-s", String(speed), "-p", String(pitch), "--stdout", word],
            voice,
          ),
          `espeak-ng's output for "${word}" (${voice})`,
        );
        ctx.progress(++done, clips.length, "clips");
        return wav;
      },
    );
    const sampleRate = wavs[0]!.sampleRate;
    return {
      out: labelledAudio(
        wavs.map((w) => w.samples),
        sampleRate,
        clips.map((c) => c.word),
        [
          { name: "voice", dtype: "string", values: clips.map((c) => c.voice) },
          { name: "speed", dtype: "number", values: Float64Array.from(clips, (c) => c.speed) },
          { name: "pitch", dtype: "number", values: Float64Array.from(clips, (c) => c.pitch) },
        ],
      ),
    };
  },
});

export const loadAudio = defineKind({
  name: "load.audio",
  version: 1,
  doc: "Reads WAV files from a folder tree whose first-level folders are the labels: a table with an audio column (mono; resampled to one rate), label and file.",
  params: {
    path: p.string("A folder of label/.../*.wav files, relative to the pipeline."),
    sampleRate: p
      .int("Resample every clip to this rate (default: the first file's).", { min: 1000 })
      .optional(),
  },
  ...LOADER,
  files: (params) => [params.path],
  async run(ctx, _inputs, params): Promise<{ out: Table }> {
    const { decodeWav, resample } = await import("../data/audio/wav.js");
    const root = ctx.resolvePath(params.path);
    try {
      if (!statSync(root).isDirectory()) throw new Error("not a directory");
    } catch {
      throw dataError(
        root,
        "folder not found",
        undefined,
        "load.audio reads a folder tree: label/.../clip.wav",
      );
    }
    const files = listFiles(root).filter((f) => f.toLowerCase().endsWith(".wav"));
    const clips: Float32Array[] = [];
    const labels: string[] = [];
    const names: string[] = [];
    let rate = params.sampleRate;
    files.forEach((f, i) => {
      const parts = relative(root, f).split(sep);
      if (parts.length < 2)
        throw dataError(
          f,
          "a file at the top of a labelled folder tree has no label",
          undefined,
          "put each clip in a folder named for its label",
        );
      const wav = decodeWav(readFileSync(f), f);
      rate ??= wav.sampleRate;
      clips.push(resample(wav.samples, wav.sampleRate, rate));
      labels.push(parts[0]!);
      names.push(parts.join("/"));
      ctx.progress(i + 1, files.length, "files");
    });
    if (!files.length) throw dataError(root, "no .wav files here");
    return {
      out: labelledAudio(clips, rate!, labels, [{ name: "file", dtype: "string", values: names }]),
    };
  },
});

export const features = defineKind({
  name: "features",
  // 2: class targets carry the fit part's class counts (the majority and stratified baselines).
  // 3: the sequences name their features ("mfcc 0", "mel 12"), for shift reports.
  version: 3,
  doc: "Turns audio into frame sequences of MFCCs or log-mel energies (deterministic float64 DSP), normalised per coefficient with statistics of the fit part, padded after the end to the longest clip of the fit part.",
  params: {
    type: p
      .oneOf("Cepstral coefficients (mfcc) or log filterbank energies (logmel).", [
        "mfcc",
        "logmel",
      ])
      .default("mfcc"),
    frameMs: p.number("Frame length (ms).", { greaterThan: 0 }).default(25),
    hopMs: p.number("Frame step (ms).", { greaterThan: 0 }).default(10),
    mels: p.int("Mel filters.", { min: 4 }).default(40),
    coefficients: p.int("MFCCs kept.", { min: 1 }).default(13),
    maxFrames: p.int("Frames per clip (default: the fit part's longest).", { min: 1 }).optional(),
    normalize: p.bool("Z-score each coefficient with the fit part's statistics.").default(true),
    groups: p
      .string("A column to report metrics by (e.g. the voice), carried with the sequences.")
      .optional(),
    fit: p.string("The part whose statistics are used (default: train).").optional(),
  },
  inputs: {
    data: { type: "table", doc: "A table with an audio column, or a split of one.", bundle: true },
  },
  outputs: { mirror: "data" },
  outputType: "sequences",
  random: false,
  backendDependent: false,
  describe: (params) => ({
    kind: "sequences",
    input: "features",
    target: "class",
    features: params.type === "mfcc" ? params.coefficients : params.mels,
  }),
  check: (params) => [
    ...(params.type === "mfcc" && params.coefficients > params.mels
      ? [
          {
            param: "coefficients",
            message: `at most ${params.mels} coefficients from ${params.mels} mel filters`,
          },
        ]
      : []),
    ...(params.type === "logmel" && params.coefficients !== 13
      ? [
          {
            param: "coefficients",
            message: 'coefficients are MFCCs; type "logmel" gives one energy per mel filter',
            hint: "set mels for the number of features",
          },
        ]
      : []),
  ],
  async run(ctx, inputs, params) {
    const { FeatureExtractor } = await import("../data/audio/mfcc.js");
    const audioOf = (t: Table) => {
      const c = t.columns.find(
        (x): x is Extract<Column, { dtype: "audio" }> => x.dtype === "audio",
      );
      if (!c)
        throw new UserError("the table has no audio column (load.audio or synth.speech make one)");
      return c;
    };
    const [fitName, fitTable] = fitPart(inputs.data, params.fit, "features");
    const rate = audioOf(fitTable).sampleRate;
    const fx = new FeatureExtractor({
      sampleRate: rate,
      frameMs: params.frameMs,
      hopMs: params.hopMs,
      mels: params.mels,
      coefficients: params.coefficients,
      type: params.type,
    });
    const framesOf = new Map<string, Float64Array[][]>();
    let done = 0;
    const total = [...inputs.data.values()].reduce((a, t) => a + rowCount(t), 0);
    for (const [name, t] of inputs.data) {
      const a = audioOf(t);
      if (a.sampleRate !== rate)
        throw new UserError(
          `part "${name}" is sampled at ${a.sampleRate} Hz, "${fitName}" at ${rate} Hz`,
        );
      framesOf.set(
        name,
        a.values.map((clip) => (ctx.progress(++done, total, "clips"), fx.frames(clip))),
      );
    }
    const fitFrames = framesOf.get(fitName)!;
    const T = params.maxFrames ?? Math.max(1, ...fitFrames.map((f) => f.length));
    const C = fx.width;
    const stats = params.normalize
      ? Array.from({ length: C }, (_, k) =>
          fitScaling(
            fitFrames.flatMap((clip) => clip.map((fr) => fr[k]!)),
            "zscore",
            `coefficient ${k}`,
          ),
        )
      : undefined;
    const label = fitTable.roles.label;
    if (!label) throw new UserError("the table has no label column");
    const classes = [...new Set(column(fitTable, label).values as string[])].sort();
    const classCounts = countClasses(fitTable, label, classes);
    const out: Record<string, SequenceSet> = {};
    for (const [name, t] of inputs.data) {
      const clips = framesOf.get(name)!;
      const n = clips.length;
      const x = new Float32Array(n * T * C);
      const lengths = new Int32Array(n);
      clips.forEach((clip, i) => {
        lengths[i] = Math.min(T, clip.length);
        for (let f = 0; f < lengths[i]!; f++) {
          for (let k = 0; k < C; k++)
            x[(i * T + f) * C + k] = stats
              ? (clip[f]![k]! - stats[k]!.center) / stats[k]!.scale
              : clip[f]![k]!;
        }
      });
      const labels = column(t, label).values as string[];
      const index = new Map(classes.map((c, i) => [c, i]));
      const y = Int32Array.from(labels, (l) => {
        const k = index.get(l);
        if (k === undefined)
          throw new UserError(`label "${l}" of part "${name}" does not occur in "${fitName}"`);
        return k;
      });
      out[name] = {
        type: "sequences",
        input: "features",
        x,
        shape: [n, T, C],
        lengths,
        padding: "post",
        featureNames: Array.from(
          { length: C },
          (_, k) => `${params.type === "mfcc" ? "mfcc" : "mel"} ${k}`,
        ),
        target: { kind: "class", y, classes },
        baselines: { classCounts },
        ...(params.groups
          ? { groups: { name: params.groups, values: asStrings(column(t, params.groups)) } }
          : {}),
      };
    }
    return out;
  },
});
