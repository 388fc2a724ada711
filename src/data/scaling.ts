import { UserError } from "../core/diagnostic.js";
import type { Scaling } from "../artifacts/table.js";

/**
 * Statistics for scaling one column, ignoring missing values. Two passes, summed in row order:
 * the same bytes on every machine.
 */
export function fitScaling(
  values: ArrayLike<number>,
  method: "zscore" | "minmax",
  name: string,
): Scaling {
  const xs = Array.from(values).filter((v) => !Number.isNaN(v));
  if (xs.length === 0) throw new UserError(`column "${name}" has no values to fit scaling on`);
  if (method === "zscore") {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / xs.length);
    return { method, center: mean, scale: sd > 0 ? sd : 1 };
  }
  const lo = xs.reduce((a, b) => Math.min(b, a));
  const hi = xs.reduce((a, b) => Math.max(b, a));
  return { method, center: lo, scale: hi > lo ? hi - lo : 1 };
}
