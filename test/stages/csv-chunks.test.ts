import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseWhole } from "csv-parse/sync";
import fc from "fast-check";
import { DiagnosticError } from "../../src/core/diagnostic.js";
import { encode, type Value } from "../../src/core/codec.js";
import { FieldCells, MISSING } from "../../src/data/cells.js";
import {
  buildTable,
  CHUNK_BYTES,
  type ColumnType,
  cellsOfRows,
  type Encoding,
  readText,
  readTextChunks,
  type TableCells,
} from "../../src/data/read.js";
import { cellsOfFields, csvOptions, parseCsvFile } from "../../src/kinds/load-csv.js";
import { tempDir } from "../helpers.js";
import { col, runKind } from "./helpers.js";

/** Issue 17.2: load.csv parses a file a chunk at a time, never holding it whole, to the same end. */

/** What a read or parse gave: its value, or its error as users (or load.csv) see it. */
async function outcome<T>(f: () => T | Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await f() };
  } catch (e) {
    return { error: described(e) };
  }
}

function described(e: unknown): unknown {
  if (e instanceof DiagnosticError) return e.diagnostics;
  const { code, message, lines } = e as { code?: string; message: string; lines?: number };
  return { code, message, lines };
}

const utf8Bom = [0xef, 0xbb, 0xbf];

describe("readTextChunks", () => {
  const dir = tempDir();
  const file = join(dir, "bytes.txt");

  // Whole characters of every length, byte order marks, newlines, and bytes that are not UTF-8:
  // lone continuation bytes, sequences cut short, a surrogate, an overlong form, 0xff.
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("a", "\n", "é", "€", "😀", "\uFEFF").map(utf8) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        [0x80],
        [0xc3],
        [0xe2, 0x82],
        [0xf0, 0x9f, 0x98],
        [0xed, 0xa0, 0x80],
        [0xc0, 0x80],
        [0xff],
      ),
    },
  );
  const bytes = fc
    .tuple(fc.boolean(), fc.array(piece, { maxLength: 40 }))
    .map(([bom, pieces]) => Buffer.from([...(bom ? utf8Bom : []), ...pieces.flat()]));

  it("gives readText's text as UTF-8, or its error, for any bytes and chunk size", async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes,
        fc.integer({ min: 1, max: 48 }),
        fc.constantFrom<Encoding>("utf8", "latin1"),
        async (b, size, encoding) => {
          writeFileSync(file, b);
          assert.deepEqual(
            await outcome(() => Buffer.concat([...readTextChunks(file, encoding, size)])),
            await outcome(() => Buffer.from(readText(file, encoding))),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("chunks end between characters", () => {
    writeFileSync(file, "a😀é€\n😀");
    for (let size = 1; size <= 5; size++)
      for (const chunk of readTextChunks(file, "utf8", size))
        assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(chunk));
  });
});

