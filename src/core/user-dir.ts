import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The directory the user ran rnnp in, against which paths in messages are shown. The CLI sets it
 * per command (`main(argv, io)` runs with the given io's cwd, so two in-process commands can each
 * have their own); anything else sees this process's working directory.
 */
const current = new AsyncLocalStorage<string>();

export function userDir(): string {
  return current.getStore() ?? process.cwd();
}

/** Runs `fn` with `dir` as the user's directory. */
export function inUserDir<T>(dir: string, fn: () => T): T {
  return current.run(dir, fn);
}
