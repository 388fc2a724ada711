import { fileURLToPath } from "node:url";
import { createConnection, type WatchDog } from "vscode-languageserver";
import {
  type CodeAction,
  CodeActionKind,
  type Connection,
  createProtocolConnection,
  type Diagnostic as LspDiagnostic,
  DiagnosticSeverity,
  type DocumentSymbol,
  ErrorCodes,
  type Location,
  MarkupKind,
  type Message,
  type MessageReader,
  type Range,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  SymbolKind,
  type TextEdit,
  TextDocumentSyncKind,
  TextDocuments,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { Diagnostic, Span } from "../core/diagnostic.js";
import { format } from "../lang/format.js";
import { type Analysis, analyse, type Site, siteAt } from "./analysis.js";
import { complete } from "./completion.js";
import { hover } from "./hover.js";
import { defaultCacheDir } from "./status.js";
import { vocabulary } from "./vocabulary.js";

/**
 * `rnnp lsp`: a language server for .rnnp files over the Language Server Protocol. Diagnostics are
 * those of `rnnp validate` (the same checker), recomputed on every change; completion, hover,
 * definition, references and rename read the same analysis; formatting is `rnnp fmt`'s.
 */
export interface ServerOptions {
  /** The cache hover reads stage status from; default: $RNNP_CACHE, else `cache/` at the project root. */
  cache?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Serves the protocol on two streams (stdin and stdout for `rnnp lsp`). Resolves when the client
 * says exit, or its stream ends: true after an orderly shutdown (the protocol's exit code 0).
 */
export function serve(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: ServerOptions = {},
): Promise<boolean> {
  return new Promise((done) => {
    // vscode-languageserver/node's own connection ends the process on exit; this one just ends.
    let parent: NodeJS.Timeout | undefined;
    let connection: { dispose(): void } | undefined;
    const reader = new StreamMessageReader(input);
    // No partial-message timer: it only reports a message that is slow to arrive (nothing here
    // listens), and one armed by an input that ended inside a message re-armed itself every 10 s,
    // keeping the process alive for ever (found by review).
    reader.partialMessageTimeout = 0;
    const end = (orderly: boolean) => {
      clearInterval(parent);
      reader.dispose();
      connection?.dispose();
      // Stop reading, so that an open stdin does not keep the process alive after exit.
      (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      done(orderly);
    };
    const watchDog: WatchDog = {
      shutdownReceived: false,
      initialize: ({ processId }) => {
        // An editor that dies without saying exit leaves no orphan server behind.
        if (typeof processId === "number")
          parent = setInterval(() => {
            try {
              process.kill(processId, 0);
            } catch {
              end(false);
            }
          }, 3000).unref();
      },
      exit: (code) => end(code === 0),
    };
    const server = createConnection(
      (logger) =>
        createProtocolConnection(readToTheEnd(reader), new StreamMessageWriter(output), logger),
      watchDog,
    );
    connection = server;
    server.onNotification(END_OF_INPUT, () => end(watchDog.shutdownReceived));
    listen(server as unknown as Connection, options);
  });
}

/** The notification `readToTheEnd` adds after the last message of an input that has ended. */
const END_OF_INPUT = "$/rnnp/endOfInput";

/**
 * A reader whose input, once it ends, is followed by one more notification, END_OF_INPUT. The
 * connection handles messages one at a time from a queue, after they are read: ending the server
 * when the input ends (as vscode-languageserver's own stdio connection does) dropped what was still
 * queued, so `rnnp lsp < session` answered only its first request. Queued behind the last message,
 * the notification ends the server once everything before it has been answered. The connection is
 * not told that the input closed: a closed connection refuses to send notifications (diagnostics)
 * for the messages still queued; the server disposes of it when it ends.
 */
function readToTheEnd(reader: StreamMessageReader): MessageReader {
  return {
    onError: reader.onError,
    onClose: () => ({ dispose() {} }),
    onPartialMessage: reader.onPartialMessage,
    dispose: () => reader.dispose(),
    listen(callback) {
      const ended = reader.onClose(() =>
        callback({ jsonrpc: "2.0", method: END_OF_INPUT } as Message),
      );
      const listening = reader.listen(callback);
      return {
        dispose() {
          ended.dispose();
          listening.dispose();
        },
      };
    },
  };
}

export function listen(connection: Connection, options: ServerOptions = {}): void {
  const documents = new TextDocuments(TextDocument);
  const analyses = new Map<string, { version: number; analysis: Analysis }>();

  const analysisOf = (doc: TextDocument): Analysis => {
    const known = analyses.get(doc.uri);
    if (known?.version === doc.version) return known.analysis;
    const analysis = analyse(doc.getText(), fileOf(doc.uri));
    analyses.set(doc.uri, { version: doc.version, analysis });
    return analysis;
  };
  const docOf = (uri: string): TextDocument => {
    const doc = documents.get(uri);
    if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `${uri} is not open`);
    return doc;
  };
  const range = (doc: TextDocument, span: Span): Range => ({
    start: doc.positionAt(span.start.offset),
    end: doc.positionAt(span.end.offset),
  });
  const cacheDir = (a: Analysis) => () =>
    options.cache || options.env?.RNNP_CACHE || defaultCacheDir(a.file);

  connection.onInitialize(() => ({
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: [".", "(", ",", ":", "{"] },
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      renameProvider: { prepareProvider: true },
      documentFormattingProvider: true,
      documentSymbolProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
    },
    serverInfo: { name: "rnnp" },
  }));

  documents.onDidChangeContent(({ document }) => {
    const a = analysisOf(document);
    void connection.sendDiagnostics({
      uri: document.uri,
      version: document.version,
      diagnostics: a.diagnostics.map((d) => toLsp(document, d)),
    });
  });
  documents.onDidClose(({ document }) => {
    analyses.delete(document.uri);
    void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
  });

  connection.onCompletion(({ textDocument, position }) => {
    const doc = docOf(textDocument.uri);
    return complete(analysisOf(doc), doc.offsetAt(position));
  });

  connection.onHover(({ textDocument, position }) => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const h = hover(a, doc.offsetAt(position), cacheDir(a));
    return h
      ? { contents: { kind: MarkupKind.Markdown, value: h.markdown }, range: range(doc, h.span) }
      : null;
  });

  connection.onDefinition(({ textDocument, position }): Location | null => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const target = declarationOf(a, siteAt(a, doc.offsetAt(position)));
    return target ? { uri: doc.uri, range: range(doc, target) } : null;
  });

  connection.onReferences(({ textDocument, position, context }): Location[] => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const site = siteAt(a, doc.offsetAt(position));
    return occurrences(a, site)
      .filter((s) => context.includeDeclaration || !s.type.endsWith("-decl"))
      .map((s) => ({ uri: doc.uri, range: range(doc, s.span) }));
  });

  connection.onPrepareRename(({ textDocument, position }) => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const site = renameable(a, siteAt(a, doc.offsetAt(position)));
    return { range: range(doc, site.span), placeholder: site.name };
  });

  connection.onRenameRequest(({ textDocument, position, newName }) => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const site = renameable(a, siteAt(a, doc.offsetAt(position)));
    checkNewName(a, site.name, newName);
    const edits: TextEdit[] = occurrences(a, site).map((s) => ({
      range: range(doc, s.span),
      newText: newName,
    }));
    return { changes: { [doc.uri]: edits } };
  });

  // Quick fixes: a misspelt name the checker has a "did you mean" for is replaced by the suggestion.
  connection.onCodeAction(({ textDocument, range: wanted }): CodeAction[] => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const from = doc.offsetAt(wanted.start);
    const to = doc.offsetAt(wanted.end);
    return a.diagnostics.flatMap((d) => {
      const suggestion = /^did you mean `([A-Za-z_][A-Za-z0-9_.]*)`\?$/.exec(d.hint ?? "")?.[1];
      if (!suggestion || !d.span || d.span.end.offset < from || d.span.start.offset > to) return [];
      const written = a.text.slice(d.span.start.offset, d.span.end.offset);
      if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(written)) return [];
      return [
        {
          title: `Change \`${written}\` to \`${suggestion}\``,
          kind: CodeActionKind.QuickFix,
          diagnostics: [toLsp(doc, d)],
          isPreferred: true,
          edit: { changes: { [doc.uri]: [{ range: range(doc, d.span), newText: suggestion }] } },
        },
      ];
    });
  });

  // The outline: the params and the stages, each with its kind.
  connection.onDocumentSymbol(({ textDocument }): DocumentSymbol[] => {
    const doc = docOf(textDocument.uri);
    const a = analysisOf(doc);
    const symbols: DocumentSymbol[] = [];
    for (const item of a.ast?.items ?? []) {
      if (item.type === "params")
        for (const p of item.params)
          symbols.push({
            name: `params.${p.name.text}`,
            kind: SymbolKind.Constant,
            range: range(doc, p.span),
            selectionRange: range(doc, p.name.span),
          });
      if (item.type === "stage")
        symbols.push({
          name: item.name.text,
          detail: item.body.name.text,
          kind: SymbolKind.Function,
          range: range(doc, item.span),
          selectionRange: range(doc, item.name.span),
        });
    }
    return symbols;
  });

  connection.onDocumentFormatting(({ textDocument }): TextEdit[] => {
    const doc = docOf(textDocument.uri);
    const text = doc.getText();
    const formatted = format(text, fileOf(doc.uri)).text;
    // A file with syntax errors is left as it is: its diagnostics say why.
    if (formatted === undefined || formatted === text) return [];
    return [
      {
        range: { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) },
        newText: formatted,
      },
    ];
  });

  documents.listen(connection);
  connection.listen();
}

