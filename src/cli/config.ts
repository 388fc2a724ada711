import { io } from "./io.js";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { RemoteCache, splitCredentials } from "../cache/remote.js";
import { cacheKeyFromEnv } from "../cache/signing.js";
import { EXIT, Exit } from "./exit.js";

/**
 * Settings that belong to a machine or a CI job rather than to a pipeline, from (first wins) the
 * command line, the environment, and `rnnp.config.json` in the working directory or above it:
 *   { "remote": { "url": "https://cache.example/rnnp", "mode": "read" | "readwrite" } }
 */
export interface RemoteFlags {
  remote?: string;
  remoteWrite?: boolean;
}

export interface ConfigFile {
  remote?: { url?: string; mode?: string };
  /** The executor runs use: "local" (default), "bullmq" or "slurm". */
  executor?: string;
  queue?: { url?: string; name?: string };
  slurm?: {
    partition?: string;
    /** Stage kind (or "*") -> sbatch resources: cpus per task, memory ("2G"), time limit ("30:00"). */
    resources?: Record<string, { cpus?: number; mem?: string; time?: string }>;
  };
}

export function configFile(): { path: string; config: ConfigFile } | undefined {
  for (let dir = io().cwd; ; dir = dirname(dir)) {
    const path = join(dir, "rnnp.config.json");
    if (existsSync(path)) {
      try {
        return { path, config: JSON.parse(readFileSync(path, "utf8")) as ConfigFile };
      } catch (e) {
        throw new Exit(EXIT.invalid, `${path}: ${(e as Error).message}`);
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export function remoteFor(
  flags: RemoteFlags,
  warn: (message: string) => void,
  forceMode?: "readwrite",
): RemoteCache | undefined {
  const file =
    flags.remote === undefined && io().env.RNNP_REMOTE === undefined ? configFile() : undefined;
  const url = flags.remote ?? io().env.RNNP_REMOTE ?? file?.config.remote?.url;
  if (!url) return undefined;
  if (!/^https?:\/\//.test(url))
    throw new Exit(
      EXIT.invalid,
      `remote cache ${splitCredentials(url).url}: expected an http:// or https:// URL`,
    );
  const mode = forceMode
    ? forceMode
    : flags.remoteWrite
      ? "readwrite"
      : (io().env.RNNP_REMOTE_MODE ?? file?.config.remote?.mode ?? "read");
  if (mode !== "read" && mode !== "readwrite")
    throw new Exit(EXIT.invalid, `remote cache mode "${mode}": expected "read" or "readwrite"`);
  const key = cacheKeyFromEnv(io().env);
  const token = io().env.RNNP_REMOTE_TOKEN;
  return new RemoteCache({ url, mode, ...(key ? { key } : {}), ...(token ? { token } : {}), warn });
}
