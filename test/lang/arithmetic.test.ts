import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "../../grammar/api.js";
import type * as A from "../../grammar/ast.js";
import { Collector } from "../../src/core/diagnostic.js";
import { evaluateNumber } from "../../src/lang/arithmetic.js";
import { format } from "../../src/lang/format.js";
import { checkSource } from "../../src/lang/load.js";

/**
 * Issue 18, "Language: arithmetic on params": + - * / and parentheses over numbers, evaluated when
 * the pipeline is checked, typed with positions; params defined from params; -P and sweeps flow into
 * what is derived; the key sees the value only (test/plan/keys.test.ts); fmt keeps what was written.
 */
const FILE = "p.rnnp";
const RAW = '  stage raw = load.csv(path: "d.csv", text: "name", label: "label")';
const wrap = (body: string) => `pipeline p {\n${body}\n}\n`;

function checked(body: string, overrides: string[] = []) {
  return checkSource(wrap(body), FILE, overrides);
}

function errors(body: string, overrides: string[] = []): string[] {
  return checked(body, overrides)
    .diagnostics.filter((d) => d.severity === "error")
    .map((d) => `${d.code} ${d.span?.start.line}:${d.span?.start.column} ${d.message}`);
}

/** The value `head(raw, n: EXPR)` is given, with params `p`. */
function n(expr: string, params = "a = 4"): unknown {
  const r = checked(`  params { ${params} }\n${RAW}\n  stage h = head(raw, n: ${expr})`);
  assert.ok(r.ir, r.diagnostics.map((d) => d.message).join("\n"));
  return r.ir.stages[1]!.params.n;
}

describe("arithmetic on params", () => {
  it("precedence, left to right, parentheses and minus", () => {
    assert.equal(n("1 + 2 * 3"), 7);
    assert.equal(n("(1 + 2) * 3"), 9);
    assert.equal(n("10 - 2 - 3"), 5);
    assert.equal(n("16 / 4 / 2"), 2);
    assert.equal(n("params.a * 2 - 1"), 7);
    assert.equal(n("-params.a + 10"), 6);
    assert.equal(n("2 * -3 + 10"), 4);
    assert.equal(n("-(params.a - 10)"), 6);
    assert.equal(n("params.a -1"), 3, "a minus after a value subtracts");
    assert.equal(n("((((params.a))))"), 4);
  });

  it("maxLen: params.length - 1 and units: params.base * 2, as stages see them", () => {
    const r = checked(`  params { length = 12, base = 32 }\n${RAW}
  stage parts = split(raw)
  stage v = vocabulary(parts.train)
  stage s = encode(parts, v, maxLen: params.length - 1)
  stage m = model(s.train) { embedding(dim: 4) lstm(units: params.base * 2) dense(units: 2, activation: "softmax") }`);
    assert.deepEqual(r.diagnostics, []);
    const byName = new Map(r.ir!.stages.map((s) => [s.name, s]));
    assert.equal(byName.get("s")!.params.maxLen, 11);
    const layers = byName.get("m")!.params.layers as { call: string; args: { units?: number } }[];
    assert.equal(layers[1]!.args.units, 64);
    assert.deepEqual(byName.get("s")!.paramOrigins, { maxLen: ["length"] });
  });

  it("a string, a bool or a list in arithmetic is a type error at that operand", () => {
    assert.deepEqual(errors(`${RAW}\n  stage h = head(raw, n: "a" - 1)`), [
      'param-type 3:26 arithmetic takes numbers, not the string "a"',
    ]);
    assert.deepEqual(
      errors(`  params { name = "x" }\n${RAW}\n  stage h = head(raw, n: 2 * params.name)`),
      ['param-type 4:30 arithmetic takes numbers, and `params.name` is the string "x"'],
    );
    assert.deepEqual(errors(`${RAW}\n  stage h = head(raw, n: 1 + true + [1])`), [
      "param-type 3:30 arithmetic takes numbers, not true",
      "param-type 3:37 arithmetic takes numbers, not a list",
    ]);
    const [d] = checked(`${RAW}\n  stage h = head(raw, n: "3" * 2)`).diagnostics;
    assert.equal(d!.hint, "write 3 without quotes");
  });

  it("a computed value where a string is expected says what it computed", () => {
    assert.deepEqual(
      errors(`  params { a = 2 }\n${RAW}\n  stage c = clean(raw, scale: params.a * 2)`),
      [
        'param-type 4:31 `scale` must be one of "none", "zscore", "minmax", not the number 4 (`params.a * 2`)',
      ],
    );
  });

  it("an integer parameter given a fraction: a type error with a hint to write an integer", () => {
    const r = checked(
      `  params { units = 33 }\n${RAW}\n  stage h = head(raw, n: params.units / 2)`,
    );
    assert.deepEqual(
      r.diagnostics.map(
        (d) => `${d.code} ${d.span?.start.line}:${d.span?.start.column} ${d.message}`,
      ),
      ["param-type 4:26 `n` must be an integer, not 16.5"],
    );
    assert.equal(
      r.diagnostics[0]!.hint,
      "`params.units / 2` is 16.5: write an integer, or change the params so that it divides exactly",
    );
    assert.equal(n("params.a / 2"), 2, "an exact division is an integer");
  });

  it("a param holding a fraction, used where an integer is needed, says where it came from", () => {
    assert.deepEqual(
      errors(`  params { half = 33 / 2 }\n${RAW}\n  stage h = head(raw, n: params.half)`),
      ["param-type 4:26 `n` must be an integer, not 16.5 (from params.half)"],
    );
  });

  it("division by zero and results too large are errors at their place", () => {
    assert.deepEqual(errors(`${RAW}\n  stage h = head(raw, n: 4 / 0)`), [
      "non-finite 3:30 division by zero",
    ]);
    assert.deepEqual(
      errors(`  params { n = 4 }\n${RAW}\n  stage h = head(raw, n: 8 / (params.n - 4))`),
      ["non-finite 4:30 division by zero: `(params.n - 4)` is 0"],
    );
    assert.deepEqual(errors(`  params { big = 1e200 * 1e200 }\n${RAW}`), [
      "non-finite 2:18 `1e200 * 1e200` is too large to represent",
    ]);
  });
});

