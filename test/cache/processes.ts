// Many processes on one lockfile or one cache at once (shared by test/cache/concurrency.test.ts and
// test/stress/concurrency.test.ts).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { cleanEnv } from "../helpers.js";
import { nodeArgsFor } from "../fixtures/node-args.js";

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs a TypeScript script of this folder in `n` processes at once, process i with `args(i)`. */
export function together(
  script: string,
  n: number,
  args: (i: number) => string[],
): Promise<ProcessEnd[]> {
  return Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<ProcessEnd>((resolve) => {
          const child = spawn(
            process.execPath,
            [...nodeArgsFor(join(import.meta.dirname, script)), ...args(i)],
            { stdio: ["ignore", "ignore", "pipe"], env: cleanEnv() },
          );
          let stderr = "";
          child.stderr.on("data", (d) => (stderr += d));
          child.on("close", (code, signal) => resolve({ code, signal, stderr }));
        }),
    ),
  );
}

export const failures = (ends: ProcessEnd[]) =>
  ends
    .filter((e) => e.code !== 0)
    .map((e) => `${e.code ?? e.signal}: ${e.stderr.trim().split("\n").at(-1)}`);
