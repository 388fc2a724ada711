import { createHash } from "node:crypto";
import type { ParamProblem } from "../stages/kind.js";

/**
 * Near-duplicate texts: MinHash signatures over shingles (word or character n-grams), candidate pairs
 * from locality-sensitive hashing (bands of the signature), each candidate verified by the exact
 * Jaccard similarity of the two shingle sets, and clusters as the connected components of the pairs
 * found. The hash functions come from a seeded generator, so the same seed finds the same clusters.
 * Two e-mails that differ by one space have the same word shingles: similarity 1.
 */
export interface ShingleOptions {
  unit: "word" | "char";
  size: number;
}

/** `word:3` (the default: three-word shingles) or `char:5`. */
export function parseShingles(spec: string | undefined): ShingleOptions {
  const [unit, size] = (spec ?? "word:3").split(":");
  return { unit: unit === "char" ? "char" : "word", size: Number(size) };
}

export const SHINGLES = /^(word|char):([1-9]\d?)$/;

/** The checks of `shingles` that every kind taking `nearDuplicates` shares. */
export function shinglesProblems(params: {
  shingles?: string | undefined;
  nearDuplicates?: unknown;
}): ParamProblem[] {
  const problems: ParamProblem[] = [];
  if (params.shingles !== undefined && !SHINGLES.test(params.shingles))
    problems.push({
      param: "shingles",
      message: `shingles must be "word:N" or "char:N" (N from 1 to 99), not ${JSON.stringify(params.shingles)}`,
    });
  if (params.shingles !== undefined && params.nearDuplicates === undefined)
    problems.push({ param: "shingles", message: "shingles are for nearDuplicates" });
  return problems;
}

/** The set of shingles of a text, as 32-bit hashes; a text shorter than one shingle is one shingle. */
export function shingles(text: string, o: ShingleOptions): Uint32Array {
  const units = o.unit === "word" ? text.toLowerCase().split(/\s+/).filter(Boolean) : [...text];
  const out = new Set<number>();
  const sep = o.unit === "word" ? " " : "";
  if (units.length <= o.size) out.add(hash32(units.join(sep)));
  else
    for (let i = 0; i + o.size <= units.length; i++)
      out.add(hash32(units.slice(i, i + o.size).join(sep)));
  return Uint32Array.from(out).sort();
}

/** FNV-1a over UTF-16 code units, finished with murmur3's mixer. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix(h);
}

function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const PERMUTATIONS = 128;

/**
 * Bands x rows of the LSH: the most selective banding that still makes a pair at exactly the
 * threshold a candidate with probability >= 0.999 (1 - (1 - s^rows)^bands); candidates are verified
 * exactly, so recall is what the banding must give.
 */
function banding(threshold: number): { bands: number; rows: number } {
  let best = { bands: PERMUTATIONS, rows: 1 };
  for (let rows = 1; rows <= PERMUTATIONS; rows++) {
    if (PERMUTATIONS % rows) continue;
    const bands = PERMUTATIONS / rows;
    if (1 - (1 - threshold ** rows) ** bands >= 0.999) best = { bands, rows };
  }
  return best;
}

export function jaccard(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let both = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) both++, i++, j++;
    else if (a[i]! < b[j]!) i++;
    else j++;
  }
  const union = a.length + b.length - both;
  return union === 0 ? 1 : both / union;
}

/**
 * Clusters of near-duplicate texts (Jaccard similarity of shingle sets >= threshold): for each text,
 * the index of its cluster's first text (itself when it has no near-duplicate before it).
 */
export function nearDuplicateClusters(
  texts: readonly string[],
  threshold: number,
  o: ShingleOptions,
  random: () => number,
): Int32Array {
  const sets = texts.map((t) => shingles(t, o));
  const seeds = Uint32Array.from({ length: PERMUTATIONS }, () => Math.floor(random() * 2 ** 32));
  const { bands, rows } = banding(threshold);
  const parent = Int32Array.from(texts, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const union = (a: number, b: number) => {
    const [x, y] = [find(a), find(b)];
    if (x !== y) parent[Math.max(x, y)] = Math.min(x, y);
  };
  const signature = new Uint32Array(PERMUTATIONS);
  const buckets = Array.from({ length: bands }, () => new Map<string, number[]>());
  sets.forEach((set, i) => {
    signature.fill(0xffffffff);
    for (const s of set)
      for (let k = 0; k < PERMUTATIONS; k++) {
        const h = mix(s ^ seeds[k]!);
        if (h < signature[k]!) signature[k] = h;
      }
    for (let b = 0; b < bands; b++) {
      const key = signature.subarray(b * rows, (b + 1) * rows).join(",");
      const bucket = buckets[b]!.get(key);
      if (!bucket) buckets[b]!.set(key, [i]);
      else {
        for (const j of bucket)
          if (find(i) !== find(j) && jaccard(set, sets[j]!) >= threshold) union(i, j);
        bucket.push(i);
      }
    }
  });
  return Int32Array.from(texts, (_, i) => find(i));
}

/** A digest of an example's content (text, or audio samples), to find identical examples. */
export function contentDigest(value: string | Float32Array): string {
  const h = createHash("sha256");
  if (typeof value === "string") h.update(value, "utf8");
  else h.update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  return h.digest("hex");
}
