import { sinceStart } from "../core/clock.js";
import { stripVTControlCharacters } from "node:util";
import stringWidth from "string-width";
import { formatBytes, formatDuration } from "../core/units.js";
import { type Printer, stderr, verbosity } from "./io.js";

/**
 * What a command shows on stderr while it works, never on stdout (results) and never as escapes
 * into a file or pipe:
 * - `bar`: a terminal, one stage at a time: a bar redrawn as the stage reports, its text (training's
 *   epoch, loss and speed) updated with every report.
 * - `board`: a terminal, several stages at once (`run --jobs N`, `check`): their lines scroll above
 *   a footer that says what is running now and what each last reported.
 * - `lines`: not a terminal (a log, CI): no bars; a stage's progress as a plain line at most every
 *   `every` ms (training's epochs are logged anyway).
 * - `off`: --quiet.
 * Log lines are prefixed by their stage, `[fit] epoch 3/10 loss 0.41`, as Turborepo and Nx prefix
 * task output; a job's own process leaves the prefix to the coordinator that shows its lines.
 */
export type LiveMode = "bar" | "board" | "lines" | "off";

export interface LiveOptions {
  /** Several stages may run at once (a board on a terminal instead of one bar). */
  concurrent?: boolean;
  /** `[stage]` before log lines (default true). */
  prefix?: boolean;
  /** The mode, when not chosen from the stream and --quiet. */
  mode?: LiveMode;
  /** Plain lines: at most one progress line per stage this often, in ms (default 5000). */
  every?: number;
  /** The clock (tests give their own). */
  now?: () => number;
}

interface Running {
  started: number;
  /** What it last reported: progress text or a log line (the footer shows it). */
  status?: string;
  /** Its last progress, as text (the bar shows it). */
  counted?: string;
  done?: number;
  total?: number;
  unit?: string;
  /** When a plain progress line was last printed for it. */
  printed: number;
  /** Bar: when it started counting (for the rate and the ETA), and from where. */
  counting?: { at: number; from: number };
}

const CLEAR = "\r\x1b[K";
const REDRAW_MS = 100;

export class Live {
  readonly mode: LiveMode;
  private readonly err: Printer;
  private readonly prefix: boolean;
  private readonly every: number;
  private readonly now: () => number;
  private readonly running = new Map<string, Running>();
  /** The text drawn at the bottom of the terminal (bar or footer), or "" when nothing is. */
  private drawn = "";
  private lastDraw = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: LiveOptions = {}) {
    this.err = stderr();
    this.mode =
      opts.mode ??
      (verbosity() === "quiet"
        ? "off"
        : this.err.isTTY
          ? opts.concurrent
            ? "board"
            : "bar"
          : "lines");
    this.prefix = opts.prefix ?? true;
    this.every = opts.every ?? 5000;
    this.now = opts.now ?? sinceStart;
    if (this.mode === "board" && !opts.now) {
      // The footer's clocks tick even while every stage is silent; never keeps the process alive.
      this.timer = setInterval(() => this.draw(true), 1000);
      this.timer.unref();
    }
  }

  /** A stage started executing. */
  start(stage: string): void {
    this.running.set(stage, { started: this.now(), printed: this.now() });
    if (this.mode === "board") this.draw(true);
  }

  /** A stage reports `done` of `total` units; `unit` may carry more (training: epoch, loss, speed). */
  progress(stage: string, done: number, total: number, unit = "items"): void {
    if (this.mode === "off") return;
    const r = this.entry(stage);
    const now = this.now();
    if (!r.counting || done < (r.done ?? 0)) r.counting = { at: now, from: done };
    const text = `${done}/${total} ${unit}`;
    Object.assign(r, { done, total, unit, status: text, counted: text });
    if (this.mode === "lines") {
      if (now - r.printed < this.every) return;
      r.printed = now;
      this.line(stage, text);
      return;
    }
    this.draw(done >= total);
  }

  /** A line a stage logs (an epoch's metrics, a warning, a worker's output). */
  log(stage: string, message: string): void {
    if (this.mode === "off") return;
    const r = this.running.get(stage);
    if (r) {
      r.status = message;
      r.printed = this.now();
    }
    this.line(stage, message);
  }

  /** A stage ended (its result line follows on stdout). */
  end(stage: string): void {
    this.running.delete(stage);
    this.clear();
  }

  /** Takes the bar or footer off the screen before something else writes to the terminal; the next report draws it again. */
  clear(): void {
    if (this.drawn) this.err.write(CLEAR);
    this.drawn = "";
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.running.clear();
    this.clear();
  }

  private entry(stage: string): Running {
    let r = this.running.get(stage);
    if (!r) {
      r = { started: this.now(), printed: this.now() };
      this.running.set(stage, r);
    }
    return r;
  }

  private line(stage: string, message: string): void {
    const text = this.prefix ? `${this.err.c.dim(`[${stage}]`)} ${message}` : message;
    const shown = this.drawn;
    this.clear();
    this.err.write(`${text}\n`);
    if (shown) this.draw(true);
  }

  /** Draws the bar or the footer, at most ten times a second unless `now`. */
  private draw(force: boolean): void {
    if (this.mode !== "bar" && this.mode !== "board") return;
    const now = this.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const text = this.mode === "bar" ? this.bar(now) : this.footer(now);
    if (!text) {
      this.clear();
      return;
    }
    const fitted = fit(text, (this.err.stream.columns || 80) - 1);
    this.err.write(`${CLEAR}${fitted}`);
    this.drawn = fitted;
  }

  /** `  fit [██████░░░░░░] 12/40 batches, epoch 3/10, loss 0.4123, 900 samples/s  30% eta 4 s` */
  private bar(now: number): string {
    const last = [...this.running].findLast(([, r]) => r.total !== undefined);
    if (!last) return "";
    const [stage, r] = last;
    const total = r.total!;
    const done = Math.min(r.done!, total);
    const share = total > 0 ? done / total : 1;
    const width = 20;
    const filled = Math.round(share * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const counted = done - r.counting!.from;
    const eta =
      counted > 0 && done < total
        ? ` eta ${formatDuration(((now - r.counting!.at) / counted) * (total - done))}`
        : "";
    return `  ${stage} [${bar}] ${r.counted}  ${Math.round(share * 100)}%${eta}`;
  }

  /** `running fit 12 s: 12/40 batches, epoch 3/10 · prep 3 s` */
  private footer(now: number): string {
    if (!this.running.size) return "";
    const parts = [...this.running].map(
      ([stage, r]) =>
        `${this.err.c.cyan(stage)} ${clock(now - r.started)}${r.status ? `: ${r.status}` : ""}`,
    );
    return `${this.err.c.dim("running")} ${parts.join(this.err.c.dim(" · "))}`;
  }
}

