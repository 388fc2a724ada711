import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { format } from "../../src/lang/format.js";
import { kinds } from "../../src/kinds/registry.js";
import { LAYERS } from "../../src/numerics/layers/index.js";
import { describeType } from "../../src/stages/schema.js";
import { BIN, ROOT } from "../helpers.js";
import { cleanEnv, Rig } from "../rig.js";
import { at, Client } from "./client.js";
import { NODE_FLAGS } from "../../src/core/node-flags.js";

interface Item {
  label: string;
  kind?: number;
  detail?: string;
  documentation?: { kind: string; value: string };
  insertText?: string;
}
type Range = {
  start: { line: number; character: number };
  end: { line: number; character: number };
};

const PIPELINE = `pipeline demo {
  seed 1
  params {
    units = 8
    rate = 0.25
  }
  stage raw = load.csv(path: "data.csv", text: "text", label: "label")
  stage parts = split(raw, train: 0.5, val: 0.25, test: 0.25)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage net = model(seqs.train) {
    embedding(dim: 4)
    lstm(units: params.units)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, validation: seqs.val, epochs: 1, optimizer: adam(lr: 0.01))
}
`;
const DATA = `text,label\n${Array.from({ length: 40 }, (_, i) => `${i % 2 ? "ab" : "ba"}${"xyz"[i % 3]}${i},${i % 2 ? "odd" : "even"}`).join("\n")}\n`;

const rig = new Rig("rnnp-lsp-");
rig.write({ "p/demo.rnnp": PIPELINE, "p/data.csv": DATA, "p/rnnp.config.json": "{}" });
const URI = pathToFileURL(rig.path("p", "demo.rnnp")).href;
const client = new Client({ env: {} });

before(async () => {
  await client.initialize();
  await client.open(URI, PIPELINE);
});
after(() => client.close());

const complete = (uri: string, position: { line: number; character: number }) =>
  client.request<Item[]>("textDocument/completion", { textDocument: { uri }, position });
const labels = (items: Item[]) => items.map((i) => i.label);

describe("rnnp lsp: the protocol", () => {
  it("initializes with every capability it serves", async () => {
    const other = new Client();
    const r = await other.initialize();
    await other.close();
    assert.deepEqual(r.capabilities, {
      textDocumentSync: 2,
      completionProvider: { triggerCharacters: [".", "(", ",", ":", "{"] },
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      renameProvider: { prepareProvider: true },
      documentFormattingProvider: true,
      documentSymbolProvider: true,
      codeActionProvider: { codeActionKinds: ["quickfix"] },
    });
  });
});

