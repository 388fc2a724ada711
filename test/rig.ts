import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../src/cli/main.js";
import type { Io, Stream } from "../src/cli/io.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";
import { BIN, cleanEnv, tempDir } from "./helpers.js";

export { cleanEnv };

/**
 * A test's own little world, as google/wireit's test rig gives each test: a temporary directory, an
 * environment cleaned of the caller's (no RNNP_*, no CI: a developer's shell settings must not change
 * a result), and the rnnp CLI run against it — in-process through `main(argv, io)` (fast: no Node
 * start-up, no module loading per call), or as a real process where the process is the point
 * (signals, leases, `--jobs`, fresh-process determinism).
 */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stream that keeps what is written, for in-process runs; a terminal when the test says so. */
export class Captured implements Stream {
  text = "";
  constructor(
    readonly isTTY = false,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

export class Rig {
  readonly dir: string;
  /** Extra environment for every run of this rig (e.g. RNNP_THREADS). */
  env: Record<string, string> = {};

  /** Make rigs in a test or a describe block, not in a hook: the folder goes when the file ends. */
  constructor(prefix = "rnnp-rig-") {
    this.dir = tempDir(prefix);
  }

  /** Writes files (relative to the rig's directory), creating folders as needed. */
  write(files: Record<string, string | Uint8Array>): this {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.dir, name)), { recursive: true });
      writeFileSync(join(this.dir, name), content);
    }
    return this;
  }

  read(name: string): string {
    return readFileSync(join(this.dir, name), "utf8");
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** `rnnp ARGS` in this process, in the rig's directory and environment. */
  async rnnp(
    args: string[],
    opts: {
      cwd?: string;
      env?: Record<string, string>;
      stdin?: string;
      /** Which streams are terminals (default: neither), as `rnnp run 2> log` on a terminal makes stdout one and stderr not. */
      tty?: { stdout?: boolean; stderr?: boolean };
    } = {},
  ): Promise<CliResult> {
    const stdout = new Captured(opts.tty?.stdout);
    const stderr = new Captured(opts.tty?.stderr);
    const stdin = new PassThrough();
    stdin.end(opts.stdin ?? "");
    const io: Io = {
      stdout,
      stderr,
      stdin,
      env: cleanEnv({ ...this.env, ...opts.env }),
      cwd: opts.cwd ?? this.dir,
    };
    const code = await main(args, io);
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  /**
   * The output digests of the given stages of a run (its `--json` stages), as `stage.output` ->
   * digest, read from the cache records (the rig's cache, or `cache`).
   */
  async digests(
    stages: readonly { name: string; key: string | null }[],
    cache?: string,
  ): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const s of stages) {
      const shown = await this.rnnp([
        "cache",
        "show",
        String(s.key),
        "--json",
        ...(cache ? ["--cache", cache] : []),
      ]);
      if (shown.code !== 0) throw new Error(`no record for ${s.name}: ${shown.stderr}`);
      const record = JSON.parse(shown.stdout) as { outputs: Record<string, { digest: string }> };
      for (const [o, ref] of Object.entries(record.outputs)) out[`${s.name}.${o}`] = ref.digest;
    }
    return out;
  }

  /** `rnnp ARGS` as a real process (compiled CLI), synchronously. */
  spawnSync(
    args: string[],
    opts: {
      cwd?: string;
      env?: Record<string, string>;
      nodeArgs?: string[];
      /** Killed after this long (code -1): for a run that might hang in a blocking call. */
      timeoutMs?: number;
    } = {},
  ): CliResult {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, ...(opts.nodeArgs ?? []), BIN, ...args], {
      cwd: opts.cwd ?? this.dir,
      encoding: "utf8",
      env: cleanEnv({ ...this.env, ...opts.env }),
      timeout: opts.timeoutMs,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** `rnnp ARGS` as a real process, running in the background (to signal or race it). */
  spawn(
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; nodeArgs?: string[] } = {},
  ): Promise<CliResult> & { child: ReturnType<typeof spawn> } {
    const child = spawn(process.execPath, [...NODE_FLAGS, ...(opts.nodeArgs ?? []), BIN, ...args], {
      cwd: opts.cwd ?? this.dir,
      env: cleanEnv({ ...this.env, ...opts.env }),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const done = new Promise<CliResult>((resolve) =>
      child.on("close", (code, signal) =>
        resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr }),
      ),
    );
    return Object.assign(done, { child });
  }
}

/**
 * Why a test that needs a system program cannot run here, or undefined when it can. One policy for
 * every tool: skip with the reason on a developer's machine; `.ci/run` installs the tools and fails
 * when anything was skipped.
 */
export function missingTool(command: string, versionArg = "--version"): string | undefined {
  const r = spawnSync(command, [versionArg], { encoding: "utf8" });
  return r.error ? `${command} is not installed (.ci/run installs it)` : undefined;
}
