import type { ISerializedGast } from "chevrotain";
import { MAX_NESTING } from "./api.js";
import { allTokens } from "./tokens.js";
import { parser } from "./parser.js";

/**
 * The grammar in W3C EBNF notation, generated from the parser itself (so it cannot drift): one
 * production per parser rule, then the lexical tokens with their patterns.
 */
type Node = ISerializedGast & { name?: string; label?: string; definition?: Node[] };

function seq(nodes: Node[]): string {
  return nodes.map(expr).join(" ");
}

function group(nodes: Node[], suffix: string): string {
  const inner = seq(nodes);
  return nodes.length === 1 && !/\s/.test(inner) ? `${inner}${suffix}` : `( ${inner} )${suffix}`;
}

function expr(n: Node): string {
  switch (n.type) {
    case "Terminal":
      return n.label?.startsWith("'") ? n.label : n.name!;
    case "NonTerminal":
      return n.name!;
    case "Option":
      return group(n.definition!, "?");
    case "Repetition":
      return group(n.definition!, "*");
    case "RepetitionMandatory":
      return group(n.definition!, "+");
    case "Alternation":
      return `( ${n.definition!.map((alt) => seq(alt.definition!)).join(" | ")} )`;
    case "Alternative":
      return seq(n.definition!);
    default:
      throw new Error(`unsupported grammar node ${n.type}`);
  }
}

export function grammarEbnf(): string {
  const rules = parser.getSerializedGastProductions() as Node[];
  const width = Math.max(
    ...rules.map((r) => r.name!.length),
    ...allTokens.map((t) => t.name.length),
  );
  const lines = [
    "/* The .rnnp grammar, generated from grammar/parser.ts by `npm run grammar`; a spec keeps it in sync.",
    "   Notation: W3C EBNF. 'x' is a literal token, X? optional, X* zero or more, ( A | B ) a choice.",
    "   Commas between arguments, list items and object entries are required: the parser accepts a",
    "   missing one only to report it precisely. White space separates tokens and is otherwise ignored.",
    "   A '-' just before a number is part of the number. Strings take JSON's escapes (\\\" \\\\ \\/ \\b \\f",
    "   \\n \\r \\t \\uXXXX), checked when the string is read; control characters must be escaped.",
    `   Brackets, braces and parentheses nest at most ${MAX_NESTING} levels deep. */`,
    "",
    ...rules.map((r) => `${r.name!.padEnd(width)} ::= ${seq(r.definition!)}`),
    "",
    "/* Tokens */",
    ...allTokens
      .filter((t) => !(t.LABEL ?? "").startsWith("'"))
      .map(
        (t) =>
          `${t.name.padEnd(width)} ::= /${(t.PATTERN as RegExp).source}/${t.GROUP === "comments" ? "  /* kept for fmt, ignored by the parser */" : ""}`,
      ),
    "",
  ];
  return lines.join("\n");
}