describe("rnnp lsp: diagnostics", () => {
  it("publishes the checker's diagnostics with UTF-16 ranges, and clears them when fixed", async () => {
    const uri = "file:///tmp/rnnp-lsp/broken.rnnp";
    // Two astral characters (two UTF-16 units each) before the error on its line.
    const text =
      'pipeline p {\n  stage raw = load.csv(path: "😀😀.csv", label: "y", dedupe: 3)\n  stage n = clen(raw)\n}\n';
    const published = await client.open(uri, text);
    assert.deepEqual(published.diagnostics, [
      {
        range: { start: at(text, "dedupe"), end: at(text, "dedupe", 6) },
        severity: 1,
        code: "unknown-param",
        source: "rnnp",
        message: published.diagnostics[0]!.message,
      },
      {
        range: { start: { line: 2, character: 12 }, end: { line: 2, character: 16 } },
        severity: 1,
        code: "unknown-kind",
        source: "rnnp",
        message: published.diagnostics[1]!.message,
      },
    ]);
    // UTF-16 code units, as the protocol counts: 53, where code points would say 51.
    assert.deepEqual(at(text, "dedupe"), { line: 1, character: 53 });
    assert.equal([...text.split("\n")[1]!.slice(0, 53)].length, 51);
    assert.match(
      published.diagnostics[0]!.message,
      /^load\.csv has no parameter or input `dedupe`\nexpected: a parameter \(path, /,
    );
    assert.match(published.diagnostics[1]!.message, /\nhint: did you mean `clean`\?$/);

    // Incremental edits: the kind fixed, then the parameter removed.
    const kindFixed = await client.change(
      uri,
      { start: { line: 2, character: 12 }, end: { line: 2, character: 16 } },
      "clean",
    );
    assert.deepEqual(
      kindFixed.diagnostics.map((d) => d.code),
      ["unknown-param"],
    );
    const clean = await client.change(
      uri,
      { start: at(text, ", dedupe"), end: at(text, ", dedupe: 3", 11) },
      "",
    );
    assert.deepEqual(clean.diagnostics, []);
  });

  it("gives what `rnnp validate` gives, at the same places", async () => {
    const text =
      'pipeline v {\n  params { n = 3, unused = 1 }\n  stage a = load.csv(path: "x.csv")\n  stage b = clean(a, lowercase: "yes", trim: params.m)\n  stage c = split(b, train: 0.5, val: 0.6)\n  stage a = head(zz, n: params.n)\n}\n';
    rig.write({ "v.rnnp": text });
    const cli = await rig.rnnp(["validate", "v.rnnp"]);
    assert.equal(cli.code, 2);
    const places = [
      ...cli.stderr.matchAll(/^(error|warning)\[([a-z-]+)\][^\n]*\n\s*--> v\.rnnp:(\d+):(\d+)/gm),
    ].map((m) => `${m[1]} ${m[2]} ${Number(m[3]) - 1}:${Number(m[4]) - 1}`);
    assert.ok(places.length >= 5, cli.stderr);
    const published = await client.open(pathToFileURL(rig.path("v.rnnp")).href, text);
    assert.deepEqual(
      published.diagnostics.map(
        (d) =>
          `${d.severity === 1 ? "error" : "warning"} ${d.code} ${d.range.start.line}:${d.range.start.character}`,
      ),
      places,
    );
  });
});

describe("rnnp lsp: completion", () => {
  it("offers every stage kind after `stage x =`, with its doc", async () => {
    const text = `${PIPELINE.slice(0, -2)}\n  stage more = \n}\n`;
    const uri = "file:///tmp/rnnp-lsp/kinds.rnnp";
    await client.open(uri, text);
    const items = await complete(uri, at(text, "stage more = ", 13));
    assert.deepEqual(labels(items), [...kinds.keys()]);
    const train = items.find((i) => i.label === "train")!;
    assert.equal(train.detail, "stage kind: model, data, validation, init ->");
    assert.ok(
      train.documentation!.value.startsWith(`**train** (kind)\n\n${kinds.get("train")!.doc}`),
    );
    assert.match(
      train.documentation!.value,
      /\n- epochs: an integer >= 1 \(required\)\n- batchSize: an integer >= 1 \(default 32\)\n/,
    );
  });

  it("offers a layer's parameters with their types, defaults and docs", async () => {
    const items = await complete(URI, at(PIPELINE, "units: params.units"));
    const units = items.find((i) => i.label === "units")!;
    const declared = LAYERS.get("lstm")!.params.units!;
    assert.deepEqual(units, {
      label: "units",
      kind: 10,
      detail: `${describeType(declared.type)} (required)`,
      documentation: {
        kind: "markdown",
        value: `**units**: ${describeType(declared.type)} (required)\n\n${declared.doc}\n\n_parameter of layer \`lstm\`_`,
      },
      insertText: "units: ",
      sortText: "0units",
    });
    assert.deepEqual(
      labels(items).slice(0, Object.keys(LAYERS.get("lstm")!.params).length),
      Object.keys(LAYERS.get("lstm")!.params),
    );
  });

  it("leaves out the arguments already given, and offers a kind's named inputs", async () => {
    const items = await complete(URI, at(PIPELINE, ", epochs: 1", 2));
    const names = labels(items);
    // `net` and `seqs.train` fill the inputs model and data; validation is named; epochs is next;
    // init, the optional input of fine-tuning, is still open.
    assert.deepEqual(names.slice(0, 3), ["epochs", "batchSize", "loss"]);
    assert.ok(names.includes("optimizer"));
    assert.deepEqual(
      items.filter((i) => i.detail?.startsWith("input")).map((i) => i.label),
      ["init"],
    );
    const open = await complete(URI, at(PIPELINE, "net, seqs.train", 5));
    assert.deepEqual(
      open.filter((i) => i.detail?.startsWith("input")).map((i) => [i.label, i.detail]),
      [
        ["data", "input: sequences"],
        ["validation", "input: sequences (optional)"],
        ["init", "input: trained (optional)"],
      ],
    );
  });

  it("offers the kinds of a family after `load.`", async () => {
    const text = "pipeline k {\n  stage r = load.\n}\n";
    const uri = "file:///tmp/rnnp-lsp/k.rnnp";
    await client.open(uri, text);
    assert.deepEqual(
      labels(await complete(uri, at(text, "load.", 5))),
      [...kinds.keys()].filter((k) => k.startsWith("load.")).map((k) => k.slice(5)),
    );
  });

  it("offers the layers of the registry in a model block", async () => {
    const items = await complete(URI, at(PIPELINE, "    lstm(units"));
    assert.deepEqual(
      labels(items),
      LAYERS.all.map((l) => l.name),
    );
    assert.equal(items[0]!.detail, "layer");
  });

  it("offers params after `params.`, outputs after `parts.`, and references as values", async () => {
    assert.deepEqual(
      (await complete(URI, at(PIPELINE, "params.units", 7))).map((i) => [i.label, i.detail]),
      [
        ["units", "param = 8"],
        ["rate", "param = 0.25"],
      ],
    );
    assert.deepEqual(labels(await complete(URI, at(PIPELINE, "parts.train", 6))), [
      "train",
      "val",
      "test",
    ]);
    assert.deepEqual(labels(await complete(URI, at(PIPELINE, "seqs.val", 5))), [
      "train",
      "val",
      "test",
    ]);
    // A named input takes stages (and their outputs); a parameter takes params.
    const input = labels(await complete(URI, at(PIPELINE, "seqs.val,")));
    assert.deepEqual(input.slice(0, 6), [
      "raw",
      "parts",
      "parts.train",
      "parts.val",
      "parts.test",
      "vocab",
    ]);
    assert.ok(!input.some((l) => l.startsWith("params.")));
    assert.deepEqual(labels(await complete(URI, at(PIPELINE, "1, optimizer", -1))), [
      "params.units",
      "params.rate",
    ]);
  });

  it("offers a parameter's choices: strings of a set, calls, booleans", async () => {
    const level = kinds.get("vocabulary")!.params.level!.type as unknown as { oneOf: string[] };
    assert.deepEqual(labels(await complete(URI, at(PIPELINE, '"char"'))), [
      ...level.oneOf.map((v) => JSON.stringify(v)),
      "params.units",
      "params.rate",
    ]);
    const optimizers = await complete(URI, at(PIPELINE, "adam(lr"));
    assert.deepEqual(labels(optimizers).slice(0, 4), ["sgd", "adam", "rmsprop", "adagrad"]);
    assert.match(
      optimizers[1]!.documentation!.value,
      /^\*\*adam\*\* \(call\)\n\nparameters:\n- lr: /,
    );
    const activation = LAYERS.get("dense")!.params.activation!.type as unknown as {
      oneOf: string[];
    };
    assert.deepEqual(labels(await complete(URI, at(PIPELINE, "activation:", 12))), [
      ...activation.oneOf.map((v) => JSON.stringify(v)),
      "params.units",
      "params.rate",
    ]);
  });

  it("offers nothing inside comments and strings, and the keywords between items", async () => {
    const text = 'pipeline c {\n  # a comm\n  stage a = load.csv(path: "da\n  \n}\n';
    const uri = "file:///tmp/rnnp-lsp/c.rnnp";
    await client.open(uri, text);
    assert.deepEqual(await complete(uri, at(text, "a comm", 6)), []);
    assert.deepEqual(await complete(uri, at(text, '"da', 3)), []);
    assert.deepEqual(labels(await complete(uri, { line: 3, character: 2 })), []);
    const top = "pipeline t {\n  \n}\n";
    await client.open("file:///tmp/rnnp-lsp/t.rnnp", top);
    assert.deepEqual(
      labels(await complete("file:///tmp/rnnp-lsp/t.rnnp", { line: 1, character: 2 })),
      ["stage", "params", "seed", "backend", "kernels", "sweep"],
    );
  });
});

describe("rnnp lsp: hover", () => {
  it("shows a parameter's doc, type and default", async () => {
    const h = await client.request<{ contents: { value: string }; range: Range }>(
      "textDocument/hover",
      { textDocument: { uri: URI }, position: at(PIPELINE, "maxLen", 2) },
    );
    const maxLen = kinds.get("encode")!.params.maxLen!;
    assert.equal(
      h.contents.value,
      `**maxLen**: ${describeType(maxLen.type)} (optional)\n\n${maxLen.doc}\n\n_parameter of kind \`encode\`_`,
    );
    assert.deepEqual(h.range, {
      start: at(PIPELINE, "maxLen"),
      end: at(PIPELINE, "maxLen", 6),
    });
  });

  it("shows a param's value", async () => {
    const h = await client.request<{ contents: { value: string } }>("textDocument/hover", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "params.units", 8),
    });
    assert.equal(
      h.contents.value,
      "**params.units** = `8`\n\nvalue: `8`\n\ndeclared at line 4; override with `-P units=...`",
    );
  });

  it("shows a stage's key and whether it is cached, reading the cache but never creating one", async () => {
    const hoverRaw = () =>
      client.request<{ contents: { value: string } }>("textDocument/hover", {
        textDocument: { uri: URI },
        position: at(PIPELINE, "stage raw", 7),
      });
    const cache = rig.path("p", "cache");
    assert.equal(
      (await hoverRaw()).contents.value,
      `**stage raw** = \`load.csv\`\n\noutputs: out\n\nkey: not computed: no cache at ${cache}`,
    );
    assert.equal(existsSync(cache), false);

    const run = await rig.rnnp(["run", "demo.rnnp", "-s", "parts", "--cache", cache, "--json"], {
      cwd: rig.path("p"),
    });
    assert.equal(run.code, 0, run.stderr);
    const keys = new Map(
      (JSON.parse(run.stdout) as { stages: { name: string; key: string }[] }).stages.map((s) => [
        s.name,
        s.key,
      ]),
    );
    const before = readdirSync(cache).map((f) => [f, readFileSync(join(cache, f)).length]);
    assert.match(
      (await hoverRaw()).contents.value,
      new RegExp(
        `^\\*\\*stage raw\\*\\* = \`load.csv\`\\n\\noutputs: out\\n\\nkey \`${keys.get("raw")!.slice(0, 12)}\`: \\*\\*cached\\*\\* \\(built \\d{4}-\\d\\d-\\d\\dT[^,]+, \\d+ ms\\)$`,
      ),
    );
    const vocab = await client.request<{ contents: { value: string } }>("textDocument/hover", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "stage vocab", 7),
    });
    assert.match(
      vocab.contents.value,
      /\n\nkey `[0-9a-f]{12}`: \*\*not cached\*\* \(`rnnp run` builds it\)$/,
    );
    const fit = await client.request<{ contents: { value: string } }>("textDocument/hover", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "stage fit", 7),
    });
    assert.match(fit.contents.value, /\n\nkey: known once `net`, `seqs` ran \(not cached\)$/);
    assert.deepEqual(
      readdirSync(cache).map((f) => [f, readFileSync(join(cache, f)).length]),
      before,
    );
  });

  it("shows a stage's outputs on `parts.train`", async () => {
    const h = await client.request<{ contents: { value: string } }>("textDocument/hover", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "parts.train", 8),
    });
    assert.equal(
      h.contents.value,
      "**parts.train**: output of stage `parts`\n\noutputs: train, val, test",
    );
  });

  it("shows a kind's or layer's doc on its name", async () => {
    const h = await client.request<{ contents: { value: string } }>("textDocument/hover", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "embedding(", 3),
    });
    assert.ok(
      h.contents.value.startsWith(
        `**embedding** (layer)\n\n${LAYERS.get("embedding")!.doc}\n\nparameters:\n- `,
      ),
    );
  });
});

