import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ownPackageRoot } from "../core/find-up.js";
import { CONFIG_SCHEMA } from "../project/config-schema.js";
import { referenceMarkdown } from "./reference.js";

/**
 * `npm run docs`: writes the documents generated from declarations (specs keep them in sync):
 * schema/rnnp.config.schema.json from the config schema, docs/reference.md from the kinds, layers,
 * optimizers and diagnostic codes.
 */
export function configSchemaJson(): string {
  return `${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`;
}

export function writeDocs(root: string): string[] {
  const files: [string, string][] = [
    ["schema/rnnp.config.schema.json", configSchemaJson()],
    ["docs/reference.md", referenceMarkdown()],
  ];
  for (const [path, text] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return files.map(([p]) => p);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = ownPackageRoot(import.meta.url);
  if (!root) throw new Error("docs: cannot find rnnp's package root");
  process.stdout.write(`wrote ${writeDocs(root).join(", ")}\n`);
}
