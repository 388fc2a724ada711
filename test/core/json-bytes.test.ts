import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { JsonBytesError, parseJsonBytes } from "../../src/core/json-bytes.js";

/** JSON.parse's answer, or "refused". */
function reference(text: string): unknown {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return "refused";
  }
}

function ours(text: string): unknown {
  try {
    return { value: parseJsonBytes(Buffer.from(text, "utf8")) };
  } catch (e) {
    assert.ok(e instanceof JsonBytesError, `refused with ${String(e)}`);
    return "refused";
  }
}

describe("JSON parsed from bytes", () => {
  it("gives JSON.parse's values, with or without whitespace, non-ASCII and empty strings too", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 1, "\t"), (v, space) => {
        const text = JSON.stringify(v, null, space);
        assert.deepEqual(ours(text), reference(text));
      }),
      { numRuns: 1000 },
    );
  });
  it("refuses what JSON.parse refuses, and agrees on what it accepts (mutated texts)", () => {
    const mark = fc.constantFrom("", ",", "]", "}", '"', "\\", ":", "[", "x", " ");
    const text = fc
      .tuple(fc.jsonValue(), fc.nat(), mark, fc.boolean())
      .map(([v, at, c, insert]) => {
        const s = JSON.stringify(v);
        const i = at % (s.length + 1);
        return s.slice(0, i) + c + s.slice(insert ? i : i + 1);
      });
    fc.assert(
      fc.property(text, (t) => assert.deepEqual(ours(t), reference(t))),
      { numRuns: 3000 },
    );
  });
  it("reads long lists in runs: across run ends, beside objects and lists, with huge cells", () => {
    const cell = (i: number) =>
      i % 1000 === 0 ? "y".repeat(200_000) : i % 7 === 0 ? "" : i % 3 === 0 ? `é ${i} 𝄞 "q"\\` : i;
    const list: unknown[] = Array.from({ length: 10_000 }, (_, i) => cell(i));
    list.splice(4095, 0, { a: [1, 2] }, [3]);
    list.splice(8200, 0, null, true);
    for (const text of [JSON.stringify({ list }), JSON.stringify({ list }, null, 1)])
      assert.deepEqual(ours(text), reference(text));
  });
  it('keeps a "__proto__" key as data, as JSON.parse does', () => {
    const v = parseJsonBytes(Buffer.from('{"__proto__":{"x":1},"a":2}')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ["__proto__", "a"]);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal((v as { x?: number }).x, undefined);
  });
});
