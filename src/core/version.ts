import { ownPackageRoot, readPackageJson } from "./find-up.js";

/** rnnp's own version, from the package.json above this module (the same from src/ and dist/). */
export const RNNP_VERSION: string = (() => {
  const root = ownPackageRoot(import.meta.url);
  return (root && readPackageJson(root)?.version) ?? "0.0.0";
})();
