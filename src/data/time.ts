/**
 * Time values in data files. A declared time column (`load.csv(..., time: "date")`) is parsed into
 * milliseconds since 1970-01-01 UTC; values without a zone are read as UTC, so a file means the same
 * on every machine. Accepted: ISO 8601 years (`2000`), months (`2000-01`), dates (`2000-01-31`,
 * `2000/01/31`), date-times (`2000-01-31T13:45`, seconds, fractions, `Z` or `+01:00`), and dates with
 * English month names (`Jan 1 2000`, `January 1, 2000`, `1 Jan 2000`).
 */
const MONTHS = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
] as const;

const ISO =
  /^(\d{4})(?:[-/](\d{2})(?:[-/](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?$/;
const NAMED_FIRST = /^([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})$/;
const DAY_FIRST = /^(\d{1,2}) ([A-Za-z]{3,9})\.?,? (\d{4})$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function monthOf(name: string): number | undefined {
  const lower = name.toLowerCase();
  const i = MONTHS.findIndex((m) => lower.startsWith(m));
  if (i < 0) return undefined;
  // A full name must be the month's name, not any word starting with its abbreviation.
  const full = new Date(Date.UTC(2000, i, 1)).toLocaleString("en", { month: "long" });
  return lower.length === 3 || full.toLowerCase() === lower || lower === "sept" ? i + 1 : undefined;
}

function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59)
    return undefined;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  return date.getTime();
}

/** Milliseconds since the epoch (UTC), or undefined when the text is not a time this reader knows. */
export function parseTime(text: string): number | undefined {
  const s = text.trim();
  if (s.length > 40) return undefined;
  const iso = ISO.exec(s);
  if (iso) {
    const [, y, mo, d, h, mi, sec, frac, zone] = iso;
    const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
    const t = utc(
      Number(y),
      Number(mo ?? 1),
      Number(d ?? 1),
      Number(h ?? 0),
      Number(mi ?? 0),
      Number(sec ?? 0),
      ms,
    );
    if (t === undefined || !zone || zone === "Z") return t;
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    if (Number(digits.slice(2)) > 59) return undefined;
    return t - sign * offset * 60_000;
  }
  const named = NAMED_FIRST.exec(s);
  const dayFirst = named ? undefined : DAY_FIRST.exec(s);
  const [mName, day, year] = named
    ? [named[1]!, named[2]!, named[3]!]
    : dayFirst
      ? [dayFirst[2]!, dayFirst[1]!, dayFirst[3]!]
      : [];
  if (mName === undefined) return undefined;
  const month = monthOf(mName);
  return month === undefined ? undefined : utc(Number(year), month, Number(day));
}

/** The spacing of a series: a number of calendar months, or a fixed number of milliseconds. */
export type TimeStep = { unit: "month"; n: number } | { unit: "ms"; n: number };

export const EVERY = [
  "second",
  "minute",
  "hour",
  "day",
  "week",
  "month",
  "quarter",
  "year",
] as const;
export type Every = (typeof EVERY)[number];

export function stepOf(every: Every): TimeStep {
  switch (every) {
    case "month":
      return { unit: "month", n: 1 };
    case "quarter":
      return { unit: "month", n: 3 };
    case "year":
      return { unit: "month", n: 12 };
    default:
      return {
        unit: "ms",
        n: { second: 1e3, minute: 6e4, hour: 3.6e6, day: 8.64e7, week: 6.048e8 }[every],
      };
  }
}

function monthIndex(t: number): number {
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

/** Time within the month (day, hour...): equal for every value of a monthly series. */
function withinMonth(t: number): number {
  const d = new Date(t);
  return t - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/**
 * The step of series given as sorted times: calendar months when every value falls at the same point
 * of its month (monthly, quarterly, yearly data: the most common spacing in months); else the most
 * common spacing in milliseconds (ties: the smaller). Undefined with fewer than two values.
 */
export function inferStep(series: readonly ArrayLike<number>[]): TimeStep | undefined {
  const first = series.find((s) => s.length > 0)?.[0];
  if (first === undefined) return undefined;
  const anchor = withinMonth(first);
  const monthly = series.every((s) => Array.from(s).every((t) => withinMonth(t) === anchor));
  const counts = new Map<number, number>();
  for (const s of series)
    for (let i = 1; i < s.length; i++) {
      const d = monthly ? monthIndex(s[i]!) - monthIndex(s[i - 1]!) : s[i]! - s[i - 1]!;
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
  let best: [number, number] | undefined;
  for (const [d, c] of counts)
    if (d > 0 && (!best || c > best[1] || (c === best[1] && d < best[0]))) best = [d, c];
  if (!best) return undefined;
  return { unit: monthly ? "month" : "ms", n: best[0] };
}

/** How many steps from a to b (a <= b); a fraction when b is off the grid that a starts. */
export function stepsBetween(a: number, b: number, step: TimeStep): number {
  if (step.unit === "ms") return (b - a) / step.n;
  const months = monthIndex(b) - monthIndex(a);
  const offGrid = withinMonth(a) !== withinMonth(b) ? 0.5 : 0;
  return (months + offGrid) / step.n;
}

/** The time k steps after t. */
export function addSteps(t: number, k: number, step: TimeStep): number {
  if (step.unit === "ms") return t + k * step.n;
  const d = new Date(t);
  const within = withinMonth(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + k * step.n, 1) + within;
}

export function describeStep(step: TimeStep): string {
  if (step.unit === "month")
    return step.n === 1 ? "1 month" : step.n === 12 ? "1 year" : `${step.n} months`;
  const units: [number, string][] = [
    [6.048e8, "week"],
    [8.64e7, "day"],
    [3.6e6, "hour"],
    [6e4, "minute"],
    [1e3, "second"],
  ];
  for (const [ms, name] of units)
    if (step.n % ms === 0) return `${step.n / ms} ${name}${step.n === ms ? "" : "s"}`;
  return `${step.n} ms`;
}

/** A time as people read it, as precise as the step needs: 2003-04, 2003-04-17, 2003-04-17T13:00Z. */
export function formatTime(t: number, step?: TimeStep): string {
  const iso = new Date(t).toISOString();
  if (step?.unit === "month" && withinMonth(t) === 0)
    return iso.slice(0, step.n % 12 === 0 ? 4 : 7);
  if (t % 8.64e7 === 0) return iso.slice(0, 10);
  return iso.endsWith(":00.000Z") ? `${iso.slice(0, 16)}Z` : iso;
}
