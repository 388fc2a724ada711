import { distance } from "fastest-levenshtein";

/** The closest candidate to a misspelt name, if close enough to be a plausible typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase());
    if (d < bestDistance) (best = c), (bestDistance = d);
  }
  // Levenshtein counts a swap of two letters as 2, the commonest typo: allow 2 edits from 3 letters up.
  const allowed = word.length < 3 ? 1 : Math.max(2, Math.floor(word.length * 0.4));
  return best !== undefined && bestDistance <= allowed && bestDistance < best.length
    ? best
    : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const s = suggest(word, candidates);
  return s === undefined ? undefined : `did you mean \`${s}\`?`;
}
