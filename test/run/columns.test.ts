import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Artifact } from "../../src/artifacts/index.js";
import {
  asStrings,
  column,
  type ColumnReads,
  isUnread,
  rowCount,
  type Table,
} from "../../src/artifacts/table.js";
import type { AnyKind } from "../../src/stages/kind.js";
import { kinds } from "../../src/kinds/registry.js";
import {
  type ColumnPick,
  decodeArtifact,
  encodeArtifact,
  readInput,
} from "../../src/run/artifacts.js";
import { runIn, tempDir, writeFiles } from "../helpers.js";
import { runKind, table, withDefaults } from "../stages/helpers.js";

/**
 * A kind that declares what it reads of a table (KindDef.reads) gets only those columns decoded:
 * its outputs must be the bytes it gives with whole tables, and a read of another column must throw.
 */

const window = kinds.get("window") as AnyKind;

/** Each part's bytes, as the cache holds them. */
const encoded = (parts: ReadonlyMap<string, Table>) =>
  [...parts].map(([name, t]) => [name, encodeArtifact(t).bytes] as const);

/** The parts decoded as the runner decodes a slot: whole, or with the columns `reads` names. */
function decoded(
  parts: readonly (readonly [string, Uint8Array])[],
  reads: ColumnReads | undefined,
  reader = "window's input `data`",
): Map<string, Table> {
  const read = parts.map(
    ([, bytes]) =>
      (pick?: ColumnPick) =>
        decodeArtifact(bytes, pick ? { pick } : {}),
  );
  const tables = readInput(read, reads, reader) as Table[];
  return new Map(parts.map(([name], i) => [name, tables[i]!]));
}

/** A run's outputs as bytes, or its refusal's message. */
async function outcome(
  kind: string,
  inputs: Record<string, unknown>,
  params: Record<string, unknown>,
): Promise<Record<string, string> | string> {
  try {
    const out = await runKind(kind, ".", inputs, params);
    return Object.fromEntries(
      Object.entries(out).map(([name, a]) => [
        name,
        Buffer.from(encodeArtifact(a as unknown as Artifact).bytes).toString("base64"),
      ]),
    );
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  }
}

const windowReads = (params: Record<string, unknown>) =>
  window.reads!.data!(withDefaults("window", params));

