import { createRequire } from "node:module";
import { join } from "node:path";
import { ownPackageRoot } from "../core/find-up.js";
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

export function rnnpChild(args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  const root = ownPackageRoot(import.meta.url);
  if (!root) throw new Error("cannot find rnnp's package.json above its modules");
  // Loaded here, not at the top: loading node:child_process costs every command a few ms.
  const { spawn } = createRequire(import.meta.url)(
    "node:child_process",
  ) as typeof import("node:child_process");
  const child = spawn(process.execPath, [join(root, "bin", "rnnp.js"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...io().env, ...env },
    cwd: io().cwd,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
