import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rowCount, type Table } from "../../src/artifacts/table.js";
import fc from "fast-check";
import { codePoints, collapseSpaces } from "../../src/kinds/clean.js";
import { allocate } from "../../src/data/shuffle.js";
import { col, runKind, table } from "./helpers.js";

const texts = table(
  {
    text: ["  Hello  World ", "hello world", "", "Ｆｕｌｌ", "ok", "a much longer line"],
    label: ["a", "a", "b", "b", "c", "a"],
  },
  { text: "text", label: "label" },
);
const bundle = (t: Record<string, Table>) => new Map(Object.entries(t));

describe("clean", () => {
  it("trims, lower-cases, normalises and collapses white space, then drops empty rows", async () => {
    const { out } = await runKind(
      "clean",
      ".",
      { data: bundle({ out: texts }) },
      { lowercase: true, normalize: "NFKC", collapseSpaces: true },
    );
    assert.deepEqual(col(out!, "text"), [
      "hello world",
      "hello world",
      "full",
      "ok",
      "a much longer line",
    ]);
    assert.deepEqual(
      col(out!, "label"),
      ["a", "a", "b", "c", "a"],
      "other columns follow their rows",
    );
  });

  it("collapses white space exactly as replacing every run with one space does, and keeps a string with nothing to collapse (property)", () => {
    const spaces = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2028", "\u3000", "\ufeff"];
    const piece = fc.oneof(
      fc.constantFrom(...spaces),
      fc.string(),
      fc.constantFrom("a", "é", "😀"),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const s = pieces.join("");
        assert.equal(collapseSpaces(s), s.replace(/\s+/g, " "));
      }),
      { numRuns: 2000 },
    );
  });

  it("counts a text's characters as [...s] does: surrogate pairs as one, lone surrogates too (property)", () => {
    const piece = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme" }),
      fc.constantFrom("\ud800", "\udc00", "\ud83d\ude00", "\udc00\ud800", "\ud800\ud800\udc00"),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const s = pieces.join("");
        assert.equal(codePoints(s), [...s].length);
      }),
      { numRuns: 3000 },
    );
  });

  it("drops rows by their text's length in characters, not UTF-16 units", async () => {
    const { out } = await runKind(
      "clean",
      ".",
      { data: bundle({ out: table({ text: ["😀😀", "abc", "", "a\ud800"] }, { text: "text" }) }) },
      { minLength: 2, maxLength: 2 },
    );
    assert.deepEqual(col(out!, "text"), ["😀😀", "a\ud800"]);
  });

  it("dedupes on the cleaned text, keeping the first", async () => {
    const { out } = await runKind(
      "clean",
      ".",
      { data: bundle({ out: texts }) },
      { lowercase: true, collapseSpaces: true, dedupe: true },
    );
    assert.deepEqual(col(out!, "text"), ["hello world", "ｆｕｌｌ", "ok", "a much longer line"]);
  });

  it("filters by length (in characters) and by label", async () => {
    const byLength = await runKind(
      "clean",
      ".",
      { data: bundle({ out: texts }) },
      { minLength: 3, maxLength: 11 },
    );
    assert.deepEqual(col(byLength.out!, "text"), ["hello world", "Ｆｕｌｌ"]);
    const keep = await runKind(
      "clean",
      ".",
      { data: bundle({ out: texts }) },
      { keepLabels: ["a"] },
    );
    assert.deepEqual(col(keep.out!, "label"), ["a", "a", "a"]);
    const drop = await runKind(
      "clean",
      ".",
      { data: bundle({ out: texts }) },
      { dropLabels: ["a", "b"], dropEmpty: false },
    );
    assert.deepEqual(col(drop.out!, "text"), ["ok"]);
  });

  it("drops rows with a missing value when asked", async () => {
    const t = table({ x: [1, NaN, 3], s: ["a", "b", ""] });
    const { out } = await runKind(
      "clean",
      ".",
      { data: bundle({ out: t }) },
      { dropMissing: true, dropEmpty: false },
    );
    assert.deepEqual(col(out!, "x"), [1]);
  });

  it("scales a split with statistics of the fit part only", async () => {
    const parts = { train: table({ x: [1, 2, 3] }), test: table({ x: [10, 20] }) };
    const z = await runKind(
      "clean",
      ".",
      { data: bundle(parts) },
      { scale: "zscore", fit: "train" },
    );
    const sd = Math.sqrt(2 / 3);
    assert.deepEqual(col(z.train!, "x"), [-1 / sd, 0, 1 / sd]);
    assert.deepEqual(col(z.test!, "x"), [(10 - 2) / sd, (20 - 2) / sd]);
    assert.deepEqual(z.test!.scaling, { x: { method: "zscore", center: 2, scale: sd } });
    const mm = await runKind(
      "clean",
      ".",
      { data: bundle(parts) },
      { scale: "minmax", fit: "train" },
    );
    assert.deepEqual(col(mm.test!, "x"), [4.5, 9.5]);
  });

  it("fits on train by default, and refuses to guess among other parts", async () => {
    await assert.rejects(
      runKind(
        "clean",
        ".",
        { data: bundle({ a: table({ x: [1] }), b: table({ x: [2] }) }) },
        { scale: "zscore" },
      ),
      /needs `fit`/,
    );
    const byDefault = await runKind(
      "clean",
      ".",
      { data: bundle({ train: table({ x: [1, 3] }), test: table({ x: [2] }) }) },
      { scale: "minmax" },
    );
    assert.deepEqual(col(byDefault.test!, "x"), [0.5], "fitted on train when there is one");
  });
});

