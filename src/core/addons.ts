import { join } from "node:path";
import { ownPackageRoot } from "./find-up.js";

/**
 * rnnp's own C add-ons (binding.gyp: the digest, the pages), built at install beside the native
 * kernels when a compiler is there; each caller checks what it loaded before it trusts it.
 */

/** Where the add-on `name` is built in rnnp's package (build/Release); undefined outside one. */
export function builtAddon(name: string): string | undefined {
  const root = ownPackageRoot(import.meta.url);
  return root ? join(root, "build", "Release", `${name}.node`) : undefined;
}

/**
 * dlopen's RTLD_NOW (2 on Linux and macOS; Windows has no lazy binding): the add-on's symbols are
 * bound as it loads. Node's default, RTLD_LAZY, binds a symbol at its first call, and a Node that
 * does not export one (OpenSSL's SHA256) would then end the process ("symbol lookup error")
 * instead of failing the load here.
 */
const RTLD_NOW = 2;

/** The exports of the add-on at `path`, or undefined when it does not load (not built, a symbol missing). */
export function loadAddon(path: string): unknown {
  const addon = { exports: {} as unknown };
  try {
    process.dlopen(addon, path, RTLD_NOW);
  } catch {
    return undefined;
  }
  return addon.exports;
}
