import { UserError } from "../core/diagnostic.js";
import { asStrings, clipText, column, rowCount, type Table } from "../artifacts/table.js";
import {
  describeStep,
  formatTime,
  inferStep,
  stepOf,
  stepsBetween,
  type Every,
  type TimeStep,
} from "./time.js";

/**
 * The series a window stage cuts, assembled from the parts of a split. A part of a sequential split
 * knows its place in time and each row's step in its series (Table.timeline), so the parts are put
 * back together series by series: a window may read history from the parts before its own, but its
 * label or targets always lie in one part, and the window goes to that part. Gaps (missing time steps,
 * or rows removed after the split) are found here and handled by the declared policy.
 */

/** One step of a series: a row of a part, or a step filled in for a gap. */
export interface Slot {
  /** Index of the part (in the bundle's order) the row belongs to. */
  part: number;
  /** Row in that part; -1 for a filled step. */
  row: number;
  /** For a filled step: the rows before and after the gap, and how far between them (0..1). */
  fill?: { from: Slot; to: Slot; at: number };
}

export interface Segment {
  key: string;
  slots: Slot[];
}

export type GapPolicy = "error" | "split" | "fill" | "ignore";

export interface AssembleOptions {
  /** The parts' names, for messages. */
  names: readonly string[];
  groupBy?: string | undefined;
  gaps: GapPolicy;
  every?: Every | undefined;
}

export interface Assembled {
  /** Contiguous stretches of each series, in series order then time order. */
  segments: Segment[];
  /** With gaps: "split": each series whole, to count the windows the gaps cost. */
  whole?: Segment[];
  /** Filled steps, per part of the row after the gap. */
  filled: number[];
  step?: TimeStep;
  /** The step of each forecast step ahead, when the series has a time: "+1 month". */
  describeAhead?: (h: number) => string;
}

/**
 * A row of a part with its step (parts of a sequential split) and time (a time column), read from
 * the parts when asked: one object per row (the slot) rather than two, for a million rows.
 */
interface Located {
  step(l: Slot): number | undefined;
  time(l: Slot): number | undefined;
}