describe("rnnp lsp: definition, references, rename", () => {
  it("goes from a reference to the stage or param it names", async () => {
    const def = (position: { line: number; character: number }) =>
      client.request<{ uri: string; range: Range } | null>("textDocument/definition", {
        textDocument: { uri: URI },
        position,
      });
    assert.deepEqual(await def(at(PIPELINE, "parts.train", 2)), {
      uri: URI,
      range: { start: at(PIPELINE, "parts ="), end: at(PIPELINE, "parts =", 5) },
    });
    assert.deepEqual(await def(at(PIPELINE, "seqs.val", 6)), {
      uri: URI,
      range: { start: at(PIPELINE, "seqs ="), end: at(PIPELINE, "seqs =", 4) },
    });
    assert.deepEqual(await def(at(PIPELINE, "params.units", 9)), {
      uri: URI,
      range: { start: at(PIPELINE, "units = 8"), end: at(PIPELINE, "units = 8", 5) },
    });
    assert.equal(await def(at(PIPELINE, "0.01")), null);
  });

  it("lists a stage's references", async () => {
    const refs = await client.request<{ range: Range }[]>("textDocument/references", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "stage seqs", 7),
      context: { includeDeclaration: false },
    });
    assert.deepEqual(
      refs.map((r) =>
        PIPELINE.split("\n")[r.range.start.line]!.slice(
          r.range.start.character,
          r.range.start.character + 9,
        ),
      ),
      ["seqs.trai", "seqs.trai", "seqs.val,"],
    );
  });

  it("renames a stage at its declaration and every reference", async () => {
    const prepared = await client.request<{ range: Range; placeholder: string }>(
      "textDocument/prepareRename",
      { textDocument: { uri: URI }, position: at(PIPELINE, "(parts,", 2) },
    );
    assert.deepEqual(prepared, {
      range: { start: at(PIPELINE, "(parts,", 1), end: at(PIPELINE, "(parts,", 6) },
      placeholder: "parts",
    });
    const r = await client.request<{
      changes: Record<string, { range: Range; newText: string }[]>;
    }>("textDocument/rename", {
      textDocument: { uri: URI },
      position: at(PIPELINE, "(parts,", 2),
      newName: "pieces",
    });
    const renamed = applyEdits(PIPELINE, r.changes[URI]!);
    assert.equal(renamed, PIPELINE.replaceAll("parts", "pieces"));
    assert.equal(r.changes[URI]!.length, 3);
  });

  it("refuses a name that is taken, a keyword or not a name, and non-stages", async () => {
    const rename = (newName: string, position = at(PIPELINE, "stage raw", 7)) =>
      client.request("textDocument/rename", { textDocument: { uri: URI }, position, newName });
    await assert.rejects(rename("vocab"), /a stage is already called `vocab`/);
    await assert.rejects(rename("params"), /`params` is a keyword/);
    await assert.rejects(rename("2x"), /`2x` is not a name/);
    await assert.rejects(rename("x", at(PIPELINE, "maxLen")), /only a stage's name can be renamed/);
  });
});

