import type { Json } from "../core/canonical.js";
import type { Span } from "../core/diagnostic.js";
import type { AnyKind } from "../stages/kind.js";

/** A checked pipeline: every name resolved, every parameter typed and defaulted. What `plan` consumes. */

export interface InputRef {
  stage: string;
  /** The output picked with `stage.output`; absent for a bare reference (the sole output, or the whole bundle). */
  output?: string;
  span: Span;
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