describe("load.csv parsed in chunks", () => {
  const dir = tempDir();
  const file = join(dir, "random.csv");

  /** load.csv's parse before chunks: the whole file, one BOM off, through csv-parse at once. */
  function parsedWhole(path: string, delimiter: string): string[][] {
    const records: string[][] = [];
    const bytes = readFileSync(path);
    const bom = utf8Bom.every((b, i) => bytes[i] === b);
    parseWhole(bom ? bytes.subarray(3) : bytes, {
      ...csvOptions(delimiter),
      on_record: (record: string[]) => {
        records.push(record);
        return null;
      },
    });
    return records;
  }

  async function parsedInChunks(path: string, delimiter: string, size: number) {
    const { header, fields } = await parseCsvFile(path, "utf8", delimiter, size);
    const rows = fields[0]?.length ?? 0;
    const texts = fields.map((f) => f.texts());
    const records = Array.from({ length: rows }, (_, r) => texts.map((f) => f[r]!));
    return header ? [header, ...records] : [];
  }

  const delimiter = fc.constantFrom(",", ";", "\t");
  /** Text a field may hold: delimiters, quotes, line ends, characters of every length, a BOM. */
  const text = fc
    .array(
      fc.constantFrom("a", "b", " ", ",", ";", "\t", '"', "\n", "\r\n", "é", "中", "😀", "\uFEFF"),
      {
        maxLength: 6,
      },
    )
    .map((cs) => cs.join(""));
  /** A field as a file holds it: quoted (quotes doubled) when it must be, or at random; or bare. */
  const field = (d: string) =>
    fc
      .tuple(text, fc.boolean())
      .map(([t, quote]) =>
        quote || t.includes(d) || /["\r\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t,
      );
  /** A CSV file: mostly well formed (same field counts), sometimes not (a stray quote, a short row). */
  const csv = delimiter.chain((d) =>
    fc
      .record({
        width: fc.integer({ min: 1, max: 4 }),
        rows: fc.array(fc.array(field(d), { minLength: 1, maxLength: 4 }), { maxLength: 8 }),
        ragged: fc.nat(4).map((n) => n === 0),
        boms: fc.integer({ min: 0, max: 3 }),
        lineEnd: fc.constantFrom("\n", "\r\n", "\r"),
        empty: fc.array(fc.nat(8), { maxLength: 3 }),
        stray: fc.oneof(
          { weight: 4, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.nat(200) },
        ),
        last: fc.boolean(),
      })
      .map((g) => {
        const rows = g.rows.map((r) =>
          g.ragged ? r : Array.from({ length: g.width }, (_, i) => r[i] ?? r[0]!),
        );
        const lines = rows.map((r) => r.join(d));
        for (const at of g.empty) lines.splice(Math.min(at, lines.length), 0, "");
        let body = lines.join(g.lineEnd) + (g.last ? g.lineEnd : "");
        if (g.stray !== undefined) {
          const at = g.stray % (body.length + 1);
          body = `${body.slice(0, at)}"${body.slice(at)}`;
        }
        return { delimiter: d, content: "\uFEFF".repeat(g.boms) + body };
      }),
  );

  it("gives the records, or the error, of parsing the whole file, for any chunk size", async () => {
    await fc.assert(
      fc.asyncProperty(
        csv,
        fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 400 })),
        async ({ delimiter, content }, size) => {
          writeFileSync(file, content);
          assert.deepEqual(
            await outcome(() => parsedInChunks(file, delimiter, size)),
            await outcome(() => parsedWhole(file, delimiter)),
          );
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("a character split by the default chunk's end loads; invalid UTF-8 there is today's error", async () => {
    // The 4-byte character's first byte is the chunk's last.
    const lead = Buffer.from("x\n" + "y\n".repeat((CHUNK_BYTES - 4) / 2) + "z");
    writeFileSync(join(dir, "split.csv"), Buffer.concat([lead, Buffer.from("😀\nw\n")]));
    const { out } = await runKind("load.csv", dir, {}, { path: "split.csv" });
    assert.deepEqual(col(out!, "x").slice(-2), ["z😀", "w"]);

    // The same place, a 3-byte sequence whose third byte is not a continuation.
    const bad = join(dir, "bad.csv");
    writeFileSync(
      bad,
      Buffer.concat([lead, Buffer.from([0xe2, 0x82, 0x41]), Buffer.from("\nw\n")]),
    );
    const d = await outcome(() => runKind("load.csv", dir, {}, { path: "bad.csv" }));
    assert.deepEqual(d, await outcome(() => readText(bad, "utf8")));
    assert.match(JSON.stringify(d), new RegExp(`invalid UTF-8 on line ${CHUNK_BYTES / 2}\\b`));
  });
});

function utf8(s: string): number[] {
  return [...Buffer.from(s)];
}

describe("load.csv's numeric fields kept as numbers", () => {
  /** Cells of every kind a numeric column meets: spellings String() does not give back, missing
   * tokens, words, numbers too large for a double, white space around. */
  const cell = fc.oneof(
    fc.double({ noNaN: true }).map(String),
    fc.integer().map(String),
    fc.constantFrom("0.50", "-0", "+5", ".5", "5.", "1e3", "1E-7", " 7", "7\u00a0", "\u30007"),
    fc.constantFrom(...MISSING, "1e999", "-1e400", "0x10", "1_000", "Infinity", "n/a", " NA"),
    fc.string({ maxLength: 3 }),
  );
  /** The cells as load.csv gathers them (FieldCells), and as a list per row (load.jsonl's way). */
  const gathered = (columns: string[][]) => {
    const fields = columns.map((cells) => {
      const f = new FieldCells();
      for (const c of cells) f.push(c);
      return f;
    });
    return cellsOfFields(fields);
  };
  const built = (header: string[], cells: TableCells, types: Record<string, ColumnType>) =>
    outcome(() =>
      buildTable(header, cells, {
        file: "t.csv",
        text: () => "",
        place: (row) => ({ line: row + 2 }),
        columns: [...header, header[0]!],
        types,
      }),
    );

  it("builds the table buildTable builds from the strings, or gives its error (property)", async () => {
    // Columns mostly numeric (a few other cells at random places), some forced to a type.
    const column = (rows: number) =>
      fc.oneof(
        fc.array(cell, { minLength: rows, maxLength: rows }),
        fc
          .tuple(fc.array(fc.double({ noNaN: true }), { minLength: rows, maxLength: rows }), cell)
          .map(([xs, odd]) => xs.map((x, i) => (i === rows >> 1 ? odd : String(x)))),
      );
    const table = fc.integer({ min: 1, max: 40 }).chain((rows) =>
      fc.record({
        columns: fc.array(column(rows), { minLength: 1, maxLength: 3 }),
        types: fc.array(fc.constantFrom<ColumnType | undefined>("string", "number", undefined), {
          minLength: 3,
          maxLength: 3,
        }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(table, async ({ columns, types }) => {
        const header = columns.map((_, i) => `c${i}`);
        const forced = Object.fromEntries(
          header.flatMap((h, i) => (types[i] ? [[h, types[i]!]] : [])),
        );
        const rows = columns[0]!.map((_, r) => columns.map((c) => c[r]!));
        const expected = await built(header, cellsOfRows(rows), forced);
        const got = await built(header, gathered(columns), forced);
        assert.deepEqual(got, expected);
        // Bit for bit (deepEqual takes -0 for 0): the artifact's bytes.
        if ("value" in got && "value" in expected)
          assert.ok(
            encode(got.value as unknown as Value).equals(
              encode(expected.value as unknown as Value),
            ),
          );
        // Every cell's text comes back as it was.
        columns.forEach((cells) => {
          const f = new FieldCells();
          for (const c of cells) f.push(c);
          assert.deepEqual(f.texts(), cells);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it("turns to strings once odd spellings are a quarter of a long field, with the same table (property)", async () => {
    // Hundreds of rows (the turn is checked from 256 on): numbers with two decimals ("12.30" is
    // not String(12.3)) at some share, the others plain.
    const field = fc
      .tuple(fc.integer({ min: 256, max: 700 }), fc.double({ min: 0, max: 1 }), fc.nat())
      .map(([rows, share, seed]) =>
        Array.from({ length: rows }, (_, i) => {
          const x = ((i * 7919 + seed) % 10_000) / 100;
          return (i * 0.618) % 1 < share ? x.toFixed(2) : String(x);
        }),
      );
    await fc.assert(
      fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 2 }), async (columns) => {
        const rows = Math.min(...columns.map((c) => c.length));
        const cut = columns.map((c) => c.slice(0, rows));
        const header = cut.map((_, i) => `c${i}`);
        const expected = await built(
          header,
          cellsOfRows(cut[0]!.map((_, r) => cut.map((c) => c[r]!))),
          {},
        );
        const got = await built(header, gathered(cut), {});
        assert.deepEqual(got, expected);
        if ("value" in got && "value" in expected)
          assert.ok(
            encode(got.value as unknown as Value).equals(
              encode(expected.value as unknown as Value),
            ),
          );
      }),
      { numRuns: 60 },
    );
    const fixed = new FieldCells();
    const cells = Array.from({ length: 1000 }, (_, i) => (i / 10).toFixed(2));
    for (const c of cells) fixed.push(c);
    assert.equal(fixed.values(), undefined, "held as strings");
    assert.deepEqual(fixed.texts(), cells);
  });

  it("holds a numeric field's cells as numbers, and its odd spellings alone as text", () => {
    const f = new FieldCells();
    for (let i = 0; i < 10_000; i++) f.push(String(i / 8));
    f.push("0.50");
    assert.deepEqual(f.values()!.subarray(0, 3), Float64Array.of(0, 0.125, 0.25));
    assert.equal(f.texts().at(-1), "0.50");
    assert.equal((f as unknown as { spelled: Map<number, string> }).spelled.size, 1);
    assert.equal((f as unknown as { strings: string[] }).strings.length, 0);
  });
});
