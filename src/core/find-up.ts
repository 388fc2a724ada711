import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** `start` and every folder above it, nearest first: how Node finds packages and rnnp its project. */
export function* ancestors(start: string): Generator<string> {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    yield dir;
    if (dirname(dir) === dir) return;
  }
}

/** The nearest folder at or above `start` for which `found` holds. */
export function findUp(start: string, found: (dir: string) => boolean): string | undefined {
  for (const dir of ancestors(start)) if (found(dir)) return dir;
  return undefined;
}

/** The package.json of `dir`, if it has a readable one. */
export function readPackageJson(dir: string): { name?: string; version?: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name?: string;
      version?: string;
    };
  } catch {
    return undefined;
  }
}

/** Package roots found, by module and name: a command asks for rnnp's from several modules. */
const roots = new Map<string, string | undefined>();

/** The root of the installed package named `name` that holds the module at `moduleUrl`. */
export function ownPackageRoot(moduleUrl: string, name = "rnnp"): string | undefined {
  const asked = `${moduleUrl}\0${name}`;
  if (roots.has(asked)) return roots.get(asked);
  const root = findUp(
    dirname(fileURLToPath(moduleUrl)),
    (dir) => readPackageJson(dir)?.name === name,
  );
  roots.set(asked, root);
  return root;
}
