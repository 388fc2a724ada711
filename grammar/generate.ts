import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { grammarDiagramHtml } from "./diagram.js";
import { grammarEbnf } from "./ebnf.js";

/** `npm run grammar`: regenerates rnnp.ebnf and diagram.html from the parser. */
const here = dirname(fileURLToPath(import.meta.url)).replace(/[\\/]dist[\\/]grammar$/, "/grammar");
writeFileSync(join(here, "rnnp.ebnf"), grammarEbnf());
writeFileSync(join(here, "diagram.html"), grammarDiagramHtml());
process.stdout.write(`wrote ${join(here, "rnnp.ebnf")} and ${join(here, "diagram.html")}\n`);
