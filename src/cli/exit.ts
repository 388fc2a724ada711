/** Exit codes: the contract scripts and CI rely on. */
export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** A failure that ends the command with a given exit code, after its message is printed. */
export class Exit extends Error {
  constructor(
    readonly code: number,
    message = "",
  ) {
    super(message);
  }
}

/** Commander's accumulator for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
