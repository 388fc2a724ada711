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

export function describeVocabulary(v: Vocabulary): string {
  const sample = v.tokens
    .slice(Object.keys(v.reserved).length, Object.keys(v.reserved).length + 8)
    .map((t) => JSON.stringify(t))
    .join(" ");
  return `${v.level} vocabulary, ${v.tokens.length} tokens (${Object.keys(v.reserved)
    .map((r) => `<${r}>`)
    .join(" ")} ${sample} ...)`;
}
