import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  JsonBytesError,
  type JsonPath,
  parseJsonBytes,
  SkippedList,
} from "../../src/core/json-bytes.js";

/** JSON.parse's answer, or "refused". */
function reference(text: string): unknown {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return "refused";
  }
}

/**
 * Ours, skipping the lists `skip` picks (a refusal must come from that pass), then each skipped list
 * parsed from its bytes: JSON.parse's values if all is right.
 */
function ours(text: string, skip?: (path: JsonPath) => boolean): unknown {
  const buf = Buffer.from(text, "utf8");
  let parsed: unknown;
  try {
    parsed = parseJsonBytes(buf, 0, buf.length, skip ? { skip } : {});
  } catch (e) {
    assert.ok(e instanceof JsonBytesError, `refused with ${String(e)}`);
    return "refused";
  }
  return { value: unskipped(buf, parsed) };
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
  it("tells `read` how far it has read, every few MiB, in order, and parses the same", () => {
    const value = {
      a: Array.from({ length: 300_000 }, (_, i) => `cell ${i} ${"é".repeat(i % 7)} "q"`),
      b: [1, 2, { c: Array.from({ length: 200_000 }, (_, i) => i / 7) }],
    };
    const buf = Buffer.from(`  ${JSON.stringify(value)}  `);
    const told: number[] = [];
    const parsed = parseJsonBytes(buf, 0, buf.length, { read: (upTo) => told.push(upTo) });
    assert.deepEqual(parsed, value);
    assert.ok(told.length >= 2, `told ${told.length} times for ${buf.length} bytes`);
    told.reduce((before, upTo) => {
      assert.ok(upTo > before && upTo <= buf.length, `told ${upTo} after ${before}`);
      // Everything before it was read: it ends a run of scalars inside a list.
      assert.ok(upTo - before >= 4 * 1024 * 1024, `told again after ${upTo - before} bytes`);
      return upTo;
    }, 0);
  });

  it('keeps a "__proto__" key as data, as JSON.parse does', () => {
    const v = parseJsonBytes(Buffer.from('{"__proto__":{"x":1},"a":2}')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ["__proto__", "a"]);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal((v as { x?: number }).x, undefined);
  });
});

/** `v` with every list left unparsed parsed from the bytes it was skipped in. */
function unskipped(buf: Buffer, v: unknown): unknown {
  if (v instanceof SkippedList) {
    const items = parseJsonBytes(buf, v.from, v.to) as unknown[];
    assert.equal(items.length, v.count, "a skipped list's count is its items'");
    return items;
  }
  if (Array.isArray(v)) return v.map((x) => unskipped(buf, x));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unskipped(buf, x)]));
  return v;
}

const columnValues = (path: JsonPath) =>
  path.length === 3 && path[0] === "columns" && path[2] === "values";

describe("JSON lists left unparsed (skip)", () => {
  // Strings whose bytes look like structure, escapes and the rest JSON allows.
  const piece = fc.constantFrom(
    "]",
    "[",
    "],[",
    '"',
    "\\",
    '\\"',
    '"]',
    ",",
    ", ",
    "{",
    "}",
    ":",
    "𝄞",
    "é",
    "\u2028",
    "\u0000",
    "\u001f",
    "\n",
    "\t",
    "\ud800",
    "",
    " ",
    "x",
  );
  const nasty = fc.oneof(
    fc.array(piece, { maxLength: 12 }).map((xs) => xs.join("")),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
  );
  const item = fc.oneof(
    { weight: 8, arbitrary: nasty },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
      ),
    },
  );

  it("counts a column's items whatever its strings hold, and leaves the rest as JSON.parse reads it", () => {
    let skipped = 0;
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 40 }),
        fc.array(item, { maxLength: 5 }),
        fc.constantFrom(undefined, 1, "\t"),
        (cells, other, space) => {
          const value = {
            before: other,
            columns: [
              { dtype: "string", name: "text", values: cells },
              { name: "mixed", values: [{ a: cells }, ...other] },
              { name: "empty", values: [] },
            ],
            roles: { text: "text", after: other },
          };
          const text = JSON.stringify(value, null, space);
          const buf = Buffer.from(text, "utf8");
          const got = parseJsonBytes(buf, 0, buf.length, { skip: columnValues }) as typeof value;
          const [cut, mixed, empty] = got.columns as unknown as { values: unknown }[];
          assert.ok(cut!.values instanceof SkippedList && empty!.values instanceof SkippedList);
          assert.equal(cut!.values.count, cells.length);
          assert.equal(empty!.values.count, 0);
          // A list holding an object is parsed, not skipped.
          assert.ok(Array.isArray(mixed!.values));
          // As JSON reads them back (-0 is written 0).
          assert.deepEqual(
            JSON.parse(buf.toString("utf8", cut!.values.from, cut!.values.to)),
            JSON.parse(JSON.stringify(cells)),
          );
          assert.deepEqual(unskipped(buf, got), JSON.parse(text));
          skipped++;
        },
      ),
      { numRuns: 1000 },
    );
    assert.equal(skipped, 1000);
  });

  it("refuses what JSON.parse refuses inside a skipped list too (mutated texts)", () => {
    const mark = fc.constantFrom(
      "",
      ",",
      "]",
      "[",
      '"',
      "\\",
      "\\u12",
      "\\x",
      "\u0001",
      "\n",
      "\u007f",
      "{",
      "x",
      " ",
      "1",
    );
    const text = fc
      .tuple(fc.array(item, { maxLength: 8 }), fc.nat(), mark, fc.boolean())
      .map(([cells, at, c, insert]) => {
        const s = JSON.stringify({ columns: [{ values: cells }], x: [cells] });
        const i = at % (s.length + 1);
        // As UTF-8 holds it: a cut through an astral character leaves a lone surrogate, which
        // UTF-8 cannot hold (the bytes say U+FFFD).
        return Buffer.from(s.slice(0, i) + c + s.slice(insert ? i : i + 1)).toString();
      });
    let refused = 0;
    fc.assert(
      fc.property(text, (t) => {
        const expected = reference(t);
        if (expected === "refused") refused++;
        assert.deepEqual(
          ours(t, () => true),
          expected,
        );
        assert.deepEqual(ours(t, columnValues), expected);
      }),
      { numRuns: 3000 },
    );
    assert.ok(refused > 300, `${refused} refused texts`);
  });
});