describe("window reads only the columns it declares", () => {
  // Cells that look like JSON structure, escapes, astral characters, empty cells.
  const text = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.constantFrom("", '"],["', "\\", "a,b", "𝄞 é", "\u2028", '{"x":[1]}', "\u0000"),
  );
  const scenario = fc.record({
    n: fc.integer({ min: 8, max: 60 }),
    series: fc.integer({ min: 1, max: 3 }),
    interleaved: fc.boolean(),
    roles: fc.record({
      series: fc.boolean(),
      time: fc.boolean(),
      label: fc.boolean(),
    }),
    texts: fc.array(text, { minLength: 60, maxLength: 60 }),
    missing: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 59 }), { maxLength: 4 }) },
    ),
    split: fc.constantFrom("none", "sequential"),
    length: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 2 }),
    horizon: fc.integer({ min: 0, max: 2 }),
    task: fc.constantFrom("forecast", "classify"),
    features: fc.constantFrom(undefined, ["a"], ["a", "b"], ["b"]),
    categorical: fc.constantFrom(undefined, ["cat"], ["label"]),
    targets: fc.constantFrom(undefined, ["a"]),
    groupBy: fc.constantFrom(undefined, "s"),
    normalize: fc.constantFrom("none", "zscore", "minmax"),
    gaps: fc.constantFrom("error", "split", "ignore"),
    relative: fc.boolean(),
  });

  it("gives the bytes it gives with whole tables (property: tables with text, missing values, series, times)", async () => {
    let windowed = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const seriesOf = (i: number) =>
          sc.interleaved ? i % sc.series : Math.floor((i * sc.series) / sc.n);
        const rows = Array.from({ length: sc.n }, (_, i) => i);
        const missing = new Set(sc.missing);
        const whole = table(
          {
            a: rows.map((i) => 1 + ((i * 7) % 11)),
            b: rows.map((i) => (missing.has(i) ? NaN : (i * 3) % 5)),
            text: rows.map((i) => sc.texts[i]!),
            label: rows.map((i) => ["x", "y"][(i * 5) % 3 === 0 ? 0 : 1]!),
            cat: rows.map((i) => ["p", "q", "r"][i % 3]!),
            s: rows.map((i) => `s${seriesOf(i)}`),
            // Daily, each series in its own days.
            t: rows.map((i) => Date.UTC(2000, 0, 1 + i)),
          },
          {
            text: "text",
            ...(sc.roles.label || sc.task === "classify" ? { label: "label" } : {}),
            ...(sc.roles.series ? { series: "s" } : {}),
            ...(sc.roles.time ? { time: "t" } : {}),
          },
        );
        const split = () =>
          runKind(
            "split",
            ".",
            { data: whole },
            {
              order: "sequential",
              ...(sc.roles.series ? { groupBy: "s" } : {}),
              train: 0.6,
              val: 0.2,
              test: 0.2,
            },
          );
        // A split refuses one text in two series' parts: a scenario that ends there checks nothing.
        const parts =
          sc.split === "sequential"
            ? await split().then(
                (ps) => new Map(Object.entries(ps)),
                () => undefined,
              )
            : new Map([["out", whole]]);
        if (!parts) return;
        const params = {
          length: sc.length,
          stride: sc.stride,
          horizon: sc.task === "forecast" ? Math.max(1, sc.horizon) : sc.horizon,
          task: sc.task,
          normalize: sc.normalize,
          gaps: sc.gaps,
          ...(sc.features ? { features: sc.features } : {}),
          ...(sc.categorical ? { categorical: sc.categorical } : {}),
          ...(sc.task === "forecast" && sc.targets ? { targets: sc.targets } : {}),
          ...(sc.groupBy ? { groupBy: sc.groupBy } : {}),
          ...(sc.relative && sc.task === "forecast" ? { relative: true, features: ["a"] } : {}),
        };
        const bytes = encoded(parts);
        const projected = decoded(bytes, windowReads(params));
        for (const t of projected.values()) assert.ok(isUnread(column(t, "text")));
        const expected = await outcome("window", { data: decoded(bytes, undefined) }, params);
        assert.deepEqual(await outcome("window", { data: projected }, params), expected);
        if (typeof expected !== "string") windowed++;
      }),
      { numRuns: 300 },
    );
    assert.ok(windowed >= 150, `${windowed} scenarios made windows`);
  });

  it("reads the label of the fit part in every part, even where another part names another label", async () => {
    // Named parts from two tables that disagree on their label: the one decoded first is read again.
    const of = (label: string) =>
      table(
        {
          v: [1, 2, 3, 4, 5, 6],
          a: ["x", "y", "x", "y", "x", "y"],
          b: ["y", "x", "y", "x", "y", "x"],
          text: ["one", "two", "three", "four", "five", "six"],
        },
        { label, text: "text" },
      );
    const bytes = encoded(
      new Map([
        ["test", of("b")],
        ["train", of("a")],
      ]),
    );
    const params = { length: 2, task: "classify", normalize: "none" };
    const projected = decoded(bytes, windowReads(params));
    assert.ok(!isUnread(column(projected.get("test")!, "a")), "test's column a, read again");
    assert.ok(isUnread(column(projected.get("test")!, "text")));
    const expected = await outcome("window", { data: decoded(bytes, undefined) }, params);
    assert.equal(typeof expected, "object");
    assert.deepEqual(await outcome("window", { data: projected }, params), expected);
  });
});

describe("vocabulary reads only its text column", () => {
  it("gives the bytes it gives with whole tables, the label and other strings left undecoded", async () => {
    const t = table(
      {
        body: ["Hello, world", "a [b] c", "𝄞 é", ""],
        title: ["T one", "t two", "x", "y"],
        label: ["p", "q", "p", "q"],
        n: [1, 2, 3, 4],
      },
      { text: "body", label: "label" },
    );
    const vocabulary = kinds.get("vocabulary") as AnyKind;
    for (const params of [{}, { column: "title" }, { level: "char", column: "body" }]) {
      const bytes = encodeArtifact(t).bytes;
      const reads = vocabulary.reads!.data!(withDefaults("vocabulary", params));
      const projected = decoded([["data", bytes]], reads, "vocabulary's input `data`").get("data");
      const text = "column" in params ? params.column : "body";
      assert.deepEqual(
        projected!.columns.filter((c) => !isUnread(c)).map((c) => c.name),
        [text],
      );
      assert.deepEqual(
        await outcome("vocabulary", { data: projected }, params),
        await outcome("vocabulary", { data: decodeArtifact(bytes) }, params),
      );
    }
  });
});

