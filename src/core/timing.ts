import { sinceStart } from "./clock.js";

/**
 * Named moments of one process, in ms since it started (`sinceStart()`): where a command's
 * time goes (Node's start, module loading, parsing, planning, cache reads, output). Recording is a
 * clock read and an array push, so the marks stay in every run; `bin/rnnp.js` prints them on stderr
 * when RNNP_TIMING is set, and the bench reads them for its start-up breakdown.
 */
const moments: { name: string; at: number; cpu: number }[] = [];

/** Also the process's CPU time so far (user + system, ms): on a busy machine, the figure to trust. */
export function mark(name: string): void {
  const { user, system } = process.cpuUsage();
  moments.push({ name, at: sinceStart(), cpu: (user + system) / 1000 });
}

/** The moments recorded so far, in order. */
export function marks(): readonly { name: string; at: number; cpu: number }[] {
  return moments;
}
