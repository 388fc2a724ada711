/**
 * Choosing among the variants of a sweep, on validation data (never on the test set), the same way
 * wherever a choice is shown (`rnnp compare`, the report).
 */

/** Lower is better for losses and errors; higher for scores. */
export const lowerIsBetter = (metric: string) => /(loss|mae|mse|rmse|mape|error)/i.test(metric);

/**
 * The row with the best selection value (ties: the first), when at least two rows have one: one
 * evaluated variant is nothing to choose.
 */
export function chooseBest<T>(
  rows: readonly T[],
  value: (row: T) => number | undefined,
  metric: string,
): T | undefined {
  const lower = lowerIsBetter(metric);
  let best: T | undefined;
  let bestValue = 0;
  let candidates = 0;
  for (const r of rows) {
    const v = value(r);
    if (v === undefined) continue;
    candidates++;
    if (best === undefined || (lower ? v < bestValue : v > bestValue)) {
      best = r;
      bestValue = v;
    }
  }
  return candidates > 1 ? best : undefined;
}
