import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import { lex } from "../../grammar/lexer.js";
import * as T from "../../grammar/tokens.js";
import { editorFiles } from "../../src/lsp/generate.js";
import { SCOPE } from "../../src/lsp/textmate.js";
import { ROOT, tempDir } from "../helpers.js";

const DIR = join(ROOT, "editors", "vscode");
const json = (file: string) => JSON.parse(readFileSync(join(DIR, file), "utf8"));

describe("the VS Code extension folder", () => {
  it("declares the language, the generated grammar and the language configuration", () => {
    const pkg = json("package.json");
    assert.deepEqual(pkg.contributes.languages, [
      {
        id: "rnnp",
        aliases: ["rnnp"],
        extensions: [".rnnp"],
        configuration: "./language-configuration.json",
      },
    ]);
    assert.deepEqual(pkg.contributes.grammars, [
      { language: "rnnp", scopeName: SCOPE, path: "./syntaxes/rnnp.tmLanguage.json" },
    ]);
    for (const file of [pkg.main, pkg.contributes.grammars[0].path, "language-configuration.json"])
      assert.ok(existsSync(join(DIR, file)), file);
    assert.equal(json("syntaxes/rnnp.tmLanguage.json").scopeName, SCOPE);
  });

  it("ships the generated grammar and rnnp.config.json's schema (run `npm run grammar`)", () => {
    for (const [path, text] of editorFiles())
      assert.equal(readFileSync(join(ROOT, path), "utf8"), text);
    assert.deepEqual(json("package.json").contributes.jsonValidation, [
      { fileMatch: "rnnp.config.json", url: "./schemas/rnnp.config.schema.json" },
    ]);
    assert.equal(json("schemas/rnnp.config.schema.json").title, "rnnp.config.json");
  });

  it("comments, brackets and words as the lexer reads them", () => {
    const config = json("language-configuration.json");
    const comment = lex(`${config.comments.lineComment} a comment`);
    assert.equal(comment.comments.length, 1);
    assert.deepEqual(comment.tokens, []);
    assert.deepEqual(config.brackets, [
      [T.LCurly.PATTERN, T.RCurly.PATTERN],
      [T.LSquare.PATTERN, T.RSquare.PATTERN],
      [T.LParen.PATTERN, T.RParen.PATTERN],
    ]);
    assert.equal(config.wordPattern, (T.Identifier.PATTERN as RegExp).source);
    const indent = new RegExp(config.indentationRules.increaseIndentPattern);
    assert.ok(indent.test("  stage net = model(seqs.train) { # layers"));
    assert.ok(indent.test("  stage fit = train("));
    assert.ok(!indent.test('  stage a = load.csv(path: "x")'));
  });

  it("starts `rnnp lsp` over stdio: the workspace's rnnp, else the setting's, with the cache setting", async () => {
    const workspace = tempDir("rnnp-ext-");
    mkdirSync(join(workspace, "node_modules", ".bin"), { recursive: true });
    writeFileSync(join(workspace, "node_modules", ".bin", "rnnp"), "");
    const started: { server: unknown; documents: unknown }[] = [];
    const settings = new Map<string, string>([["cache", "/tmp/shared-cache"]]);
    const fakes: Record<string, unknown> = {
      vscode: {
        workspace: {
          getConfiguration: () => ({ get: (k: string) => settings.get(k) ?? "" }),
          workspaceFolders: [{ uri: { fsPath: workspace } }],
        },
      },
      "vscode-languageclient/node": {
        TransportKind: { stdio: 0 },
        LanguageClient: class {
          constructor(
            _id: string,
            _name: string,
            server: unknown,
            client: { documentSelector: unknown },
          ) {
            started.push({ server, documents: client.documentSelector });
          }
          start() {
            return Promise.resolve();
          }
        },
      },
    };
    const loader = Module as unknown as { _load: (r: string, ...rest: unknown[]) => unknown };
    const original = loader._load;
    loader._load = (request, ...rest) =>
      Object.hasOwn(fakes, request) ? fakes[request] : original(request, ...rest);
    try {
      const extension = createRequire(import.meta.url)(join(DIR, "extension.js"));
      const context = { subscriptions: [] as unknown[] };
      await extension.activate(context);
      settings.set("path", "/opt/rnnp/bin/rnnp");
      await extension.activate(context);
      assert.equal(context.subscriptions.length, 2);
    } finally {
      loader._load = original;
    }
    const server = (command: string) => ({
      command,
      args: ["lsp", "--cache", "/tmp/shared-cache"],
      transport: 0,
    });
    assert.deepEqual(started, [
      {
        server: {
          run: server(join(workspace, "node_modules", ".bin", "rnnp")),
          debug: server(join(workspace, "node_modules", ".bin", "rnnp")),
        },
        documents: [
          { scheme: "file", language: "rnnp" },
          { scheme: "untitled", language: "rnnp" },
        ],
      },
      {
        server: { run: server("/opt/rnnp/bin/rnnp"), debug: server("/opt/rnnp/bin/rnnp") },
        documents: [
          { scheme: "file", language: "rnnp" },
          { scheme: "untitled", language: "rnnp" },
        ],
      },
    ]);
  });
});
