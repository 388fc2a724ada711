import { distance } from "fastest-levenshtein";

/**
 * "Did you mean": the closest candidate to a misspelt name, if close enough to be a plausible typo.
 * Bounded work whatever the input: a word or candidate longer than any name is no typo of a name,
 * and at most MAX_COMPARED candidates are compared (those whose length is close enough to matter).
 */
const MAX_NAME = 64;
const MAX_COMPARED = 200;

export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length === 0 || word.length > MAX_NAME) return undefined;
  // Levenshtein counts a swap of two letters as 2, the commonest typo: allow 2 edits from 3 letters up.
  const allowed = word.length < 3 ? 1 : Math.max(2, Math.floor(word.length * 0.4));
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  let compared = 0;
  for (const c of candidates) {
    if (c.length > MAX_NAME || Math.abs(c.length - word.length) > allowed) continue;
    if (++compared > MAX_COMPARED) break;
    const lc = c.toLowerCase();
    const d = lc === lower ? 0 : distance(lower, lc);
    if (d < bestDistance) (best = c), (bestDistance = d);
  }
  return best !== undefined && bestDistance <= allowed && bestDistance < best.length
    ? best
    : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const s = suggest(word, candidates);
  return s === undefined ? undefined : `did you mean \`${s}\`?`;
}

/** Names for a message: all of a short list, the first `max` of a long one and how many more. */
export function listNames(names: Iterable<string>, max = 20): string {
  const shown: string[] = [];
  let more = 0;
  for (const n of names) {
    if (shown.length < max) shown.push(n);
    else more++;
  }
  return more ? `${shown.join(", ")} and ${more} more` : shown.join(", ");
}
