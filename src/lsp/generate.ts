import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_SCHEMA } from "../project/config-schema.js";
import { textMateGrammarJson } from "./textmate.js";

/**
 * `npm run grammar` (after grammar/generate.ts): regenerates what the VS Code extension ships from
 * rnnp's declarations: the TextMate grammar, and the JSON Schema of rnnp.config.json.
 */
export function editorFiles(): [string, string][] {
  return [
    ["editors/vscode/syntaxes/rnnp.tmLanguage.json", textMateGrammarJson()],
    [
      "editors/vscode/schemas/rnnp.config.schema.json",
      `${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`,
    ],
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..").replace(/[\\/]dist$/, "");
  for (const [path, text] of editorFiles()) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
