import { InvalidArgumentError } from "commander";

/** Exit codes: the contract scripts and CI rely on. */
export const EXIT = {
  ok: 0,
  /** A stage failed (or a maintenance command found damage). */
  failed: 1,
  /** The pipeline or the command line is invalid. */
  invalid: 2,
  /** `run --frozen`: a stage's key or bytes differ from the lockfile. */
  frozen: 3,
  /** `check`: a stage is not deterministic (as `nix build --check` exits 104). */
  nondeterministic: 104,
} as const;

/** A failure that ends the command with a given exit code, after its message is printed. */
export class Exit extends Error {
  constructor(
    readonly code: number,
    message = "",
  ) {
    super(message);
  }
}

/** Commander's parser for count options (`--jobs 2`): a positive integer, or a usage error (exit 2). */
export function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/** Commander's accumulator for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
