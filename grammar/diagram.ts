import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createSyntaxDiagramsCode } from "./chevrotain.js";
import { parser } from "./parser.js";

/**
 * The railroad diagram page, made by Chevrotain from the parser, with the scripts and stylesheet it
 * would load from a CDN inlined from the installed chevrotain package: it opens offline.
 */
export function grammarDiagramHtml(): string {
  const diagrams = join(
    dirname(createRequire(import.meta.url).resolve("chevrotain")),
    "..",
    "..",
    "diagrams",
  );
  const html = createSyntaxDiagramsCode(parser.getSerializedGastProductions(), {
    resourceBase: "@res/",
    css: "@res/diagrams.css",
  });
  return html
    .replace(
      "<link rel='stylesheet' href='@res/diagrams.css'>",
      () => `<style>\n${readFileSync(join(diagrams, "diagrams.css"), "utf8")}\n</style>`,
    )
    .replace(
      /<script src='@res\/([^']+)'><\/script>/g,
      (_, file: string) => `<script>\n${readFileSync(join(diagrams, file), "utf8")}\n</script>`,
    )
    .replace(
      "<!-- This is a generated file -->",
      "<!-- Generated from grammar/parser.ts by `npm run grammar`; a spec keeps it in sync. -->\n<title>rnnp grammar</title>",
    );
}
