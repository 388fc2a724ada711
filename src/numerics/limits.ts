import { UserError } from "../core/diagnostic.js";
import type { ParamProblem } from "../stages/kind.js";

/**
 * What rnnp can allocate, stated once. Models and data beyond these are refused with the number and
 * what to change (diagnostic `too-large`): at check time where the sizes are known from the
 * pipeline, else when the stage starts, never as a typed-array or WebAssembly error after minutes.
 */

/** A layer's units or vector size: a larger layer exceeds MAX_PARAMS whatever else it holds. */
export const MAX_UNITS = 65_536;
/** Distinct token ids an embedding reads (its inputDim). */
export const MAX_TOKENS = 2 ** 24;
/** Steps of a sequence (encode's maxLen, targetLen). */
export const MAX_STEPS = 2 ** 20;

/**
 * A model's parameters. Training holds about six float32 copies of them (weights, gradients, the
 * clipped gradients, Adam's two moments, the best epoch's weights) in the 4 GiB of memory a
 * WebAssembly backend can address: 24 bytes each, 2.4 GB at this limit, leaving room for activations.
 */
export const MAX_PARAMS = 100_000_000;

/** Bytes of one training batch's layer outputs, which the backward pass keeps. */
export const MAX_BATCH_ACTIVATION_BYTES = 2 ** 30;

/** Bytes of one array of an artifact (sequences' ids or features): the cache writes an artifact as one buffer. */
export const MAX_ARRAY_BYTES = 2 ** 31;

export const count = (n: number): string => Math.round(n).toLocaleString("en-US");

export function bytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

/** A size problem found before running, pointing at the parameter to change. */
export function tooLarge(param: string | undefined, message: string, hint: string): ParamProblem {
  return { ...(param !== undefined ? { param } : {}), message, hint, code: "too-large" };
}

/** Refuses an array of `elements` items of `width` bytes beyond MAX_ARRAY_BYTES, before allocating it. */
export function ensureArrayFits(elements: number, width: number, what: string, hint: string): void {
  if (elements * width > MAX_ARRAY_BYTES)
    throw new UserError(
      `${what} would take ${bytes(elements * width)} (${count(elements)} values), more than rnnp's limit of ${bytes(MAX_ARRAY_BYTES)} for one array`,
      { code: "too-large", hint },
    );
}

/** A training batch's layer outputs (`activations` floats per example) against MAX_BATCH_ACTIVATION_BYTES. */
export function batchSizeProblems(
  batchSize: number,
  activations: number | undefined,
): ParamProblem[] {
  if (activations === undefined) return [];
  const each = activations * 4;
  // A single example beyond the limit is the model's problem, reported at its largest layer.
  if (batchSize * each <= MAX_BATCH_ACTIVATION_BYTES || each > MAX_BATCH_ACTIVATION_BYTES)
    return [];
  const fits = Math.floor(MAX_BATCH_ACTIVATION_BYTES / each);
  return [
    tooLarge(
      "batchSize",
      `a batch of ${count(batchSize)} examples takes ${bytes(batchSize * each)} of layer outputs (${bytes(each)} each), more than rnnp's limit of ${bytes(MAX_BATCH_ACTIVATION_BYTES)}`,
      `batchSize: ${count(fits)} or less, or shorter sequences`,
    ),
  ];
}
