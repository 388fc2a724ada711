import { existsSync, readdirSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { UserError } from "../core/diagnostic.js";
import { findUp } from "../core/find-up.js";

/**
 * Paths in a pipeline are relative to the pipeline file, so a pipeline means the same thing from any
 * working directory. `npm:<package>/<file>` names a file inside an installed package (example data
 * ships that way), found the way Node finds packages: the nearest node_modules up the tree.
 */
export function resolveDataPath(path: string, pipelineDir: string): string {
  if (path.startsWith("npm:")) {
    const spec = path.slice(4);
    const parts = spec.split("/");
    const pkgLen = spec.startsWith("@") ? 2 : 1;
    const pkg = parts.slice(0, pkgLen).join("/");
    const rest = parts.slice(pkgLen).join("/");
    const home = findUp(pipelineDir, (dir) => existsSync(join(dir, "node_modules", pkg)));
    if (home) return join(home, "node_modules", pkg, rest);
    throw new UserError(
      `package "${pkg}" is not installed (looked for node_modules/${pkg} above ${pipelineDir}); run npm install`,
    );
  }
  return isAbsolute(path) ? path : resolve(pipelineDir, path);
}

/** Files of a folder tree in a stable order (sorted by relative path), skipping hidden entries. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith(".")) continue;
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(dir);
  return out;
}
