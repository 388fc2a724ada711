import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  canonicalJson,
  type Json,
  sameJson,
  writeCanonicalJson,
} from "../../src/core/canonical.js";
import {
  CodecError,
  decode,
  encode,
  listsHeldOnce,
  type Release,
  type Value,
} from "../../src/core/codec.js";
import { digestOf } from "../../src/core/digest.js";

describe("canonical JSON", () => {
  it("sorts keys at every depth and drops undefined fields", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
  it("refuses values JSON cannot say exactly", () => {
    assert.throws(() => canonicalJson({ x: NaN }), /\$\.x is NaN/);
    assert.throws(() => canonicalJson({ x: Infinity }), /Infinity/);
    assert.throws(() => canonicalJson(new Date(0)), /Date/);
    assert.throws(() => canonicalJson({ f: () => 1 }), /function/);
  });
  it("writes -0 as 0 and numbers in shortest form", () => {
    assert.equal(canonicalJson([-0, 1e-7, 0.1 + 0.2]), "[0,1e-7,0.30000000000000004]");
    // Outside a list of scalars (which JSON.stringify writes) too: a member, a value, a mixed list.
    assert.equal(canonicalJson({ a: -0 }), '{"a":0}');
    assert.equal(canonicalJson(-0), "0");
    assert.equal(canonicalJson([{}, -0]), "[{},0]");
    const pieces: string[] = [];
    writeCanonicalJson({ a: -0, b: [[], -0] }, (p) => pieces.push(p));
    assert.equal(pieces.join(""), '{"a":0,"b":[[],0]}');
  });
  it("spells lists of scalars as item-by-item writing does (the one-pass path changes no byte)", () => {
    // The spelling before lists of scalars took JSON.stringify's native pass: item by item.
    const itemByItem = (xs: unknown[]): string =>
      `[${xs.map((x) => (Object.is(x, -0) ? "0" : JSON.stringify(x))).join(",")}]`;
    const scalar = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme" }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom("\u2028", "\ud800", '"\\', "\u0000\u001f", -0),
    );
    fc.assert(
      fc.property(fc.array(scalar), (xs) => {
        assert.equal(canonicalJson(xs), itemByItem(xs));
        assert.equal(canonicalJson({ column: xs }), `{"column":${itemByItem(xs)}}`);
      }),
      { numRuns: 500 },
    );
  });
  it("spells long lists in pieces that join to what item-by-item writing does", () => {
    const itemByItem = (xs: unknown[]): string =>
      `[${xs.map((x) => (Object.is(x, -0) ? "0" : JSON.stringify(x))).join(",")}]`;
    const scalar = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 3 }),
      fc.integer(),
      fc.constantFrom("", "é", "\u2028", '"', null, true, -0),
    );
    // Lengths about the piece size (4,096 items), where a piece's brackets and commas are joined.
    const length = fc.constantFrom(4095, 4096, 4097, 8192, 8193, 12_289);
    fc.assert(
      fc.property(length, fc.array(scalar, { minLength: 1, maxLength: 64 }), (n, pool) => {
        const xs = Array.from({ length: n }, (_, i) => pool[(i * 7919) % pool.length]);
        const pieces: string[] = [];
        writeCanonicalJson({ column: xs }, (p) => pieces.push(p));
        assert.ok(pieces.length > 2, "written in pieces");
        assert.equal(pieces.join(""), `{"column":${itemByItem(xs)}}`);
        assert.equal(canonicalJson(xs), itemByItem(xs));
      }),
      { numRuns: 30 },
    );
  });
  it("writes any value in pieces that join to its canonical text (property)", () => {
    // Objects with undefined members (left out, as canonicalJson leaves them) and keys in any order.
    const withGaps = fc.jsonValue().map(function gaps(v: unknown): unknown {
      if (Array.isArray(v)) return v.map(gaps);
      if (v === null || typeof v !== "object") return v;
      const entries = Object.entries(v).map(([k, x]) => [k, gaps(x)] as const);
      return Object.fromEntries([...entries.reverse(), ["~gone", undefined]]);
    });
    fc.assert(
      fc.property(withGaps, (v) => {
        const pieces: string[] = [];
        writeCanonicalJson(v, (p) => pieces.push(p));
        assert.equal(pieces.join(""), canonicalJson(v));
      }),
      { numRuns: 500 },
    );
    assert.throws(
      () => writeCanonicalJson({ a: [1, { b: NaN }] }, () => {}),
      /\$\.a\[1\]\.b is NaN/,
    );
  });
  it("names where a refused value sits, in lists too", () => {
    assert.throws(() => canonicalJson({ a: [1, { b: [0, NaN] }] }), /\$\.a\[1\]\.b\[1\] is NaN/);
    assert.throws(() => canonicalJson(["x", Infinity]), /\$\[1\] is Infinity/);
    // A hole is not a scalar: the list is written item by item, and the hole refused.
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    assert.throws(() => canonicalJson([1, , 2]), /\$\[1\] is undefined/);
  });
  it("equal values give equal text whatever their key order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        assert.equal(canonicalJson(reversed), canonicalJson(o));
      }),
    );
  });
  it("writes keys sorted by code unit (not as objects enumerate them), no spaces (property)", () => {
    /** The definition, written plainly: an oracle for the writer's faster form. */
    const oracle = (v: Json): string =>
      Array.isArray(v)
        ? `[${v.map(oracle).join(",")}]`
        : v !== null && typeof v === "object"
          ? `{${Object.keys(v)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${oracle(v[k]!)}`)
              .join(",")}}`
          : JSON.stringify(v);
    fc.assert(
      fc.property(fc.jsonValue(), (v) => assert.equal(canonicalJson(v), oracle(v as Json))),
      { numRuns: 500 },
    );
    assert.equal(canonicalJson({ "0": false, "": null, b: [] }), '{"":null,"0":false,"b":[]}');
  });
  it("sameJson tells a list from its prefix and an object from its part, either way round (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1 }),
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }),
        (xs, o) => {
          const prefix = xs.slice(0, -1);
          const part = Object.fromEntries(Object.entries(o).slice(1));
          for (const [a, b] of [
            [prefix, xs],
            [{ m: prefix }, { m: xs }],
            [part, o],
            [[part], [o]],
          ] as const) {
            assert.equal(sameJson(a, b), false, JSON.stringify([a, b]));
            assert.equal(sameJson(b, a), false, JSON.stringify([b, a]));
          }
          assert.ok(sameJson(JSON.parse(JSON.stringify(xs)), xs));
        },
      ),
      { numRuns: 300 },
    );
    // A key that objects inherit (`__proto__`, a name users may write) is not a member of the other;
    // a list is not the scalar it would loosely equal.
    const proto = JSON.parse('{"__proto__": {}}') as unknown;
    for (const [a, b] of [
      [proto, { x: 1 }],
      [[1], 1],
      [["a"], "a"],
      [{}, "[object Object]"],
      [[], ""],
    ] as const) {
      assert.equal(sameJson(a, b), false, JSON.stringify([a, b]));
      assert.equal(sameJson(b, a), false, JSON.stringify([b, a]));
    }
  });
  it("sameJson(a, b) holds exactly when a and b have the same canonical text (property)", () => {
    /** `v` with one of its leaves replaced (`at` picks which), or `v` itself. */
    const mutated = (v: Json, at: number, by: Json): Json => {
      let n = at;
      const walk = (x: Json): Json => {
        if (x === null || typeof x !== "object") return n-- === 0 ? by : x;
        if (Array.isArray(x)) return x.map(walk);
        const entries = Object.entries(x).map(([k, y]) => [k, walk(y)] as const);
        return Object.fromEntries(n % 2 ? entries.reverse() : entries);
      };
      return walk(v);
    };
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(20), fc.jsonValue({ maxDepth: 1 }), (v, at, by) => {
        const w = mutated(v as Json, at, by as Json);
        assert.equal(sameJson(v, w), canonicalJson(v) === canonicalJson(w));
        assert.ok(sameJson(v, JSON.parse(JSON.stringify(v))));
      }),
      { numRuns: 500 },
    );
    // What canonical JSON refuses or cannot tell apart is never "the same".
    assert.equal(sameJson({ a: undefined }, { a: undefined }), false);
    assert.equal(sameJson([NaN], [NaN]), false);
    assert.equal(sameJson({ a: new Date(0) }, { a: new Date(0) }), false);
    assert.equal(sameJson({ a: 1 }, { b: 1 }), false);
    assert.equal(sameJson({ a: 1 }, { a: 1, b: undefined }), false);
    const holey: unknown[] = new Array(3);
    holey[0] = 1;
    holey[2] = 2;
    assert.equal(sameJson(holey, [1, undefined, 2]), false);
    assert.equal(sameJson([1, undefined, 2], holey), false);
    assert.ok(sameJson({ x: -0, y: [1, { z: "s" }] }, { y: [1, { z: "s" }], x: 0 }));
  });
});

describe("artifact codec", () => {
  it("round-trips JSON values and typed arrays of every dtype", () => {
    const v: Value = {
      name: "t",
      list: [1, "x", null, true],
      f32: new Float32Array([1.5, -2, 3e-8]),
      f64: new Float64Array([Math.PI, -0.5]),
      i32: new Int32Array([1, -2, 2 ** 31 - 1]),
      u8: new Uint8Array([0, 255]),
      nested: {
        i16: new Int16Array([-3]),
        u16: new Uint16Array([65535]),
        i8: new Int8Array([-128]),
        u32: new Uint32Array([2 ** 32 - 1]),
      },
    };
    const back = decode(encode(v)) as Record<string, unknown>;
    assert.deepEqual(back, v);
    assert.ok(back.f32 instanceof Float32Array);
  });

  it("same value, same bytes: key order does not matter", () => {
    const a = encode({ x: new Float64Array([1, 2]), y: "s" });
    const b = encode({ y: "s", x: new Float64Array([1, 2]) });
    assert.deepEqual(a, b);
  });

  it("writes every NaN as one NaN, so payload bits cannot change a digest", () => {
    const odd = new Float32Array(new Uint32Array([0x7fc00001, 0xffc00000]).buffer);
    const plain = new Float32Array([NaN, NaN]);
    assert.equal(digestOf(encode({ a: odd })), digestOf(encode({ a: plain })));
  });

  it("sections are 8-byte aligned, so decoding needs no copy", () => {
    const bytes = encode({ s: "odd length header!", a: new Float64Array([1, 2, 3]) });
    const aligned = new Uint8Array(new ArrayBuffer(bytes.length));
    aligned.set(bytes);
    const v = decode(aligned) as { a: Float64Array };
    assert.equal(v.a.buffer, aligned.buffer);
  });

  it("parses a large header run by run, and copies sections out so the bytes can go", () => {
    const cells = Array.from({ length: 100_000 }, (_, i) => (i % 5 ? `cell ${i} ✓` : ""));
    const value: Value = { x: new Float64Array([1, 2, 3]), t: { values: cells } };
    const bytes = encode(value);
    assert.ok(bytes.readUInt32LE(8) > 2 ** 20, "a header above the whole-header limit");
    const back = decode(bytes) as { t: { values: string[] }; x: Float64Array };
    assert.deepEqual(back, value);
    assert.deepEqual(
      Object.keys(back),
      ["t", "x"],
      "the header's sorted order, as JSON.parse gives",
    );
    assert.notEqual(back.x.buffer, bytes.buffer);
    assert.throws(
      () => decode(Buffer.concat([bytes.subarray(0, 17), Buffer.from("!"), bytes.subarray(18)])),
      (e: unknown) => e instanceof CodecError && /header is not JSON/.test((e as Error).message),
    );
  });
  it("decodes lent bytes into values of their own: changing the bytes afterwards changes nothing", () => {
    const value: Value = {
      a: new Float64Array([1.5, -2, 3]),
      b: new Uint8Array([1, 2, 3, 4, 5]),
      t: { values: ["x", "ÿ", ""] },
    };
    const bytes = encode(value);
    const lent = new Uint8Array(new ArrayBuffer(bytes.length));
    lent.set(bytes);
    const back = decode(lent, { borrowed: true }) as { a: Float64Array; b: Uint8Array };
    assert.notEqual(back.a.buffer, lent.buffer);
    assert.notEqual(back.b.buffer, lent.buffer);
    lent.fill(0xee);
    assert.deepEqual(back, value);
  });

  it("decodes from unaligned memory by copying", () => {
    const bytes = encode({ a: new Float64Array([1, 2, 3]) });
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    assert.deepEqual((decode(unaligned) as { a: Float64Array }).a, new Float64Array([1, 2, 3]));
  });

  it("rejects foreign or truncated bytes", () => {
    assert.throws(() => decode(Buffer.from("hello world, not an artifact")), /bad magic/);
    const bytes = encode({ a: new Float64Array([1, 2, 3]) });
    assert.throws(() => decode(bytes.subarray(0, bytes.length - 8)), /does not match its header/);
  });

  it("refuses the reserved key", () => {
    assert.throws(() => encode({ $section: 1 }), /reserved/);
  });

  it("keeps a __proto__ key as data", () => {
    const v = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as Value;
    assert.deepEqual(decode(encode(v)), v);
  });

  // Values as artifacts hold them: objects of typed arrays and JSON, nested (a trained model's weights).
  const { artifact } = fc.letrec<{ artifact: Value }>((tie) => ({
    artifact: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.oneof(
        fc.string(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
      ),
      fc.float32Array({ maxLength: 5 }),
      fc.float64Array({ maxLength: 5 }),
      fc.int32Array({ maxLength: 5 }),
      fc.uint8Array({ maxLength: 5 }),
      fc.array(tie("artifact"), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 4 }), tie("artifact"), { maxKeys: 5 }),
    ) as fc.Arbitrary<Value>,
  }));

  it("numbers sections in the writer's key order, and decodes objects in the header's sorted order", () => {
    // The documented caveat (see codec.ts): the insertion order of several typed arrays is part of
    // the bytes. Decoding in sorted order is what every recorded artifact was made with: bucket
    // spreads its decoded input and adds `batches`, so its bytes follow from this order. Decoding
    // in the writer's order moved bucket's bytes under unchanged keys (spam.lock, --frozen).
    const [w, b, c] = [new Float32Array([1]), new Float32Array([2]), new Int32Array([3])];
    const wb = encode({ w, b });
    const bw = encode({ b, w });
    assert.notDeepEqual(wb, bw);
    assert.deepEqual(Object.keys(decode(wb) as object), ["b", "w"]);
    assert.deepEqual(Object.keys(decode(bw) as object), ["b", "w"]);
    const spread = { ...(decode(wb) as Record<string, Value>), c };
    assert.deepEqual(encode(spread), encode({ b, w, c }));
    assert.notDeepEqual(encode(spread), encode({ w, b, c }));
  });

  it("decoding then encoding reaches a fixed point after one round (property)", () => {
    fc.assert(
      fc.property(artifact, (v) => {
        const once = encode(decode(encode(v)));
        assert.deepEqual(encode(decode(once)), once);
        assert.deepEqual(decode(once), decode(encode(v)));
      }),
    );
  });

  it("writes the header as the canonical JSON of the value, multi-byte text and long lists too", () => {
    const header = (b: Buffer) => b.toString("utf8", 12, 12 + b.readUInt32LE(8));
    fc.assert(
      fc.property(fc.jsonValue(), (j) =>
        assert.equal(header(encode(j as Value)), canonicalJson(j)),
      ),
    );
    // A table-like value: a column of 10,000 strings with empty, non-ASCII and huge cells, beside
    // a section (so the sections start where the measured header says).
    const cells = Array.from({ length: 10_000 }, (_, i) =>
      i % 997 === 0 ? "x".repeat(100_000) : i % 3 === 0 ? "" : `héllo ✓ 𝄞 ${i}`,
    );
    const value: Value = { columns: [{ name: "t", values: cells }], n: new Float64Array([1, 2]) };
    const bytes = encode(value);
    assert.equal(
      header(bytes),
      canonicalJson({ columns: [{ name: "t", values: cells }], n: {} }).replace(
        '"n":{}',
        '"n":{"$section":0,"dtype":"f64","length":2}',
      ),
    );
    assert.deepEqual(decode(bytes), value);
  });
  it("round-trips arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (j) =>
        assert.deepEqual(decode(encode(j as Value)), JSON.parse(canonicalJson(j))),
      ),
    );
  });

  it("writes zeros in every padding byte (its buffer is not zeroed first)", () => {
    // Dirty memory for the allocator to hand back: buffers of the sizes encoded here, filled, freed.
    for (let i = 0; i < 64; i++) Buffer.allocUnsafeSlow(64 + i * 8).fill(0xff);
    const sections = fc.oneof(
      fc.float32Array({ maxLength: 9 }),
      fc.int16Array({ maxLength: 9 }),
      fc.uint8Array({ maxLength: 13 }),
    );
    fc.assert(
      fc.property(fc.string(), fc.array(sections, { maxLength: 4 }), (name, arrays) => {
        const bytes = encode({ name, arrays });
        const headerLength = bytes.readUInt32LE(8);
        let at = 12 + headerLength;
        const zeros = (from: number, to: number) => {
          for (let i = from; i < to; i++) assert.equal(bytes[i], 0, `byte ${i} of ${bytes.length}`);
        };
        const headerEnd = at + ((8 - (at % 8)) % 8);
        zeros(at, headerEnd);
        at = headerEnd;
        for (const a of arrays) {
          const end = at + a.byteLength;
          at = end + ((8 - (end % 8)) % 8);
          zeros(end, at);
        }
        assert.equal(at, bytes.length);
      }),
      { numRuns: 300 },
    );
  });

  it("gives back lists as it writes them, with the same bytes, and only lists held once", () => {
    // Tables whose columns may share one array (within an artifact and across two), as a kind's
    // outputs may: a shared list is written whole every time, a list held once is emptied.
    const column = fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), {
      maxLength: 9000,
    });
    fc.assert(
      fc.property(
        fc.array(column, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 20_000 }),
        (lists, pickA, pickB, every) => {
          const table = (picks: number[]) => ({
            type: "table",
            columns: picks.map((p, i) => ({ name: `c${i}`, values: lists[p % lists.length]! })),
          });
          const values: Value[] = [table(pickA), table(pickB)] as unknown as Value[];
          const expected = values.map((v) => Buffer.from(encode(v)));
          const copies = lists.map((l) => [...l]);
          const once = listsHeldOnce(values);
          let collections = 0;
          const release: Release = { lists: once, from: 0, every, collect: () => collections++ };
          const got = values.map((v) => encode(v, release));
          got.forEach((b, i) => assert.ok(b.equals(expected[i]!), `artifact ${i} changed`));
          const uses = (l: unknown[]) =>
            [...pickA, ...pickB].filter((p) => lists[p % lists.length] === l).length;
          lists.forEach((l, i) => {
            if (uses(l) === 1) {
              assert.ok(once.has(l));
              assert.ok(
                l.every((x) => x === null),
                "a list held once is emptied",
              );
            } else {
              assert.ok(!once.has(l));
              assert.deepEqual(l, copies[i], "a shared or unused list is left whole");
            }
          });
          if (every > 0 && expected.some((b) => b.readUInt32LE(8) >= every))
            assert.ok(collections > 0, "collected while writing");
        },
      ),
      // A failure shows at once: shrinking lists of thousands of items takes minutes.
      { numRuns: 150, endOnFailure: true },
    );
  });

  it("gives back nothing under `from` bytes of header, nor a frozen list", () => {
    const frozen = Object.freeze(["a", "b"]) as unknown as string[];
    const held = ["c", "d"];
    const value = { frozen, held } as unknown as Value;
    const once = listsHeldOnce([value]);
    assert.ok(!once.has(frozen) && once.has(held));
    // A list another holder has (a stage's parameters), at any depth, is not the value's to empty.
    assert.ok(!listsHeldOnce([value], [{ deep: [{ list: held }] }]).has(held));
    assert.ok(listsHeldOnce([value], [{ other: ["c", "d"] }]).has(held));
    let collections = 0;
    const release = { lists: once, every: 1, collect: () => collections++ };
    encode(value, { ...release, from: 10_000 });
    assert.deepEqual(held, ["c", "d"]);
    assert.equal(collections, 0);
    encode(value, { ...release, from: 0 });
    assert.deepEqual(held, [null, null]);
    assert.deepEqual(frozen, ["a", "b"]);
    assert.ok(collections > 0);
  });
});