describe("params defined from params", () => {
  const body = `  params { base = 32, units = params.base * 2, label = "x" }\n${RAW}
  stage h = head(raw, n: params.units - 1)`;

  it("are evaluated in dependency order, whatever the order they are written in", () => {
    const r = checked(body);
    assert.deepEqual(errors(body), []);
    assert.deepEqual(r.ir!.params, { base: 32, units: 64, label: "x" });
    const swapped = checked(`  params { units = params.base * 2, base = 32 }\n${RAW}
  stage h = head(raw, n: params.units)`);
    assert.deepEqual(swapped.ir!.params, { units: 64, base: 32 });
  });

  it("-P on a param flows into the params derived from it", () => {
    const r = checked(body, ["base=16"]);
    assert.deepEqual(r.ir!.params, { base: 16, units: 32, label: "x" });
    assert.deepEqual(r.ir!.stages[1]!.params, { n: 31 });
    const direct = checked(body, ["units=10"]);
    assert.deepEqual(direct.ir!.params, { base: 32, units: 10, label: "x" });
    // base is used in the file: -P units=10 does not make it "never used".
    assert.deepEqual(
      direct.diagnostics.map((d) => d.message),
      ["param `label` is never used"],
    );
  });

  it("a -P value may be arithmetic; one that cannot be evaluated names the flag", () => {
    assert.deepEqual(checked(body, ["base=8*2"]).ir!.params, { base: 16, units: 32, label: "x" });
    assert.deepEqual(errors(body, ["base=1/0"]), [
      "usage undefined:undefined -P base=1/0: division by zero",
    ]);
    assert.deepEqual(errors(body, ["base=x"]), [
      'param-type 2:31 arithmetic takes numbers, and `params.base` is the string "x" (from -P base=x)',
    ]);
  });

  it("a param used only by another param is used", () => {
    assert.deepEqual(
      checked(body).diagnostics.map((d) => d.message),
      ["param `label` is never used"],
    );
  });

  it("a sweep of a param fans out the stages that use params derived from it", () => {
    const r =
      checked(`  params { base = 16, units = params.base * 2 }\n  sweep {base: [16, 2 * 16]}\n${RAW}
  stage h = head(raw, n: params.units)
  stage other = head(raw, n: 1)`);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(
      r.ir!.stages.slice(1).map((s) => `${s.name} ${JSON.stringify(s.params)}`),
      ['h@base=16 {"n":32}', 'h@base=32 {"n":64}', 'other {"n":1}'],
    );
    assert.deepEqual(r.ir!.sweep, { base: [16, 32] });
  });
});

describe("evaluation, as a property", () => {
  /** A random expression over small integers, with its value computed independently. */
  const expr: fc.Arbitrary<{ text: string; value: number }> = fc.letrec<{
    e: { text: string; value: number };
  }>((tie) => ({
    e: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.integer({ min: 0, max: 99 }).map((x) => ({ text: String(x), value: x })),
      fc.tuple(tie("e"), fc.constantFrom("+", "-", "*"), tie("e")).map(([a, op, b]) => ({
        text: `(${a.text} ${op} ${b.text})`,
        value: op === "+" ? a.value + b.value : op === "-" ? a.value - b.value : a.value * b.value,
      })),
      tie("e").map((a) => ({ text: `-(${a.text})`, value: -a.value })),
    ),
  })).e;

  it("any expression evaluates to what JavaScript computes, and fmt keeps its value", () => {
    fc.assert(
      fc.property(expr, ({ text, value }) => {
        const source = `pipeline p { params { x = ${text} } }`;
        const parsed = parse(source, FILE);
        assert.deepEqual(parsed.diagnostics, []);
        const item = parsed.ast!.items[0] as A.ParamsBlock;
        const out = new Collector(FILE);
        const got = evaluateNumber(item.params[0]!.value, {
          file: FILE,
          params: new Map(),
          stageNames: new Set(),
          used: new Set(),
          out,
        });
        assert.deepEqual(out.diagnostics, []);
        assert.equal(got, value);
        const formatted = format(source, FILE).text!;
        assert.equal(format(formatted, FILE).text, formatted);
        assert.equal(checkSource(formatted, FILE).ir?.params.x, value);
      }),
      { numRuns: 300 },
    );
  });
});
