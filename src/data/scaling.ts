import { UserError } from "../core/diagnostic.js";
import type { Scaling } from "../artifacts/table.js";

/**
 * Statistics for scaling one column, ignoring missing values. Two passes, summed in row order:
 * the same bytes on every machine. `stride` and `offset` pick one feature of interleaved steps
 * (every `stride`-th value from `offset`) without copying them out: a window stage's features are
 * as large as its artifact.
 */
export function fitScaling(
  values: ArrayLike<number>,
  method: "zscore" | "minmax",
  name: string,
  { offset = 0, stride = 1 }: { offset?: number; stride?: number } = {},
): Scaling {
  let count = 0;
  let sum = 0;
  let lo = NaN;
  let hi = NaN;
  for (let i = offset; i < values.length; i += stride) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    // The order of a reduction from the first value: min(v, lo) keeps which zero wins.
    lo = count === 0 ? v : Math.min(v, lo);
    hi = count === 0 ? v : Math.max(v, hi);
    sum = count === 0 ? 0 + v : sum + v;
    count++;
  }
  if (count === 0) throw new UserError(`column "${name}" has no values to fit scaling on`);
  if (method === "zscore") {
    const mean = sum / count;
    let squares = 0;
    for (let i = offset; i < values.length; i += stride) {
      const v = values[i]!;
      if (!Number.isNaN(v)) squares += (v - mean) * (v - mean);
    }
    const sd = Math.sqrt(squares / count);
    return { method, center: mean, scale: sd > 0 ? sd : 1 };
  }
  return { method, center: lo, scale: hi > lo ? hi - lo : 1 };
}
