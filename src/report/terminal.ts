import { plot, type PlotConfig } from "asciichart";
import type { EpochRecord } from "../artifacts/model.js";

/** ANSI colours of the two curves (asciichart's), used only where the terminal takes colours. */
const TRAIN = "\x1b[34m";
const VALIDATION = "\x1b[33m";
const RESET = "\x1b[0m";

/**
 * A train stage's loss curves for `rnnp show`: training and validation loss per epoch, drawn with
 * asciichart, resampled to the terminal's width. With colours, one chart (train blue, validation
 * yellow); without (NO_COLOR, a pipe, a log file), the curves would be indistinguishable in one, so
 * each gets its own chart on the same scale.
 */
export function lossCurves(
  history: readonly EpochRecord[],
  opts: { colors: boolean; columns?: number | undefined; bestEpoch?: number | undefined },
): string {
  const train = history.map((e) => e.loss).filter(Number.isFinite);
  if (train.length < 2) return "";
  const val = history.every((e) => e.valLoss !== undefined && Number.isFinite(e.valLoss))
    ? history.map((e) => e.valLoss!)
    : undefined;
  const all = [...train, ...(val ?? [])];
  const width = Math.max(20, Math.min(72, (opts.columns ?? 80) - 14));
  const cfg: PlotConfig = {
    height: 8,
    min: Math.min(...all),
    max: Math.max(...all),
    format: (x) => formatTick(x).padStart(9),
  };
  const first = history[0]!.epoch;
  const last = history.at(-1)!.epoch;
  const axis = epochAxis(first, last, width, opts.bestEpoch);
  const title = (what: string) => `${what} per epoch (${first}..${last})`;
  if (opts.colors) {
    const series = [resample(train, width), ...(val ? [resample(val, width)] : [])];
    const legend = `${TRAIN}── train${RESET}${val ? `  ${VALIDATION}── validation${RESET}` : ""}`;
    return [
      `${title("loss")}  ${legend}`,
      plot(series, { ...cfg, colors: [TRAIN, VALIDATION] }),
      axis,
    ].join("\n");
  }
  return [
    title("training loss"),
    plot(resample(train, width), cfg),
    axis,
    ...(val ? [title("validation loss"), plot(resample(val, width), cfg), axis] : []),
  ].join("\n");
}

/** Values spread over `width` columns, linearly interpolated between epochs. */
export function resample(values: readonly number[], width: number): number[] {
  if (values.length >= width) return [...values];
  return Array.from({ length: width }, (_, i) => {
    const at = (i * (values.length - 1)) / (width - 1);
    const lo = Math.floor(at);
    const hi = Math.min(values.length - 1, lo + 1);
    return values[lo]! + (values[hi]! - values[lo]!) * (at - lo);
  });
}

const formatTick = (x: number) =>
  Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(4);

/** The epochs under the chart: first and last at its ends, the restored best marked with ^. */
function epochAxis(first: number, last: number, width: number, best?: number): string {
  const pad = " ".repeat(11); // asciichart's label column (9) and its axis
  const line = Array.from({ length: width }, () => " ");
  const put = (col: number, text: string) => {
    const at = Math.max(0, Math.min(width - text.length, col));
    for (let i = 0; i < text.length; i++) line[at + i] = text[i]!;
  };
  put(0, String(first));
  put(width - String(last).length, String(last));
  let marker = "";
  if (best !== undefined && last > first) {
    const col = Math.round(((best - first) / (last - first)) * (width - 1));
    put(col, "^");
    marker = `\n${pad}${" ".repeat(Math.max(0, col - 4))}best epoch ${best} (restored)`;
  }
  return `${pad}${line.join("").trimEnd()}${marker}`;
}