describe("declared columns against odd tables (helper review10's adversarial property)", () => {
  // Column names that are roles, JavaScript's own keys or repeated; parts whose roles disagree or
  // name missing columns, empty tables: window and vocabulary must give the same bytes, or the same
  // refusal, whether they get whole tables or only the columns they declare.
  const NAMES = ["a", "b", "__proto__", "label", "text", "time", "s", "constructor"] as const;
  const BASE = [
    { name: "a", num: true },
    { name: "b", num: true },
    { name: "text", num: false },
    { name: "label", num: false },
    { name: "s", num: false },
    { name: "time", num: true },
  ];
  const one = (...xs: (string | undefined)[]) => fc.constantFrom(...xs);
  const names = fc.option(
    fc.uniqueArray(fc.constantFrom("a", "b", "label", "__proto__", "s"), {
      minLength: 1,
      maxLength: 2,
    }),
    { nil: undefined },
  );
  const scenario = fc.record({
    cols: fc.array(fc.record({ name: fc.constantFrom(...NAMES), num: fc.boolean() }), {
      maxLength: 3,
    }),
    rows: fc.integer({ min: 0, max: 14 }),
    parts: fc
      .array(
        fc.record({
          name: fc.constantFrom("train", "val", "test"),
          roles: fc.record({
            text: one(undefined, "text", "label", "a", "__proto__"),
            label: one(undefined, "label", "a", "s", "b", "text"),
            time: one(undefined, undefined, undefined, "time", "a"),
            series: one(undefined, undefined, "s", "label"),
          }),
          drop: fc.option(fc.nat(4), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 3 },
      )
      .map((ps) => [{ ...ps[0]!, name: "train" }, ...ps.slice(1)]),
    features: names,
    targets: names,
    categorical: names,
    groupBy: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
    task: fc.constantFrom("forecast", "classify"),
    gaps: fc.constantFrom("error", "ignore", "split"),
    fit: one(undefined, undefined, undefined, "train", "val"),
    vocabColumn: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
  });
  type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

  /** Each distinct part as the cache holds it: the base columns and the scenario's, one dropped. */
  function partsOf(sc: Scenario): [string, Uint8Array][] {
    const parts = new Map<string, Uint8Array>();
    const day = (part: string, r: number) =>
      Date.UTC(2000, 0, 1 + r + (part === "val" ? 100 : part === "test" ? 200 : 0));
    for (const p of sc.parts) {
      if (parts.has(p.name)) continue;
      const cols = [...BASE, ...sc.cols].filter((_, i) => i !== p.drop);
      const t: Table = {
        type: "table",
        roles: Object.fromEntries(Object.entries(p.roles).filter(([, v]) => v !== undefined)),
        columns: cols.map((c, ci) => {
          const values = Array.from({ length: sc.rows }, (_, r) => r);
          if (!c.num)
            return {
              name: c.name,
              dtype: "string",
              values: values.map((r) => `v${(r * (ci + 1)) % 3}`),
            };
          const time = c.name === "time" && ci === 5;
          return {
            name: c.name,
            dtype: "number",
            values: Float64Array.from(values, (r) =>
              time ? day(p.name, r) : 1 + ((r * (ci + 3)) % 7),
            ),
          };
        }) as Table["columns"],
      };
      parts.set(p.name, encodeArtifact(t).bytes);
    }
    return [...parts];
  }

  it("window and vocabulary: the same bytes or the same refusal as with whole tables", async () => {
    const vocabulary = kinds.get("vocabulary") as AnyKind;
    let windowed = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const parts = partsOf(sc);
        const params = {
          length: 2,
          horizon: sc.task === "forecast" ? 1 : 0,
          task: sc.task,
          gaps: sc.gaps,
          ...(sc.features ? { features: sc.features } : {}),
          ...(sc.targets && sc.task === "forecast" ? { targets: sc.targets } : {}),
          ...(sc.categorical ? { categorical: sc.categorical } : {}),
          ...(sc.groupBy ? { groupBy: sc.groupBy } : {}),
          ...(sc.fit ? { fit: sc.fit } : {}),
        };
        const whole = await outcome("window", { data: decoded(parts, undefined) }, params);
        const declared = await outcome(
          "window",
          { data: decoded(parts, windowReads(params)) },
          params,
        );
        assert.deepEqual(declared, whole, JSON.stringify(sc));
        if (typeof whole !== "string") windowed++;
        const vp = sc.vocabColumn ? { column: sc.vocabColumn } : {};
        const first = parts.slice(0, 1);
        const reads = vocabulary.reads!.data!(withDefaults("vocabulary", vp));
        assert.deepEqual(
          await outcome("vocabulary", { data: decoded(first, reads).get("train") }, vp),
          await outcome("vocabulary", { data: decoded(first, undefined).get("train") }, vp),
          JSON.stringify(sc),
        );
      }),
      { numRuns: 1500 },
    );
    // Not only refusals: enough scenarios get as far as windows.
    assert.ok(windowed >= 20, `only ${windowed} of 1,500 scenarios gave windows`);
  });
});