/** A running stage's clock, in whole seconds: `12 s`, `3 min 4 s`. */
function clock(ms: number): string {
  return ms < 60_000 ? `${Math.floor(ms / 1000)} s` : formatDuration(ms);
}

/** Cuts a line to `columns` display columns (escapes take none), so a redraw never wraps. */
function fit(text: string, columns: number): string {
  if (stringWidth(stripVTControlCharacters(text)) <= columns) return text;
  const plain = stripVTControlCharacters(text);
  let out = "";
  for (const ch of plain) {
    if (stringWidth(out + ch) > columns - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/**
 * Progress of a long maintenance task (cache verify, export, import, repair): phase, done of total,
 * and the bytes read so far where items are counted (verify's blobs).
 */
export type TaskProgress = (phase: string, done: number, total: number, bytes?: number) => void;

/** Phases counted in bytes; the others count items. */
const BYTE_PHASES = new Set(["read", "export"]);

/**
 * A one-line report of a long cache task: redrawn in place on a terminal (at most ten times a
 * second); with --verbose, plain lines elsewhere (at most every `every` ms, and each phase's end);
 * nothing with --quiet, with `enabled` false (--json), or on a non-terminal without --verbose.
 */
export function taskProgress(
  enabled: boolean,
  opts: { every?: number; now?: () => number } = {},
): { update: TaskProgress; stop(): void } {
  const err = stderr();
  const level = verbosity();
  const mode =
    !enabled || level === "quiet"
      ? "off"
      : err.isTTY
        ? "tty"
        : level === "verbose"
          ? "lines"
          : "off";
  const now = opts.now ?? sinceStart;
  const every = mode === "tty" ? REDRAW_MS : (opts.every ?? 5000);
  let last = Number.NEGATIVE_INFINITY;
  let lastPhase = "";
  let shown = false;
  return {
    update: (phase, done, total, bytes) => {
      if (mode === "off") return;
      const t = now();
      const finished = total > 0 && done >= total;
      if (phase === lastPhase && t - last < every && !finished) return;
      last = t;
      lastPhase = phase;
      const of = (n: number) => (BYTE_PHASES.has(phase) ? formatBytes(n) : String(n));
      const share = total > 0 ? ` (${Math.floor((done / total) * 100)}%)` : "";
      const read = bytes !== undefined ? `, ${formatBytes(bytes)}` : "";
      const text = `  ${phase}${total ? ` ${of(done)} of ${of(total)}${share}${read}` : ""}`;
      if (mode === "tty") {
        err.write(`${CLEAR}${fit(text, (err.stream.columns || 80) - 1)}`);
        shown = true;
      } else err.write(`${text}\n`);
    },
    stop: () => {
      if (shown) err.write(CLEAR);
      shown = false;
    },
  };
}