describe("split", () => {
  const n = 103;
  const data = table(
    {
      id: Array.from({ length: n }, (_, i) => i),
      label: Array.from({ length: n }, (_, i) => (i % 10 < 7 ? "maj" : "min")),
    },
    { label: "label" },
  );
  const ids = (t: Table) => col(t, "id") as number[];

  it("partitions every row exactly once, in original order, by the fractions", async () => {
    const parts = await runKind("split", ".", { data }, { train: 0.8, val: 0.1, test: 0.1 }, 7);
    const all = [...ids(parts.train!), ...ids(parts.val!), ...ids(parts.test!)].sort(
      (a, b) => a - b,
    );
    assert.deepEqual(
      all,
      Array.from({ length: n }, (_, i) => i),
    );
    assert.deepEqual(
      [rowCount(parts.train!), rowCount(parts.val!), rowCount(parts.test!)],
      allocate(n, [0.8, 0.1, 0.1]),
    );
    const train = ids(parts.train!);
    assert.deepEqual(
      train,
      [...train].sort((a, b) => a - b),
    );
  });

  it("is a function of the seed", async () => {
    const a = await runKind("split", ".", { data }, {}, 7);
    const b = await runKind("split", ".", { data }, {}, 7);
    const c = await runKind("split", ".", { data }, {}, 8);
    assert.deepEqual(ids(a.test!), ids(b.test!));
    assert.notDeepEqual(ids(a.test!), ids(c.test!));
  });

  it("stratified: every part keeps the label shares", async () => {
    const parts = await runKind(
      "split",
      ".",
      { data },
      { train: 0.6, val: 0.2, test: 0.2, stratify: true },
      3,
    );
    for (const name of ["train", "val", "test"]) {
      const labels = col(parts[name]!, "label");
      const share = labels.filter((l) => l === "min").length / labels.length;
      assert.ok(Math.abs(share - 0.3) < 0.05, `${name}: ${share}`);
    }
  });

  it("sequential: first rows train, then val, then test", async () => {
    const parts = await runKind(
      "split",
      ".",
      { data },
      { order: "sequential", train: 0.5, val: 0.25, test: 0.25 },
    );
    assert.deepEqual(ids(parts.val!)[0], rowCount(parts.train!));
    assert.equal(ids(parts.test!).at(-1), n - 1);
  });

  it("allocate: largest remainders, always summing to n", () => {
    assert.deepEqual(allocate(10, [0.8, 0.1, 0.1]), [8, 1, 1]);
    assert.deepEqual(allocate(7, [0.5, 0.25, 0.25]), [3, 2, 2]);
    for (let m = 0; m < 50; m++)
      assert.equal(
        allocate(m, [0.7, 0.2, 0.1]).reduce((a, b) => a + b, 0),
        m,
      );
  });
});

describe("head and sample", () => {
  const t = table({ id: Array.from({ length: 20 }, (_, i) => i) });
  it("head keeps the first n rows of every part", async () => {
    const out = await runKind("head", ".", { data: bundle({ a: t, b: t }) }, { n: 3 });
    assert.deepEqual(col(out.a!, "id"), [0, 1, 2]);
    assert.deepEqual(col(out.b!, "id"), [0, 1, 2]);
  });
  it("sample is seeded, without replacement, in original order", async () => {
    const a = await runKind("sample", ".", { data: bundle({ out: t }) }, { n: 5 }, 1);
    const b = await runKind("sample", ".", { data: bundle({ out: t }) }, { n: 5 }, 1);
    const ids = col(a.out!, "id") as number[];
    assert.deepEqual(ids, col(b.out!, "id"));
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => x - y),
    );
    const f = await runKind("sample", ".", { data: bundle({ out: t }) }, { fraction: 0.25 }, 1);
    assert.equal(rowCount(f.out!), 5);
  });
});