/** The path a document is checked as: a file's path, or the URI itself for an unsaved buffer. */
function fileOf(uri: string): string {
  return uri.startsWith("file:") ? fileURLToPath(uri) : uri;
}

/** A checker diagnostic as the protocol's: its range in UTF-16 code units, the same as the checker's columns. */
export function toLsp(doc: TextDocument, d: Diagnostic): LspDiagnostic {
  const start = d.span ? doc.positionAt(d.span.start.offset) : { line: 0, character: 0 };
  const end = d.span ? doc.positionAt(d.span.end.offset) : start;
  return {
    range: { start, end },
    severity: d.severity === "error" ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    code: d.code,
    source: "rnnp",
    message: [
      d.message,
      ...(d.expected ? [`expected: ${d.expected}`] : []),
      ...(d.hint ? [`hint: ${d.hint}`] : []),
    ].join("\n"),
  };
}

/** Where the thing named at a site is declared. */
function declarationOf(a: Analysis, site: Site | undefined): Span | undefined {
  if (!site) return undefined;
  if (site.type === "stage-decl" || site.type === "stage-ref")
    return a.stages.get(site.name)?.name.span;
  if (site.type === "output") return a.stages.get(site.stage)?.name.span;
  if (site.type === "param-decl" || site.type === "param-ref")
    return a.params.get(site.name)?.name.span;
  return undefined;
}

