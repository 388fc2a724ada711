import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Chevrotain, loaded from its single-file bundle. The package's entry point is a tree of ~300 ES
 * modules that takes ~200 ms to load on Node 20; the bundle it ships beside them loads in ~12 ms,
 * and rnnp's start-up budget (a fully cached run) is a few hundred milliseconds in total.
 */
const entry = createRequire(import.meta.url).resolve("chevrotain");
const chevrotain = (await import(
  pathToFileURL(join(dirname(entry), "..", "chevrotain.mjs")).href
)) as typeof import("chevrotain");

export const {
  createToken,
  Lexer,
  EmbeddedActionsParser,
  EOF,
  tokenLabel,
  createSyntaxDiagramsCode,
} = chevrotain;