describe("rnnp lsp: quick fixes", () => {
  it("replaces a misspelt kind, parameter or reference by the checker's suggestion", async () => {
    const text =
      'pipeline q {\n  stage raw = load.csv(path: "a.csv", lable: "y")\n  stage c = clen(raw)\n  stage d = head(rwa, n: 2)\n}\n';
    const uri = "file:///tmp/rnnp-lsp/q.rnnp";
    const published = await client.open(uri, text);
    const actions = await client.request<
      {
        title: string;
        kind: string;
        edit: { changes: Record<string, { range: Range; newText: string }[]> };
      }[]
    >("textDocument/codeAction", {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } },
      context: { diagnostics: published.diagnostics },
    });
    assert.deepEqual(
      actions.map((x) => [x.title, x.kind]),
      [
        ["Change `lable` to `label`", "quickfix"],
        ["Change `clen` to `clean`", "quickfix"],
        ["Change `rwa` to `raw`", "quickfix"],
      ],
    );
    const fixed = applyEdits(
      text,
      actions.flatMap((x) => x.edit.changes[uri]!),
    );
    assert.equal(
      fixed,
      text.replace("lable", "label").replace("clen", "clean").replace("rwa", "raw"),
    );
    assert.deepEqual((await client.open("file:///tmp/rnnp-lsp/q2.rnnp", fixed)).diagnostics, []);
  });
});