/** Every site naming the same stage or param as `site`, in file order. */
function occurrences(a: Analysis, site: Site | undefined): Site[] {
  if (!site) return [];
  const isStage = site.type === "stage-decl" || site.type === "stage-ref";
  const isParam = site.type === "param-decl" || site.type === "param-ref";
  if (!isStage && !isParam) return [];
  const types = isStage ? ["stage-decl", "stage-ref"] : ["param-decl", "param-ref"];
  return a.sites
    .filter((s) => types.includes(s.type) && "name" in s && s.name === site.name)
    .sort((x, y) => x.span.start.offset - y.span.start.offset);
}

function renameable(a: Analysis, site: Site | undefined): Site & { name: string } {
  if (site && (site.type === "stage-decl" || site.type === "stage-ref") && a.stages.has(site.name))
    return site;
  throw new ResponseError(ErrorCodes.InvalidRequest, "only a stage's name can be renamed here");
}

function checkNewName(a: Analysis, old: string, name: string): void {
  const reserved = [...vocabulary().keywords, ...vocabulary().constants];
  const problem = !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? `\`${name}\` is not a name: letters, digits and _, not starting with a digit`
    : reserved.includes(name)
      ? `\`${name}\` is a keyword`
      : name !== old && a.stages.has(name)
        ? `a stage is already called \`${name}\``
        : undefined;
  if (problem) throw new ResponseError(ErrorCodes.InvalidParams, problem);
}
