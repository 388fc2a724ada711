import type { AnyKind } from "../stages/kind.js";
import { clean } from "./clean.js";
import { loadCsv } from "./load-csv.js";
import { loadJsonl } from "./load-jsonl.js";
import { loadText } from "./load-text.js";
import { head, sample } from "./sample.js";
import { split } from "./split.js";
import { bucket } from "./bucket.js";
import { encode } from "./encode.js";
import { evaluate } from "./evaluate.js";
import { exportModel } from "./export.js";
import { model } from "./model.js";
import { train } from "./train.js";
import { vocabulary } from "./vocabulary.js";
import { window } from "./window.js";
import { features, loadAudio, synthSpeech } from "./speech.js";
import { seq2seq } from "./seq2seq.js";
import { shift } from "./shift.js";
import { synthTask } from "./synth-task.js";

/** Every stage kind rnnp ships. A new kind is its own file plus one entry here. */
const ALL: readonly AnyKind[] = [
  loadCsv,
  loadJsonl,
  loadText,
  loadAudio,
  synthSpeech,
  synthTask,
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
  shift,
  exportModel,
];

export const kinds: ReadonlyMap<string, AnyKind> = new Map(ALL.map((k) => [k.name, k]));

/** Whether `kinds` holds exactly the kinds rnnp ships (code preloaded into a process may add some). */
export function onlyShippedKinds(): boolean {
  return kinds.size === ALL.length && ALL.every((k) => kinds.get(k.name) === k);
}
