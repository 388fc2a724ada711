import { keyOfManifest } from "../cache/record.js";
import { canonicalJson, type Json } from "../core/canonical.js";
import { sha256, type Digest, type StageKey } from "../core/digest.js";

/**
 * The stage-key promise, as one typed record. A stage's key is the SHA-256 of the canonical JSON of
 * its Fingerprint, which holds every input that can change the stage's output bytes and nothing
 * else: no stage name, no position in the file, no unrelated stage, no time. Renaming a stage or
 * adding another leaves every key as it was; changing one parameter changes the keys of that stage
 * and of what depends on its output, and no others.
 */
export interface Fingerprint {
  /** Layout of this record. Bumping it invalidates every key (as a new cache would). */
  format: 1;
  /** Stage kind, e.g. "clean". */
  kind: string;
  /** The kind's implementation version: bumped by rnnp when the kind's bytes change. */
  version: number;
  /** The stage's own parameters, resolved: defaults filled, `params.x` substituted. Never pipeline params it does not use. */
  params: Record<string, Json>;
  /**
   * Input slot -> digest of the artifact it receives, or for a whole split, output name -> digest.
   * Digests of contents, not keys of producers: an upstream stage that reruns and produces the same
   * bytes leaves this stage cached.
   */
  inputs: Record<string, Digest | Record<string, Digest>>;
  /** Path as written in the pipeline -> digest of the file's (or folder tree's) content. */
  files: Record<string, Digest>;
  /** For random kinds: the derived seed (see deriveSeed). Absent for deterministic kinds, so the pipeline seed does not touch them. */
  seed?: number;
  /** For kinds whose bytes depend on the numeric backend: its name and version, and whether recurrent layers run on rnnp's fused kernels (which). */
  runtime?: { backend: string; version: string; kernels?: string };
  /** For kinds that run external programs (espeak-ng): program -> version. */
  tools?: Record<string, string>;
}

/** The stage key: the SHA-256 of the canonical fingerprint, defined below the planner (cache/record.ts) so that the cache can check every record it is given against its key. */
export function keyOf(fp: Fingerprint): StageKey {
  return keyOfManifest(fp);
}

/** What a stage computes, as opposed to how (version, runtime, tools): all its seed derives from. */
export type SeedBasis = Pick<Fingerprint, "kind" | "params" | "inputs" | "files">;

/**
 * What a random stage's seed derives from: what it computes, less the parameters and inputs its
 * kind declares its draws independent of (`seedIgnores`: train's `epochs`, `init`...).
 */
export function seedBasis(
  fp: SeedBasis,
  ignores: { params?: readonly string[]; inputs?: readonly string[] } = {},
): SeedBasis {
  const without = <T>(o: Record<string, T>, drop: readonly string[] = []) =>
    Object.fromEntries(Object.entries(o).filter(([k]) => !drop.includes(k)));
  return {
    kind: fp.kind,
    params: without(fp.params, ignores.params),
    inputs: without(fp.inputs, ignores.inputs),
    files: fp.files,
  };
}

/**
 * A random stage's seed: a hash of the pipeline seed and what the stage computes, so it is stable
 * under edits anywhere else in the file, differs between stages, and is never 0 (TF.js reads 0 as
 * "no seed"). Not of how it computes: the same training on cpu and on wasm, or before and after a
 * kind's version bump, or with a parameter that only observes the computation set otherwise
 * (`params` here leaves those out: train's `gradientFlow`), draws the same shuffles, dropout masks and
 * initial weights, so their results differ by the numerics alone. Range 1 .. 2^31-1, which every
 * consumer accepts.
 */
export function deriveSeed(
  pipelineSeed: number,
  { kind, params, inputs, files }: SeedBasis,
): number {
  const h = sha256(`rnnp-seed\0${pipelineSeed}\0${canonicalJson({ kind, params, inputs, files })}`);
  return (parseInt(h.slice(0, 8), 16) % 0x7ffffffe) + 1;
}