describe("rnnp lsp: outline", () => {
  it("lists the params and the stages with their kinds", async () => {
    const symbols = await client.request<
      { name: string; detail?: string; kind: number; selectionRange: Range }[]
    >("textDocument/documentSymbol", { textDocument: { uri: URI } });
    assert.deepEqual(
      symbols.map((s) => [s.name, s.detail ?? "", s.kind, s.selectionRange.start.line]),
      [
        ["params.units", "", 14, 3],
        ["params.rate", "", 14, 4],
        ["raw", "load.csv", 12, 6],
        ["parts", "split", 12, 7],
        ["vocab", "vocabulary", 12, 8],
        ["seqs", "encode", 12, 9],
        ["net", "model", 12, 10],
        ["fit", "train", 12, 15],
      ],
    );
  });
});

describe("rnnp lsp: formatting", () => {
  it("formats the document as `rnnp fmt` does, and leaves a broken one alone", async () => {
    const messy = 'pipeline f {\nseed 3 # keep\n    stage raw=load.csv(path:"a.csv",label:"y")\n}';
    const uri = "file:///tmp/rnnp-lsp/f.rnnp";
    await client.open(uri, messy);
    const edits = await client.request<{ range: Range; newText: string }[]>(
      "textDocument/formatting",
      { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } },
    );
    assert.equal(applyEdits(messy, edits), format(messy, "f.rnnp").text);
    assert.equal(
      applyEdits(messy, edits),
      'pipeline f {\n  seed 3 # keep\n  stage raw = load.csv(path: "a.csv", label: "y")\n}\n',
    );
    await client.open("file:///tmp/rnnp-lsp/g.rnnp", "pipeline g { stage = }");
    assert.deepEqual(
      await client.request("textDocument/formatting", {
        textDocument: { uri: "file:///tmp/rnnp-lsp/g.rnnp" },
        options: { tabSize: 2, insertSpaces: true },
      }),
      [],
    );
  });
});

