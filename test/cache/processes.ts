// Many processes on one lockfile or one cache at once (shared by test/cache/concurrency.test.ts and
// test/stress/cache-faults.test.ts).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { cleanEnv } from "../helpers.js";
import { nodeArgsFor } from "../fixtures/node-args.js";

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/** Runs a TypeScript script of this folder in a process, with `env` added to a clean one. */
export function script(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ProcessEnd> {
  return new Promise<ProcessEnd>((resolve) => {
    const child = spawn(
      process.execPath,
      [...nodeArgsFor(join(import.meta.dirname, name)), ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv(env) },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code, signal) => resolve({ code, signal, stderr, stdout }));
  });
}

/** Runs a TypeScript script of this folder in `n` processes at once, process i with `args(i)`. */
export function together(
  name: string,
  n: number,
  args: (i: number) => string[],
): Promise<ProcessEnd[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => script(name, args(i))));
}

/** How the processes that did not exit 0 ended: their exit, and their error's line (else the last). */
export const failures = (ends: ProcessEnd[]) =>
  ends
    .filter((e) => e.code !== 0)
    .map((e) => {
      const lines = e.stderr.trim().split("\n");
      return `${e.code ?? e.signal}: ${lines.find((l) => /Error\b/.test(l)) ?? lines.at(-1)}`;
    });
