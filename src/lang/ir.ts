import type { Json } from "../core/canonical.js";
import type { Span } from "../core/diagnostic.js";
import type { AnyKind } from "../stages/kind.js";

/** A checked pipeline: every name resolved, every parameter typed and defaulted. What `plan` consumes. */

export interface InputRef {
  stage: string;
  /** The output picked with `stage.output`; absent for a bare reference (the sole output, or the whole bundle). */
  output?: string;
  span: Span;
  /**
   * For one of several named references given to one input (`{inDomain: seqs.test, other: x.test}`):
   * its name. Such a reference is filed under `slot.member` in `StageIR.inputs`, so everything that
   * follows edges (the DAG, sweeps, `why`, lockfiles) sees one edge per reference.
   */
  member?: string;
}

/** The slot an input key names: `data` for `data` and for `data.inDomain`. */
export function slotOf(key: string): string {
  const dot = key.indexOf(".");
  return dot < 0 ? key : key.slice(0, dot);
}

/** The key a named reference is filed under. */
export const memberKey = (slot: string, member: string): string => `${slot}.${member}`;

/**
 * A stage's inputs by slot: one reference, or the named references given to it (in the order
 * written; keys of a fingerprint are sorted anyway).
 */
export function inputsBySlot(
  inputs: Readonly<Record<string, InputRef>>,
): Map<string, InputRef | Map<string, InputRef>> {
  const out = new Map<string, InputRef | Map<string, InputRef>>();
  for (const [key, ref] of Object.entries(inputs)) {
    if (ref.member === undefined) {
      out.set(key, ref);
      continue;
    }
    const slot = slotOf(key);
    const members = out.get(slot);
    if (members instanceof Map) members.set(ref.member, ref);
    else out.set(slot, new Map([[ref.member, ref]]));
  }
  return out;
}

export interface StageIR {
  name: string;
  nameSpan: Span;
  span: Span;
  kind: AnyKind;
  /** Resolved parameters with defaults filled; optional parameters not given are absent. */
  params: Record<string, Json>;
  /** Where each parameter's value is written, for errors found later (a missing data file). */
  paramSpans: Record<string, Span>;
  /** For `why`: which pipeline params (`params.lr`) each stage parameter was taken from. */
  paramOrigins: Record<string, string[]>;
  inputs: Record<string, InputRef>;
  outputs: string[];
  /** For a variant of a sweep: the stage it is a variant of, and its swept values. */
  variant?: { of: string; values: Record<string, Json> };
}

export interface PipelineIR {
  /** The path as given on the command line, for messages. */
  file: string;
  /** Absolute directory of the pipeline file: data paths resolve against it. */
  dir: string;
  name: string;
  seed: number;
  /** The `backend` setting, if the pipeline has one (the command line may override it). */
  backend?: string;
  /** The `kernels` setting ("fused" or "tfjs"), if the pipeline has one. */
  kernels?: string;
  params: Record<string, Json>;
  /** The sweep matrix, when the pipeline has one: param -> values. */
  sweep?: Record<string, Json[]>;
  /** In source order (variants of a sweep in dependency order); `plan` orders them. */
  stages: StageIR[];
}
