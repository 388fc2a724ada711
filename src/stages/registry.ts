import type { AnyKind } from "./kind.js";
import { clean } from "./kinds/clean.js";
import { loadCsv } from "./kinds/load-csv.js";
import { loadJsonl } from "./kinds/load-jsonl.js";
import { loadText } from "./kinds/load-text.js";
import { head, sample } from "./kinds/sample.js";
import { split } from "./kinds/split.js";
import { bucket } from "./kinds/bucket.js";
import { encode } from "./kinds/encode.js";
import { evaluate } from "./kinds/evaluate.js";
import { exportModel } from "./kinds/export.js";
import { model } from "./kinds/model.js";
import { train } from "./kinds/train.js";
import { vocabulary } from "./kinds/vocabulary.js";
import { window } from "./kinds/window.js";
import { features, loadAudio, synthSpeech } from "./kinds/speech.js";
import { seq2seq } from "./kinds/seq2seq.js";

/** Every stage kind rnnp ships. A new kind is its own file plus one entry here. */
const ALL: readonly AnyKind[] = [
  loadCsv,
  loadJsonl,
  loadText,
  loadAudio,
  synthSpeech,
  clean,
  split,
  head,
  sample,
  vocabulary,
  encode,
  window,
  features,
  bucket,
  model,
  seq2seq,
  train,
  evaluate,
  exportModel,
];

export const kinds: ReadonlyMap<string, AnyKind> = new Map(ALL.map((k) => [k.name, k]));
