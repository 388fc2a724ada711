import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** rnnp's own version, from the package.json above this module (the same from src/ and dist/). */
export const RNNP_VERSION: string = (() => {
  for (
    let dir = dirname(fileURLToPath(import.meta.url));
    dirname(dir) !== dir;
    dir = dirname(dir)
  ) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "rnnp") return pkg.version ?? "0.0.0";
    } catch {
      // not here; keep walking up
    }
  }
  return "0.0.0";
})();
