import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { textMateGrammarJson } from "./textmate.js";

/** `npm run grammar` (after grammar/generate.ts): regenerates the editors' TextMate grammar. */
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..").replace(/[\\/]dist$/, "");
const file = join(root, "editors", "vscode", "syntaxes", "rnnp.tmLanguage.json");
writeFileSync(file, textMateGrammarJson());
process.stdout.write(`wrote ${file}\n`);