describe("rnnp lsp: the command", () => {
  it("`rnnp lsp --stdio` answers on stdin and stdout and exits when told", async () => {
    const child = rig.spawn(["lsp", "--stdio"]);
    const { StreamMessageReader, StreamMessageWriter, createMessageConnection } = await import(
      "vscode-jsonrpc/node"
    );
    const rpc = createMessageConnection(
      new StreamMessageReader(child.child.stdout!),
      new StreamMessageWriter(child.child.stdin!),
    );
    rpc.listen();
    const init = (await rpc.sendRequest("initialize", {
      processId: null,
      rootUri: null,
      capabilities: {},
    })) as { serverInfo: { name: string } };
    assert.deepEqual(init.serverInfo, { name: "rnnp" });
    await rpc.sendRequest("shutdown");
    await rpc.sendNotification("exit");
    const r = await child;
    rpc.dispose();
    assert.equal(r.code, 0, r.stderr);
  });

  it("a session piped in at once (`rnnp lsp < session`) is answered to its last request", () => {
    const uri = pathToFileURL(rig.path("piped.rnnp")).href;
    const session = (...messages: object[]) =>
      messages
        .map((m) => {
          const body = JSON.stringify({ jsonrpc: "2.0", ...m });
          return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
        })
        .join("");
    const opening = [
      { id: 1, method: "initialize", params: { processId: null, rootUri: null, capabilities: {} } },
      { method: "initialized", params: {} },
      {
        method: "textDocument/didOpen",
        params: {
          textDocument: {
            uri,
            languageId: "rnnp",
            version: 1,
            text: "pipeline p { stage a = lstn() }\n",
          },
        },
      },
      {
        id: 2,
        method: "textDocument/hover",
        params: { textDocument: { uri }, position: { line: 0, character: 24 } },
      },
    ];
    /** What the server wrote: each message's id, or its method for a notification. */
    const answered = (stdout: string) =>
      stdout
        .split(/Content-Length: \d+\r\n\r\n/)
        .filter(Boolean)
        .map((m) => {
          const msg = JSON.parse(m) as { id?: number; method?: string };
          return msg.id ?? msg.method;
        });
    const run = (input: string) =>
      spawnSync(process.execPath, [...NODE_FLAGS, BIN, "lsp"], {
        input,
        encoding: "utf8",
        env: cleanEnv(),
      });
    const orderly = run(session(...opening, { id: 3, method: "shutdown" }, { method: "exit" }));
    assert.equal(orderly.status, 0, orderly.stderr);
    assert.deepEqual(answered(orderly.stdout), [1, "textDocument/publishDiagnostics", 2, 3]);
    // Without shutdown and exit, the client went away: everything is still answered, exit code 1.
    const gone = run(session(...opening));
    assert.equal(gone.status, 1, gone.stderr);
    assert.deepEqual(answered(gone.stdout), [1, "textDocument/publishDiagnostics", 2]);
    // An input that ends inside a message (an editor killed mid-send): answered up to there, and
    // the process exits (it stayed alive for ever, a partial-message timer re-arming itself).
    const cut = spawnSync(process.execPath, [...NODE_FLAGS, BIN, "lsp"], {
      input: `${session(opening[0]!)}Content-Length: 500\r\n\r\n{"jsonrpc":"2.0"`,
      encoding: "utf8",
      env: cleanEnv(),
      timeout: 8000,
    });
    assert.equal(cut.signal, null, "it exited by itself");
    assert.equal(cut.status, 1, cut.stderr);
    assert.deepEqual(answered(cut.stdout), [1]);
  });

  it("`rnnp --help` does not load the language server; `rnnp lsp` does", () => {
    const track = (name: string, args: string[]) => {
      const log = rig.path(name);
      const r = rig.spawnSync(args, {
        nodeArgs: ["--import", join(ROOT, "test", "fixtures", "track-imports.mjs")],
        // The server's package (the bundle bin runs holds the server's own module).
        env: { RNNP_TRACK_IMPORTS: log, RNNP_TRACK_PATTERN: "vscode-languageserver" },
      });
      return { ...r, loaded: existsSync(log) ? readFileSync(log, "utf8") : "" };
    };
    const help = track("help.log", ["--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /\n {2}lsp \[options\] +language server/);
    assert.equal(help.loaded, "");
    // stdin is closed at once: the client went away without a shutdown, exit code 1.
    const lsp = track("lsp.log", ["lsp"]);
    assert.equal(lsp.code, 1, lsp.stderr);
    assert.match(lsp.loaded, /^vscode-languageserver\/node\n/m);
  });
});

function applyEdits(text: string, edits: { range: Range; newText: string }[]): string {
  const offset = (p: { line: number; character: number }) =>
    text
      .split("\n")
      .slice(0, p.line)
      .reduce((n, l) => n + l.length + 1, 0) + p.character;
  let out = text;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start)))
    out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  return out;
}
