import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers.js";

/**
 * Each folder is a phase that calls only downwards. Top to bottom:
 *   cli -> run (executes a plan) -> plan (DAG, keys, why) -> lang (checked IR) -> grammar (syntax)
 *       -> cache (LMDB store) -> stages (kinds, artifacts) -> core (digests, codec, diagnostics)
 * Data flows the other way (source -> IR -> keyed DAG -> results); calls never go up.
 */
const ORDER = [
  "src/cli",
  "src/run",
  "src/plan",
  "src/lang",
  "grammar",
  "src/cache",
  "src/stages",
  "src/core",
];

function layerOf(file: string): number {
  const rel = relative(ROOT, file);
  return ORDER.findIndex((l) => rel === l || rel.startsWith(`${l}/`));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory()
      ? sources(p)
      : e.name.endsWith(".ts") && !e.name.endsWith(".spec.ts")
        ? [p]
        : [];
  });
}

describe("layers", () => {
  it("no module imports from a phase above its own", () => {
    const violations: string[] = [];
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "grammar"))]) {
      const own = layerOf(file);
      assert.notEqual(own, -1, `${relative(ROOT, file)} is in no known phase`);
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
        const target = resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"));
        const layer = layerOf(target);
        if (layer !== -1 && layer < own)
          violations.push(
            `${relative(ROOT, file)} imports ${relative(ROOT, target)} (${ORDER[layer]} is above ${ORDER[own]})`,
          );
      }
    }
    assert.deepEqual(violations, []);
  });
});
