import { ownPackageRoot, readPackageJson } from "./find-up.js";

/** The version the bundle's build wrote in place of `__RNNP_VERSION__` (scripts/bundle.mjs). */
declare const __RNNP_VERSION__: string | undefined;

/**
 * rnnp's own version: the bundle's, else the package.json's above this module (the same from src/
 * and dist/). The bundle is built from that package.json, and reading it cost every command 0.5 ms.
 */
export const RNNP_VERSION: string =
  typeof __RNNP_VERSION__ === "string"
    ? __RNNP_VERSION__
    : (() => {
        const root = ownPackageRoot(import.meta.url);
        return (root && readPackageJson(root)?.version) ?? "0.0.0";
      })();