/** The series of every part: put together across parts when they come from a sequential split. */
export function assemble(parts: readonly Table[], o: AssembleOptions): Assembled {
  const joined = parts.length > 0 && parts.every((t) => t.timeline);
  const byKey = new Map<string, Slot[]>();
  const order: string[] = [];
  const timeColumn = parts[0]?.roles.time;
  const timesOf = parts.map((t) =>
    timeColumn && t.roles.time === timeColumn
      ? (column(t, timeColumn).values as Float64Array)
      : undefined,
  );
  const at: Located = {
    step: (l) => (joined ? parts[l.part]!.timeline!.step[l.row]! : undefined),
    time: (l) => timesOf[l.part]?.[l.row],
  };
  parts.forEach((t, part) => {
    const keys = o.groupBy ? asStrings(column(t, o.groupBy)) : undefined;
    for (let row = 0; row < rowCount(t); row++) {
      // Parts of one split share their series; parts without a timeline stand alone.
      const key = `${joined ? "" : `${part}\0`}${keys ? keys[row]! : ""}`;
      let list = byKey.get(key);
      if (!list) {
        list = [];
        byKey.set(key, list);
        order.push(key);
      }
      list.push({ part, row });
    }
  });
  const series = order.map((key) => {
    const list = byKey.get(key)!;
    if (joined) list.sort((a, b) => at.step(a)! - at.step(b)!);
    return { key, list };
  });
  const step = timeColumn
    ? o.every
      ? stepOf(o.every)
      : inferStep(series.map((s) => s.list.map((l) => at.time(l)!)))
    : undefined;
  const filled = parts.map(() => 0);
  const segments: Segment[] = [];
  const whole: Segment[] = [];
  const problems: string[] = [];
  for (const { key, list } of series) {
    const label = o.groupBy
      ? ` of ${o.groupBy} "${clipText(key.slice(key.indexOf("\0") + 1))}"`
      : "";
    let current: Slot[] = [];
    const all: Slot[] = [];
    list.forEach((l, i) => {
      const slot = l;
      const prev = list[i - 1];
      const missing = prev ? missingBetween(at, prev, l, step) : 0;
      if (missing === undefined) {
        throw new UserError(
          `the series${label} is not evenly spaced: ${where(parts, o.names, step, at, prev!)} and ${where(parts, o.names, step, at, l)} are ${describeGap(at, prev!, l)} apart, off its step of ${describeStep(step!)}`,
          {
            hint: 'declare the step with every: (e.g. "day"), or regularise the times before loading',
          },
        );
      }
      if (missing > 0 && o.gaps !== "ignore") {
        const prevSlot = current.at(-1)!;
        if (o.gaps === "error")
          problems.push(
            `${missing} ${step ? `step${missing === 1 ? "" : "s"} (${describeStep(step)} each)` : `row${missing === 1 ? "" : "s"}`} missing${label} between ${where(parts, o.names, step, at, prev!)} and ${where(parts, o.names, step, at, l)}`,
          );
        else if (o.gaps === "split") {
          segments.push({ key, slots: current });
          current = [];
        } else {
          for (let k = 1; k <= missing; k++) {
            const f: Slot = {
              part: prevSlot.part,
              row: -1,
              fill: { from: prevSlot, to: slot, at: k / (missing + 1) },
            };
            current.push(f);
            all.push(f);
          }
          filled[l.part]! += missing;
        }
      }
      current.push(slot);
      all.push(slot);
    });
    if (current.length) segments.push({ key, slots: current });
    whole.push({ key, slots: all });
  }
  if (problems.length)
    throw new UserError(
      `the series has gaps: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? `; and ${problems.length - 3} more` : ""}`,
      {
        hint: step
          ? 'windows must not span a gap: declare gaps: "split" (windows within contiguous stretches), gaps: "fill" with fill: "previous" or "linear", or gaps: "ignore" when the rows are consecutive steps (e.g. trading days)'
          : 'rows were removed after the split (head, sample or clean): remove them before splitting, or declare gaps: "split" or gaps: "ignore"',
      },
    );
  return {
    segments,
    ...(o.gaps === "split" ? { whole } : {}),
    filled,
    ...(step
      ? { step, describeAhead: (h: number) => `+${describeStep({ ...step, n: step.n * h })}` }
      : {}),
  };
}

/** Steps missing between two neighbours of a series: 0 when adjacent; undefined when off the step. */
function missingBetween(
  at: Located,
  a: Slot,
  b: Slot,
  step: TimeStep | undefined,
): number | undefined {
  const ta = at.time(a);
  const tb = at.time(b);
  if (ta !== undefined && tb !== undefined && step) {
    const k = stepsBetween(ta, tb, step);
    if (Math.abs(k - Math.round(k)) > 1e-9 || k < 1) return undefined;
    return Math.round(k) - 1;
  }
  const sa = at.step(a);
  const sb = at.step(b);
  if (sa !== undefined && sb !== undefined) return sb - sa - 1;
  return 0;
}

function describeGap(at: Located, a: Slot, b: Slot): string {
  const ms = at.time(b)! - at.time(a)!;
  return ms % 8.64e7 === 0 ? `${ms / 8.64e7} days` : `${ms / 1000} seconds`;
}

/** A row as users find it: its time and the data file's line, when known. */
function where(
  parts: readonly Table[],
  names: readonly string[],
  step: TimeStep | undefined,
  at: Located,
  l: Slot,
): string {
  const t = parts[l.part]!;
  const line = t.lines?.[l.row];
  const ms = at.time(l);
  const time = ms !== undefined ? formatTime(ms, step) : undefined;
  return time !== undefined
    ? `${time}${line !== undefined ? ` (line ${line})` : ""}`
    : `row ${l.row + 1} of part "${names[l.part]}"`;
}