describe("a column left undecoded", () => {
  const t = table(
    { n: [1, 2, 3], text: ["a", "]b,", '"c'], label: ["x", "y", "x"] },
    { text: "text", label: "label" },
  );
  const bytes = encodeArtifact(t).bytes;
  const pick = (names: string[]): ColumnPick => ({
    reader: "k's input `data`",
    columns: () => new Set(names),
  });

  it("keeps its name, type and row count, and throws on any read of its values", () => {
    const got = decodeArtifact(bytes, { pick: pick(["label"]) }) as Table;
    assert.deepEqual(
      got.columns.map((c) => [c.name, c.dtype, c.values.length, isUnread(c)]),
      [
        ["n", "number", 3, true],
        ["text", "string", 3, true],
        ["label", "string", 3, false],
      ],
    );
    assert.equal(rowCount(got), 3);
    assert.deepEqual(column(got, "label").values, ["x", "y", "x"]);
    assert.deepEqual(got.roles, t.roles);
    const refused =
      /^Error: internal: k's input `data` reads column "text", which it does not declare/;
    const text = column(got, "text");
    assert.throws(() => text.values[0], refused);
    assert.throws(() => [...asStrings(text)], refused);
    assert.throws(() => Array.from(text.values as string[]), refused);
    assert.throws(() => (column(got, "n").values as Float64Array)[1], /column "n"/);
    // Nor can it reach an output: encoding it throws too.
    assert.throws(() => encodeArtifact(got), /internal: k.s input `data` reads column "n"/);
  });

  it("makes a kind that reads a column it did not declare fail loudly", async () => {
    // Window classifying, told it does not read the label.
    const parts = encoded(new Map([["out", t]]));
    const params = { length: 1, task: "classify", features: ["n"], normalize: "none" };
    const reads = windowReads(params);
    const blind = { ...reads, roles: reads.roles!.filter((r) => r !== "label") };
    await assert.rejects(
      runKind("window", ".", { data: decoded(parts, blind) }, params),
      /^Error: internal: window's input `data` reads column "label"/,
    );
  });
});

describe("the runner decodes a slot with the columns its kind reads", () => {
  it("window over a sequential split: the text is never decoded, the windows are the bytes of whole tables", async () => {
    const dir = tempDir();
    const csv = ["day,price,note,sym"];
    for (let i = 0; i < 40; i++)
      csv.push(
        `2000-01-${String((i % 20) + 1).padStart(2, "0")},${10 + ((i * 7) % 13)},"n ${i}, ""q""",${i < 20 ? "A" : "B"}`,
      );
    writeFiles(dir, { "d.csv": `${csv.join("\n")}\n` });
    const source = `pipeline w {
  stage raw = load.csv(path: "d.csv", text: "note", time: "day", series: "sym")
  stage parts = split(raw, order: "sequential", groupBy: "sym", train: 0.6, val: 0.2, test: 0.2)
  stage windows = window(parts, length: 3)
}`;
    const file = join(dir, "w.rnnp");
    const original = window.run;
    const seen: boolean[] = [];
    const spy: AnyKind["run"] = (ctx, inputs, params) => {
      for (const t of (inputs.data as Map<string, Table>).values())
        seen.push(isUnread(column(t, "note")), isUnread(column(t, "price")));
      return original(ctx, inputs, params);
    };
    const runs = async (cache: string) => {
      const { results, planner, store } = await runIn(source, file, join(dir, cache));
      const windows = results.find((r) => r.name === "windows")!;
      assert.equal(windows.status, "ran", JSON.stringify(windows.diagnostics));
      const digests = planner.outputsOf("windows");
      await store.close();
      return digests;
    };
    const { reads } = window;
    try {
      window.run = spy;
      const projected = await runs("a");
      assert.deepEqual(seen, [true, false, true, false, true, false]);
      (window as { reads?: AnyKind["reads"] }).reads = undefined;
      seen.length = 0;
      assert.deepEqual(await runs("b"), projected);
      assert.deepEqual(seen, [false, false, false, false, false, false]);
    } finally {
      window.run = original;
      (window as { reads?: AnyKind["reads"] }).reads = reads;
    }
  });
});
