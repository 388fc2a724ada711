/** Token <-> id, fitted on one part of the data. Ids 0 and 1 are `<pad>` and `<unk>`; `<bos>`/`<eos>` follow when asked for. */
export interface Vocabulary {
  type: "vocabulary";
  level: "char" | "word";
  lowercase: boolean;
  punctuation: "split" | "strip";
  /** id -> token. */
  tokens: string[];
  /** id -> occurrences in the fitting data (0 for reserved tokens). */
  counts: Int32Array;
  reserved: { pad: number; unk: number; bos?: number; eos?: number };
}

/**
 * The reserved tokens in the order of their ids, not of the object's keys: the codec stores keys
 * sorted, and the description made from decoded bytes must equal the stage's own (imports and
 * remote fetches check that).
 */
export function describeVocabulary(v: Vocabulary): string {
  const reserved = Object.entries(v.reserved)
    .filter((e): e is [string, number] => e[1] !== undefined)
    .sort((a, b) => a[1] - b[1])
    .map(([r]) => `<${r}>`);
  const sample = v.tokens
    .slice(reserved.length, reserved.length + 8)
    .map((t) => JSON.stringify(t))
    .join(" ");
  return `${v.level} vocabulary, ${v.tokens.length} tokens (${reserved.join(" ")} ${sample} ...)`;
}
