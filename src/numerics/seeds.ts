import { createHash } from "node:crypto";

/** A seed for one purpose within a stage (a layer's kernel initialiser...): 1 .. 2^31-1, never 0. */
export function subSeed(seed: number, purpose: string): number {
  const h = createHash("sha256").update(`${seed}\0${purpose}`).digest();
  return (h.readUInt32BE(0) % 0x7ffffffe) + 1;
}
