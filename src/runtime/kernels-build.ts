import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "../core/digest.js";
import { ownPackageRoot } from "../core/find-up.js";

/**
 * Where the compiled kernels are and what they are, without loading them: planning and `status` key
 * stages on the kernels' identity and must stay light (this module imports nothing heavy).
 */
export function kernelsPath(): string {
  const root = ownPackageRoot(import.meta.url);
  if (!root) throw new Error("cannot find rnnp's package.json above its modules");
  return join(root, "dist", "kernels", "rnn.wasm");
}

/**
 * The version of what rnnp does around the kernels in TF.js (fuse.ts, op.ts, cells.ts): bump it with
 * any change there that changes what a model computes (the wasm's digest covers the kernels).
 * 2: recurrent dropout fused; input dropout masks drawn per gate; a layer applied once per input.
 */
export const FUSED_OPS_VERSION = 2;

/** The kernels' identity for stage keys: a digest of the compiled module, or undefined when not built. */
export function kernelsDigest(path = kernelsPath()): string | undefined {
  return existsSync(path) ? sha256(readFileSync(path)).slice(0, 16) : undefined;
}
