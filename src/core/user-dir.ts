import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The directory the user ran rnnp in, against which paths in messages are shown. The CLI sets it
 * per command (`main(argv, io)` runs with the given io's cwd, so two in-process commands can each
 * have their own); anything else sees this process's working directory.
 */
const current = new AsyncLocalStorage<string>();
/** The process-wide one (see `inUserDir`). */
let processWide: string | undefined;

export function userDir(): string {
  return current.getStore() ?? processWide ?? process.cwd();
}

/**
 * Runs `fn` with `dir` as the user's directory. `processWide` (the installed command: one command per
 * process) sets it for the whole process instead of for `fn`'s asynchronous context, which spares
 * every promise the command makes the cost of async context tracking.
 */
export function inUserDir<T>(dir: string, fn: () => T, how: { processWide?: boolean } = {}): T {
  if (!how.processWide) return current.run(dir, fn);
  processWide = dir;
  return fn();
}
