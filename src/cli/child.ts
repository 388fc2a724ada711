import { createRequire } from "node:module";
import { join } from "node:path";
import { ownPackageRoot } from "../core/find-up.js";
import { NODE_FLAGS } from "../core/node-flags.js";
import { io } from "./io.js";

/**
 * A child rnnp process (a `--jobs` worker, a `check` rebuild): the installed command, in the current
 * directory and environment plus `env`. Its output is collected; the caller reads it on exit.
 */
export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function rnnpChild(
  args: string[],
  env: Record<string, string> = {},
  /** Each line the child writes to stderr, as it comes (a worker's logs and progress, shown live). */
  onStderrLine?: (line: string) => void,
): Promise<ChildResult> {
  const root = ownPackageRoot(import.meta.url);
  if (!root) throw new Error("cannot find rnnp's package.json above its modules");
  // Loaded here, not at the top: loading node:child_process costs every command a few ms.
  const { spawn } = createRequire(import.meta.url)(
    "node:child_process",
  ) as typeof import("node:child_process");
  const child = spawn(process.execPath, [...NODE_FLAGS, join(root, "bin", "rnnp.js"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...io().env, ...env },
    cwd: io().cwd,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  let partial = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    stderr += d;
    if (!onStderrLine) return;
    const lines = (partial + d).split("\n");
    partial = lines.pop()!;
    for (const line of lines) onStderrLine(line);
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (partial && onStderrLine) onStderrLine(partial);
      resolve({ code, stdout, stderr });
    });
  });
}
