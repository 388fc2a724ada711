/**
 * Fault injection for the children of verify and repair (tests only): where to die as a damaged LMDB
 * page would make them die, so that surviving it is tested without depending on which random bytes
 * crash LMDB. Passed to the child in an environment variable.
 */
export const FAULTS_ENV = "RNNP_SALVAGE_FAULTS";

export interface WorkerFaults {
  /** The scan dies as it starts. */
  scan?: boolean;
  /** The table whose copy `read` and `range` apply to. */
  table?: string;
  /** The copy dies reading the value of this key (hex), as on a damaged overflow page. */
  read?: string;
  /**
   * The copy dies when its cursor reaches a key after `range[0]` and up to `range[1]` (hex), as on a
   * damaged page holding those keys: it cannot even say which key it reached.
   */
  range?: [string, string];
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerFaults {
  const text = env[FAULTS_ENV];
  return text ? (JSON.parse(text) as WorkerFaults) : {};
}

/** Dies by SIGSEGV, as LMDB does on a damaged page. */
export function crash(): never {
  process.kill(process.pid, "SIGSEGV");
  throw new Error("unreachable");
}
