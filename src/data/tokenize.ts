/**
 * Text -> tokens, the same way when a vocabulary is fitted, when data is encoded and when `rnnp
 * predict` encodes new input. Regular expressions over Unicode properties rather than ICU word
 * segmentation: their result does not depend on the ICU build of the Node.js that runs them.
 */
export interface TokenizerConfig {
  level: "char" | "word";
  lowercase: boolean;
  /** split: punctuation marks are tokens of their own; strip: they are dropped. */
  punctuation: "split" | "strip";
}

/**
 * Words with inner apostrophes and hyphens (don't, e-mail); or, when splitting, single other marks.
 * Made on first use: building their Unicode classes costs about 2 ms, and every command loads this
 * module (the kinds' registry) while few tokenize.
 */
let patterns: { word: RegExp; wordOrMark: RegExp; mark: RegExp } | undefined;
const made = () =>
  (patterns ??= {
    word: /[\p{L}\p{M}\p{N}]+(?:['’-][\p{L}\p{M}\p{N}]+)*/gu,
    wordOrMark: /[\p{L}\p{M}\p{N}]+(?:['’-][\p{L}\p{M}\p{N}]+)*|[^\s\p{L}\p{M}\p{N}]/gu,
    mark: /[\p{P}\p{S}]/u,
  });

export function tokenize(text: string, cfg: TokenizerConfig): string[] {
  const s = cfg.lowercase ? text.toLowerCase() : text;
  if (cfg.level === "char") {
    const chars = Array.from(s);
    const { mark } = made();
    return cfg.punctuation === "strip" ? chars.filter((c) => !mark.test(c)) : chars;
  }
  const { word, wordOrMark } = made();
  return s.match(cfg.punctuation === "strip" ? word : wordOrMark) ?? [];
}
