import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import oniguruma from "vscode-oniguruma";
import textmate from "vscode-textmate";
import { SCOPE } from "../../src/lsp/textmate.js";

/** A line's tokens as `text: scopes` (the root scope left out), the way the specs assert them. */
export type Line = string[];

let loaded: Promise<textmate.IGrammar> | undefined;

/** The generated grammar file as VS Code loads it: vscode-textmate on the Oniguruma wasm. */
export function grammar(file: string): Promise<textmate.IGrammar> {
  loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new textmate.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
        createOnigString: (s) => new oniguruma.OnigString(s),
      }),
      loadGrammar: async (scope) =>
        scope === SCOPE ? textmate.parseRawGrammar(readFileSync(file, "utf8"), file) : null,
    });
    const g = await registry.loadGrammar(SCOPE);
    if (!g) throw new Error(`no grammar for ${SCOPE}`);
    return g;
  })();
  return loaded;
}

export interface Token {
  /** Columns in the line, 0-based, end exclusive. */
  start: number;
  end: number;
  text: string;
  /** The scopes, the root scope left out. */
  scopes: string[];
}

/** Every line's tokens, as vscode-textmate gives them. */
export function tokenizeLines(g: textmate.IGrammar, text: string): Token[][] {
  let stack = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const r = g.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return r.tokens.map((t) => ({
      start: t.startIndex,
      end: t.endIndex,
      text: line.slice(t.startIndex, t.endIndex),
      scopes: t.scopes.slice(1),
    }));
  });
}

/** Every line's tokens as `text: scopes`, white space between tokens left out. */
export function tokenize(g: textmate.IGrammar, text: string): Line[] {
  return tokenizeLines(g, text).map((line) =>
    line
      .filter((t) => t.text.trim() !== "" || t.scopes.length > 0)
      .map((t) => `${t.text}: ${t.scopes.join(" ")}`),
  );
}
