import { io } from "./io.js";
import { RemoteCache, splitCredentials } from "../cache/remote.js";
import { cacheKeyFromEnv } from "../cache/signing.js";
import { findProjectRoot } from "../project/root.js";
import { EXIT, Exit } from "./exit.js";

/**
 * Settings that belong to a machine or a CI job rather than to a pipeline, from (first wins) the
 * command line, the environment, and the project's rnnp.config.json (src/project/root.ts):
 *   { "remote": { "url": "https://cache.example/rnnp", "mode": "read" | "readwrite" } }
 */
export interface RemoteFlags {
  remote?: string;
  remoteWrite?: boolean;
}

/** The remote cache, if one is set; `from` is where the project root is looked for (the pipeline's folder). */
export function remoteFor(
  flags: RemoteFlags,
  warn: (message: string) => void,
  from: string = io().cwd,
  forceMode?: "readwrite",
): RemoteCache | undefined {
  const file =
    flags.remote === undefined && io().env.RNNP_REMOTE === undefined
      ? findProjectRoot(from)
      : undefined;
  const url = flags.remote ?? io().env.RNNP_REMOTE ?? file?.config.remote?.url;
  if (!url) return undefined;
  if (!/^https?:\/\//.test(url))
    throw new Exit(
      EXIT.invalid,
      `remote cache ${splitCredentials(url).url}: expected an http:// or https:// URL`,
    );
  const mode =
    forceMode ??
    (flags.remoteWrite
      ? "readwrite"
      : (io().env.RNNP_REMOTE_MODE ?? file?.config.remote?.mode ?? "read"));
  if (mode !== "read" && mode !== "readwrite")
    throw new Exit(EXIT.invalid, `remote cache mode "${mode}": expected "read" or "readwrite"`);
  const key = cacheKeyFromEnv(io().env);
  // RNNP_REMOTE_TOKEN comes from the environment only (never a file that might be committed).
  const token = io().env.RNNP_REMOTE_TOKEN;
  return new RemoteCache({ url, mode, ...(key ? { key } : {}), ...(token ? { token } : {}), warn });
}
