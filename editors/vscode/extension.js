// The rnnp extension: the TextMate grammar and language configuration are declared in package.json;
// this starts the language server, `rnnp lsp --stdio`, for .rnnp files.
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

/** The rnnp command: the setting, else the workspace's own install, else the one on the PATH. */
function rnnpCommand() {
  const configured = vscode.workspace.getConfiguration("rnnp").get("path");
  if (configured) return configured;
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const local = join(folder.uri.fsPath, "node_modules", ".bin", "rnnp");
    if (existsSync(local)) return local;
  }
  return "rnnp";
}

function activate(context) {
  const cache = vscode.workspace.getConfiguration("rnnp").get("cache");
  const server = {
    command: rnnpCommand(),
    args: ["lsp", ...(cache ? ["--cache", cache] : [])],
    transport: TransportKind.stdio,
  };
  client = new LanguageClient(
    "rnnp",
    "rnnp language server",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "rnnp" },
        { scheme: "untitled", language: "rnnp" },
      ],
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client?.stop();
}

module.exports = { activate, deactivate };
