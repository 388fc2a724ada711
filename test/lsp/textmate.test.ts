import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import type { IGrammar } from "vscode-textmate";
import { parse } from "../../grammar/api.js";
import type * as A from "../../grammar/ast.js";
import { lex } from "../../grammar/lexer.js";
import { decodeString } from "../../grammar/strings.js";
import { allTokens } from "../../grammar/tokens.js";
import { TOKEN_SCOPES, textMateGrammarJson } from "../../src/lsp/textmate.js";
import { vocabulary } from "../../src/lsp/vocabulary.js";
import { ROOT } from "../helpers.js";
import { grammar, tokenize, tokenizeLines } from "./tm.js";

const FILE = join(ROOT, "editors", "vscode", "syntaxes", "rnnp.tmLanguage.json");
const words = vocabulary();
let g: IGrammar;
before(async () => {
  g = await grammar(FILE);
});

describe("the TextMate grammar", () => {
  it("is what the generator makes from the tokens and registries (run `npm run grammar`)", () => {
    assert.equal(readFileSync(FILE, "utf8"), textMateGrammarJson());
  });

  it("gives every lexer token a scope", () => {
    assert.deepEqual(Object.keys(TOKEN_SCOPES).sort(), allTokens.map((t) => t.name).sort());
  });

  it("reads its words off the lexer and the registries", () => {
    assert.deepEqual(words.keywords, ["pipeline", "stage", "params"]);
    assert.deepEqual(words.constants, ["true", "false"]);
    assert.ok(words.kinds.includes("load.csv") && words.kinds.includes("train"));
    assert.ok(words.layers.includes("lstm") && words.layers.includes("bidirectional"));
    assert.deepEqual(words.blockParts, ["encoder", "decoder"]);
    assert.ok(words.calls.includes("adam") && !words.calls.includes("lstm"));
    assert.deepEqual(words.settings, ["seed", "backend", "kernels", "sweep"]);
  });

  it("knows every stage kind, layer and call of the registries", () => {
    for (const kind of words.kinds)
      assert.deepEqual(tokenize(g, `stage x = ${kind}(a)`)[0]!.slice(0, 4), [
        "stage: keyword.other.stage.rnnp",
        "x: entity.name.function.stage.rnnp",
        "=: keyword.operator.assignment.rnnp",
        `${kind}: support.function.kind.rnnp`,
      ]);
    for (const layer of words.layers)
      assert.equal(
        tokenize(g, `  ${layer}(units: 2)`)[0]![0],
        `${layer}: support.function.layer.rnnp`,
      );
    for (const part of words.blockParts)
      assert.equal(tokenize(g, `  ${part} {`)[0]![0], `${part}: support.function.block.rnnp`);
    for (const call of words.calls)
      assert.equal(
        tokenize(g, `f(o: ${call}(lr: 1))`)[0]![4],
        `${call}: support.function.call.rnnp`,
      );
  });

  for (const name of readdirSync(join(ROOT, "pipelines")).filter((f) => f.endsWith(".rnnp")))
    it(`scopes every token of pipelines/${name} as the parser reads it`, () => {
      const text = readFileSync(join(ROOT, "pipelines", name), "utf8");
      const { expected, actual } = compareWithParser(text, name);
      assert.ok(expected.length > 100, `${name}: ${expected.length} tokens`);
      assert.deepEqual(actual, expected);
    });

  it("scopes strings, their escapes and bad escapes", () => {
    assert.deepEqual(tokenize(g, 'backend "a\\"b\\\\c\\u00e9\\n" # "x"\nseed "\\q\\u12"'), [
      [
        "backend: keyword.other.setting.rnnp",
        '": string.quoted.double.rnnp punctuation.definition.string.begin.rnnp',
        "a: string.quoted.double.rnnp",
        '\\": string.quoted.double.rnnp constant.character.escape.rnnp',
        "b: string.quoted.double.rnnp",
        "\\\\: string.quoted.double.rnnp constant.character.escape.rnnp",
        "c: string.quoted.double.rnnp",
        "\\u00e9: string.quoted.double.rnnp constant.character.escape.rnnp",
        "\\n: string.quoted.double.rnnp constant.character.escape.rnnp",
        '": string.quoted.double.rnnp punctuation.definition.string.end.rnnp',
        '# "x": comment.line.rnnp',
      ],
      [
        "seed: keyword.other.setting.rnnp",
        '": string.quoted.double.rnnp punctuation.definition.string.begin.rnnp',
        "\\q: string.quoted.double.rnnp invalid.illegal.escape.rnnp",
        "\\u: string.quoted.double.rnnp invalid.illegal.escape.rnnp",
        "12: string.quoted.double.rnnp",
        '": string.quoted.double.rnnp punctuation.definition.string.end.rnnp',
      ],
    ]);
  });

  it("ends an unclosed string with its line, as the lexer does", () => {
    assert.deepEqual(tokenize(g, 'f(p: "abc\nn: 1)'), [
      [
        "f: entity.name.function.rnnp",
        "(: punctuation.section.parens.begin.rnnp",
        "p: variable.parameter.rnnp",
        ":: punctuation.separator.key-value.rnnp",
        '": string.quoted.double.rnnp punctuation.definition.string.begin.rnnp',
        "abc: string.quoted.double.rnnp",
      ],
      [
        "n: variable.parameter.rnnp",
        ":: punctuation.separator.key-value.rnnp",
        "1: constant.numeric.rnnp",
        "): punctuation.section.parens.end.rnnp",
      ],
    ]);
  });

  it("agrees with the decoder on every escape", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
          fc.stringMatching(/^u[0-9a-fA-FxyzG]{0,4}$/),
        ),
        (after) => {
          const literal = `"\\${after}"`;
          const scoped = tokenize(g, `seed ${literal}`)[0]![2]!;
          const valid = decodeString(literal).problem === undefined;
          assert.match(
            scoped,
            valid ? /constant\.character\.escape\.rnnp$/ : /invalid\.illegal\.escape\.rnnp$/,
            literal,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("tells comments from division, with both comment markers", () => {
    assert.deepEqual(
      tokenize(g, "// a whole line\nparams { half = params.n / 2 // trailing\n  x = 1 # hash }\n}"),
      [
        ["// a whole line: comment.line.rnnp"],
        [
          "params: keyword.other.params.rnnp",
          "{: punctuation.section.braces.begin.rnnp",
          "half: variable.other.constant.param.rnnp",
          "=: keyword.operator.assignment.rnnp",
          "params: variable.language.params.rnnp",
          ".: punctuation.accessor.rnnp",
          "n: variable.other.constant.param.rnnp",
          "/: keyword.operator.arithmetic.rnnp",
          "2: constant.numeric.rnnp",
          "// trailing: comment.line.rnnp",
        ],
        [
          "x: variable.other.constant.param.rnnp",
          "=: keyword.operator.assignment.rnnp",
          "1: constant.numeric.rnnp",
          "# hash }: comment.line.rnnp",
        ],
        ["}: punctuation.section.braces.end.rnnp"],
      ],
    );
  });

  it("scopes arithmetic, negation, groups and number spellings", () => {
    assert.deepEqual(tokenize(g, "f(n: -(params.a + 1e-3) * .5 - x1)"), [
      [
        "f: entity.name.function.rnnp",
        "(: punctuation.section.parens.begin.rnnp",
        "n: variable.parameter.rnnp",
        ":: punctuation.separator.key-value.rnnp",
        "-: keyword.operator.arithmetic.rnnp",
        "(: punctuation.section.parens.begin.rnnp",
        "params: variable.language.params.rnnp",
        ".: punctuation.accessor.rnnp",
        "a: variable.other.constant.param.rnnp",
        "+: keyword.operator.arithmetic.rnnp",
        "1e-3: constant.numeric.rnnp",
        "): punctuation.section.parens.end.rnnp",
        "*: keyword.operator.arithmetic.rnnp",
        ".5: constant.numeric.rnnp",
        "-: keyword.operator.arithmetic.rnnp",
        "x1: variable.other.stage.rnnp",
        "): punctuation.section.parens.end.rnnp",
      ],
    ]);
  });

  it("scopes a sweep's params, and object keys apart from argument names", () => {
    assert.deepEqual(
      tokenize(g, 'sweep { units: [16, 32], lr: [0.01] }\nstage r = load.text(files: { a: "x" })'),
      [
        [
          "sweep: keyword.other.setting.rnnp",
          "{: punctuation.section.braces.begin.rnnp",
          "units: variable.other.constant.param.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          "[: punctuation.section.brackets.begin.rnnp",
          "16: constant.numeric.rnnp",
          ",: punctuation.separator.comma.rnnp",
          "32: constant.numeric.rnnp",
          "]: punctuation.section.brackets.end.rnnp",
          ",: punctuation.separator.comma.rnnp",
          "lr: variable.other.constant.param.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          "[: punctuation.section.brackets.begin.rnnp",
          "0.01: constant.numeric.rnnp",
          "]: punctuation.section.brackets.end.rnnp",
          "}: punctuation.section.braces.end.rnnp",
        ],
        [
          "stage: keyword.other.stage.rnnp",
          "r: entity.name.function.stage.rnnp",
          "=: keyword.operator.assignment.rnnp",
          "load.text: support.function.kind.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "files: variable.parameter.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          "{: punctuation.section.braces.begin.rnnp",
          "a: support.type.property-name.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          '": string.quoted.double.rnnp punctuation.definition.string.begin.rnnp',
          "x: string.quoted.double.rnnp",
          '": string.quoted.double.rnnp punctuation.definition.string.end.rnnp',
          "}: punctuation.section.braces.end.rnnp",
          "): punctuation.section.parens.end.rnnp",
        ],
      ],
    );
  });

  it("scopes model blocks: layers, wrapped layers, and unknown names", () => {
    assert.deepEqual(
      tokenize(
        g,
        "stage clean = clean(raw)\nstage net = model(clean) {\n  timeDistributed(dense(units: 3))\n  lstmx(units: 2)\n}\nstage y = my.kind(a: 1)",
      ),
      [
        [
          "stage: keyword.other.stage.rnnp",
          "clean: entity.name.function.stage.rnnp",
          "=: keyword.operator.assignment.rnnp",
          "clean: support.function.kind.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "raw: variable.other.stage.rnnp",
          "): punctuation.section.parens.end.rnnp",
        ],
        [
          "stage: keyword.other.stage.rnnp",
          "net: entity.name.function.stage.rnnp",
          "=: keyword.operator.assignment.rnnp",
          "model: support.function.kind.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "clean: variable.other.stage.rnnp",
          "): punctuation.section.parens.end.rnnp",
          "{: punctuation.section.braces.begin.rnnp",
        ],
        [
          "timeDistributed: support.function.layer.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "dense: support.function.layer.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "units: variable.parameter.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          "3: constant.numeric.rnnp",
          "): punctuation.section.parens.end.rnnp",
          "): punctuation.section.parens.end.rnnp",
        ],
        [
          "lstmx: entity.name.function.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "units: variable.parameter.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          "2: constant.numeric.rnnp",
          "): punctuation.section.parens.end.rnnp",
        ],
        ["}: punctuation.section.braces.end.rnnp"],
        [
          "stage: keyword.other.stage.rnnp",
          "y: entity.name.function.stage.rnnp",
          "=: keyword.operator.assignment.rnnp",
          "my: entity.name.function.rnnp",
          ".: punctuation.accessor.rnnp",
          "kind: entity.name.function.rnnp",
          "(: punctuation.section.parens.begin.rnnp",
          "a: variable.parameter.rnnp",
          ":: punctuation.separator.key-value.rnnp",
          "1: constant.numeric.rnnp",
          "): punctuation.section.parens.end.rnnp",
        ],
      ],
    );
  });
});

// ---- an oracle from the parser: what each token is, read off the syntax tree --------------------

/** `line:column text: scope` of every token, as the parser's tree says and as the grammar says. */
function compareWithParser(text: string, file: string): { expected: string[]; actual: string[] } {
  const parsed = parse(text, file);
  assert.deepEqual(parsed.diagnostics, [], `${file} parses`);
  const roles = rolesOf(parsed.ast!);
  const lines = tokenizeLines(g, text);
  const expected: string[] = [];
  const actual: string[] = [];
  const tokens = [...lex(text).tokens, ...lex(text).comments].sort(
    (a, b) => a.startOffset - b.startOffset,
  );
  let coveredUntil = -1;
  for (const t of tokens) {
    if (t.startOffset < coveredUntil) continue;
    const role = roles.get(t.startOffset);
    const line = lines[t.startLine! - 1]!;
    const at = `${t.startLine}:${t.startColumn}`;
    if (t.tokenType.name === "StringLiteral") {
      const inside = line.filter((x) => x.start >= t.startColumn! - 1 && x.end <= t.endColumn!);
      expected.push(`${at} ${t.image}: string.quoted.double.rnnp`);
      actual.push(
        `${at} ${inside.map((x) => x.text).join("")}: ${[...new Set(inside.map((x) => x.scopes[0]))].join(" ")}`,
      );
      continue;
    }
    const image = role ? text.slice(t.startOffset, role.end) : t.image;
    if (role) coveredUntil = role.end;
    const scope = role?.scope ?? TOKEN_SCOPES[t.tokenType.name]!.split(" ")[0]!;
    if (t.tokenType.name === "Identifier" && !role) assert.fail(`${at} ${t.image}: no role`);
    expected.push(`${at} ${image}: ${scope}`);
    const got = line.find((x) => x.start === t.startColumn! - 1);
    actual.push(`${at} ${got?.text}: ${got?.scopes.join(" ")}`);
  }
  return { expected, actual };
}

interface Role {
  end: number;
  scope: string;
}

function rolesOf(ast: A.PipelineAst): Map<number, Role> {
  const roles = new Map<number, Role>();
  const set = (span: { start: { offset: number }; end: { offset: number } }, scope: string) =>
    roles.set(span.start.offset, { end: span.end.offset, scope });
  const invoked = (name: A.Name) =>
    set(
      name.span,
      words.layers.includes(name.text)
        ? "support.function.layer.rnnp"
        : words.blockParts.includes(name.text)
          ? "support.function.block.rnnp"
          : words.calls.includes(name.text)
            ? "support.function.call.rnnp"
            : "entity.name.function.rnnp",
    );
  const value = (v: A.Value, keys = "support.type.property-name.rnnp"): void => {
    if (v.type === "list") for (const i of v.items) value(i);
    else if (v.type === "object")
      for (const e of v.entries) {
        if (/^[A-Za-z_]/.test(text(e.key))) set(e.key.span, keys);
        value(e.value);
      }
    else if (v.type === "ref") {
      const [first, second] = v.path;
      const isParams = first!.text === "params";
      set(first!.span, isParams ? "variable.language.params.rnnp" : "variable.other.stage.rnnp");
      if (second)
        set(
          second.span,
          isParams ? "variable.other.constant.param.rnnp" : "variable.other.member.output.rnnp",
        );
    } else if (v.type === "call") {
      invoked(v.name);
      args(v.args);
    } else if (v.type === "arithmetic") for (const o of v.operands) value(o);
    else if (v.type === "negated") value(v.operand);
    else if (v.type === "group") value(v.value);
  };
  const text = (n: A.Name) => n.text;
  const args = (as: readonly A.Argument[] | undefined) => {
    for (const a of as ?? []) {
      if (a.name) set(a.name.span, "variable.parameter.rnnp");
      value(a.value);
    }
  };
  const block = (items: readonly A.Invocation[] | undefined) => {
    for (const item of items ?? []) {
      invoked(item.name);
      args(item.args);
      block(item.block);
    }
  };
  set(ast.name.span, "entity.name.type.pipeline.rnnp");
  for (const item of ast.items) {
    if (item.type === "setting") {
      set(item.name.span, "keyword.other.setting.rnnp");
      value(item.value, "variable.other.constant.param.rnnp");
    } else if (item.type === "params")
      for (const p of item.params) {
        set(p.name.span, "variable.other.constant.param.rnnp");
        value(p.value);
      }
    else {
      set(item.name.span, "entity.name.function.stage.rnnp");
      const kind = item.body.name;
      set(
        kind.span,
        words.kinds.includes(kind.text)
          ? "support.function.kind.rnnp"
          : "entity.name.function.rnnp",
      );
      args(item.body.args);
      block(item.body.block);
    }
  }
  return roles;
}
