import { PassThrough } from "node:stream";
import {
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node";
import { serve, type ServerOptions } from "../../src/lsp/server.js";

/** What the server published for a document. */
export interface Published {
  uri: string;
  version?: number;
  diagnostics: {
    range: { start: { line: number; character: number }; end: { line: number; character: number } };
    severity: number;
    code: string;
    source: string;
    message: string;
  }[];
}

/**
 * An editor talking to `rnnp lsp` in this process: JSON-RPC over a pair of streams, the same bytes
 * a real client sends on stdin and reads on stdout.
 */
export class Client {
  readonly rpc: MessageConnection;
  readonly done: Promise<boolean>;
  private readonly published: Published[] = [];
  private readonly waiting: { uri: string; version: number; resolve: (p: Published) => void }[] =
    [];
  private versions = new Map<string, number>();

  constructor(options: ServerOptions = {}) {
    const toServer = new PassThrough();
    const fromServer = new PassThrough();
    this.done = serve(toServer, fromServer, options);
    this.rpc = createMessageConnection(
      new StreamMessageReader(fromServer),
      new StreamMessageWriter(toServer),
    );
    this.rpc.onNotification("textDocument/publishDiagnostics", (p: Published) => {
      this.published.push(p);
      for (const w of this.waiting.filter((x) => x.uri === p.uri && x.version === p.version))
        w.resolve(p);
    });
    this.rpc.listen();
  }

  async initialize(): Promise<{ capabilities: Record<string, unknown> }> {
    const r = await this.rpc.sendRequest("initialize", {
      processId: null,
      rootUri: null,
      capabilities: {},
    });
    await this.rpc.sendNotification("initialized", {});
    return r as { capabilities: Record<string, unknown> };
  }

  /** Opens a document and waits for its diagnostics. */
  open(uri: string, text: string): Promise<Published> {
    this.versions.set(uri, 1);
    const published = this.diagnosticsOf(uri, 1);
    void this.rpc.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "rnnp", version: 1, text },
    });
    return published;
  }

  /** Edits a document (incrementally: a range and its new text) and waits for its diagnostics. */
  change(
    uri: string,
    range: { start: { line: number; character: number }; end: { line: number; character: number } },
    text: string,
  ): Promise<Published> {
    const version = (this.versions.get(uri) ?? 0) + 1;
    this.versions.set(uri, version);
    const published = this.diagnosticsOf(uri, version);
    void this.rpc.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [{ range, text }],
    });
    return published;
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.rpc.sendRequest(method, params) as Promise<R>;
  }

  async close(): Promise<void> {
    await this.rpc.sendRequest("shutdown");
    await this.rpc.sendNotification("exit");
    await this.done;
    this.rpc.dispose();
  }

  private diagnosticsOf(uri: string, version: number): Promise<Published> {
    const known = this.published.find((p) => p.uri === uri && p.version === version);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.waiting.push({ uri, version, resolve }));
  }
}

/** A position in a text, by the place of a marker string (and an offset into it). */
export function at(text: string, marker: string, into = 0): { line: number; character: number } {
  const i = text.indexOf(marker);
  if (i < 0) throw new Error(`no ${marker} in the text`);
  const before = text.slice(0, i + into);
  const line = before.split("\n").length - 1;
  return { line, character: before.length - before.lastIndexOf("\n") - 1 };
}
