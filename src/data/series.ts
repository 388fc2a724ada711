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

/**
 * The steps of the series as numbers (a million rows: no object per row). Slot `s` below `rows` is
 * a row of a part (part p's rows are the slots first[p] to first[p + 1] - 1, in order); from `rows`
 * on, a step filled in for a gap, between two rows of a series.
 */
export class Slots {
  readonly rows: number;
  private readonly first: number[];
  private readonly fills = { part: [] as number[], from: [] as number[], to: [] as number[] };
  private readonly fillAt: number[] = [];

  constructor(rowsPerPart: readonly number[]) {
    this.first = [0];
    for (const n of rowsPerPart) this.first.push(this.first.at(-1)! + n);
    this.rows = this.first.at(-1)!;
  }

  /** How many slots there are: rows and filled steps. */
  get count(): number {
    return this.rows + this.fillAt.length;
  }

  of(part: number, row: number): number {
    return this.first[part]! + row;
  }

  /** The part a slot belongs to: a filled step, the part of the row before its gap. */
  part(s: number): number {
    if (s >= this.rows) return this.fills.part[s - this.rows]!;
    let p = 0;
    while (s >= this.first[p + 1]!) p++;
    return p;
  }

  /** The slot's row in its part; -1 for a filled step. */
  row(s: number): number {
    return s >= this.rows ? -1 : s - this.first[this.part(s)]!;
  }

  /** For a filled step: the rows before and after the gap, and how far between them (0..1). */
  fill(s: number): { from: number; to: number; at: number } | undefined {
    const i = s - this.rows;
    return i < 0
      ? undefined
      : { from: this.fills.from[i]!, to: this.fills.to[i]!, at: this.fillAt[i]! };
  }

  /** A new filled step, in `part`, between slots `from` and `to`. */
  addFill(part: number, from: number, to: number, at: number): number {
    this.fills.part.push(part);
    this.fills.from.push(from);
    this.fills.to.push(to);
    this.fillAt.push(at);
    return this.count - 1;
  }
}

export interface Segment {
  key: string;
  /** Its steps, in time order (slots of `Assembled.slots`). */
  slots: Int32Array;
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
  /** What each slot a segment holds is: a row of a part, or a filled step. */
  slots: Slots;
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
 * A row of a part (a slot) with its part, row, step (parts of a sequential split) and time (a time
 * column), read from the parts when asked: no object per row, for a million rows.
 */
interface Located {
  part(l: number): number;
  row(l: number): number;
  step(l: number): number | undefined;
  time(l: number): number | undefined;
}

/** The series of every part: put together across parts when they come from a sequential split. */
export function assemble(parts: readonly Table[], o: AssembleOptions): Assembled {
  const joined = parts.length > 0 && parts.every((t) => t.timeline);
  const slots = new Slots(parts.map(rowCount));
  const byKey = new Map<string, number[]>();
  const order: string[] = [];
  const timeColumn = parts[0]?.roles.time;
  const timesOf = parts.map((t) =>
    timeColumn && t.roles.time === timeColumn
      ? (column(t, timeColumn).values as Float64Array)
      : undefined,
  );
  const at: Located = {
    part: (l) => slots.part(l),
    row: (l) => slots.row(l),
    step: (l) => (joined ? parts[slots.part(l)]!.timeline!.step[slots.row(l)]! : undefined),
    time: (l) => timesOf[slots.part(l)]?.[slots.row(l)],
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
      list.push(slots.of(part, row));
    }
  });
  const series = order.map((key) => {
    const list = byKey.get(key)!;
    // Parts of a sequential split come in time order already: sorting would copy the list first.
    if (joined && !increasing(list, at.step)) list.sort((a, b) => at.step(a)! - at.step(b)!);
    return { key, list };
  });
  byKey.clear();
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
    const ids = Int32Array.from(list);
    list.length = 0;
    // The steps with filled ones among them: made only once a gap is filled.
    let withFills: number[] | undefined;
    // Where the stretch being cut starts (gaps: "split").
    let from = 0;
    for (let i = 0; i < ids.length; i++) {
      const l = ids[i]!;
      const prev = i > 0 ? ids[i - 1] : undefined;
      const missing = prev !== undefined ? missingBetween(at, prev, l, step) : 0;
      if (missing === undefined) {
        throw new UserError(
          `the series${label} is not evenly spaced: ${where(parts, o.names, step, at, prev!)} and ${where(parts, o.names, step, at, l)} are ${describeGap(at, prev!, l)} apart, off its step of ${describeStep(step!)}`,
          {
            hint: 'declare the step with every: (e.g. "day"), or regularise the times before loading',
          },
        );
      }
      if (missing > 0 && o.gaps !== "ignore") {
        if (o.gaps === "error")
          problems.push(
            `${missing} ${step ? `step${missing === 1 ? "" : "s"} (${describeStep(step)} each)` : `row${missing === 1 ? "" : "s"}`} missing${label} between ${where(parts, o.names, step, at, prev!)} and ${where(parts, o.names, step, at, l)}`,
          );
        else if (o.gaps === "split") {
          segments.push({ key, slots: ids.subarray(from, i) });
          from = i;
        } else {
          withFills ??= Array.from(ids.subarray(0, i));
          for (let k = 1; k <= missing; k++)
            withFills.push(slots.addFill(slots.part(prev!), prev!, l, k / (missing + 1)));
          filled[slots.part(l)]! += missing;
        }
      }
      withFills?.push(l);
    }
    segments.push({ key, slots: withFills ? Int32Array.from(withFills) : ids.subarray(from) });
    // Each series whole: only with gaps: "split" (which fills nothing), to count what gaps cost.
    if (o.gaps === "split") whole.push({ key, slots: ids });
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
    slots,
    segments,
    ...(o.gaps === "split" ? { whole } : {}),
    filled,
    ...(step
      ? { step, describeAhead: (h: number) => `+${describeStep({ ...step, n: step.n * h })}` }
      : {}),
  };
}

function increasing(list: readonly number[], key: (l: number) => number | undefined): boolean {
  for (let i = 1; i < list.length; i++) if (key(list[i - 1]!)! >= key(list[i]!)!) return false;
  return true;
}

/** Steps missing between two neighbours of a series: 0 when adjacent; undefined when off the step. */
function missingBetween(
  at: Located,
  a: number,
  b: number,
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

function describeGap(at: Located, a: number, b: number): string {
  const ms = at.time(b)! - at.time(a)!;
  return ms % 8.64e7 === 0 ? `${ms / 8.64e7} days` : `${ms / 1000} seconds`;
}

/** A row as users find it: its time and the data file's line, when known. */
function where(
  parts: readonly Table[],
  names: readonly string[],
  step: TimeStep | undefined,
  at: Located,
  l: number,
): string {
  const t = parts[at.part(l)]!;
  const line = t.lines?.[at.row(l)];
  const ms = at.time(l);
  const time = ms !== undefined ? formatTime(ms, step) : undefined;
  return time !== undefined
    ? `${time}${line !== undefined ? ` (line ${line})` : ""}`
    : `row ${at.row(l) + 1} of part "${names[at.part(l)]}"`;
}
