import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import type { Table } from "../../src/artifacts/table.js";
import { checkSource } from "../../src/lang/load.js";
import { jaccard, nearDuplicateClusters, shingles } from "../../src/data/near-duplicates.js";
import { col, ctx, runKind, table } from "./helpers.js";

const bundle = (t: Record<string, Table>) => new Map(Object.entries(t));

describe("clean: conflicting labels of duplicates (defect 7)", () => {
  const names = table(
    {
      text: ["alexis", "bob", "alexis", "jo", "jo", "jo", "kim", "kim", "ann"],
      label: ["f", "m", "m", "m", "f", "m", "f", "m", "f"],
    },
    { text: "text", label: "label" },
  );
  const clean = (params: Record<string, unknown>) =>
    runKind("clean", ".", { data: bundle({ out: names }) }, { dedupe: true, ...params });

  it("are an error by default, with counts and examples", async () => {
    await assert.rejects(clean({}), (e: Error & { hint?: string }) => {
      assert.equal(
        e.message,
        '3 texts have more than one label (f/m: 3), e.g. "alexis" (f 1, m 1), "jo" (m 2, f 1), "kim" (f 1, m 1)',
      );
      assert.match(e.hint!, /conflicts: "drop"/);
      return true;
    });
  });

  it('are settled by the declared policy: "drop", "first", "majority" (ties dropped)', async () => {
    assert.deepEqual(col((await clean({ conflicts: "drop" })).out!, "text"), ["bob", "ann"]);
    assert.deepEqual(col((await clean({ conflicts: "first" })).out!, "label"), [
      "f",
      "m",
      "m",
      "f",
      "f",
    ]);
    const majority = (await clean({ conflicts: "majority" })).out!;
    assert.deepEqual(col(majority, "text"), ["bob", "jo", "ann"]);
    assert.deepEqual(col(majority, "label"), ["m", "m", "f"]);
  });

  it("conflicts without dedupe is refused at check time", () => {
    const r = checkSource(
      'pipeline p {\n  stage raw = load.csv(path: "d.csv")\n  stage c = clean(raw, conflicts: "drop")\n}',
      "p.rnnp",
    );
    assert.equal(
      r.diagnostics[0]?.message,
      "conflicts settles the labels of duplicates: it needs dedupe: true or nearDuplicates",
    );
  });
});

describe("near-duplicates (defect 8)", () => {
  const mail =
    "Dear friend, we are pleased to offer you a great deal on all our products this week only";
  const texts = [
    mail,
    mail.replace("great", "great "), // one more space: the same words
    mail.replace("this week only", "this month only"),
    "something else entirely, about a meeting on tuesday at noon in room four",
    "something else entirely, about a meeting on tuesday at noon in room five",
    "unrelated",
  ];

  it("MinHash/LSH finds pairs by Jaccard similarity, verified exactly, with a seeded hash", () => {
    const sim = (a: string, b: string) =>
      jaccard(shingles(a, { unit: "word", size: 3 }), shingles(b, { unit: "word", size: 3 }));
    assert.equal(sim(texts[0]!, texts[1]!), 1);
    assert.ok(sim(texts[0]!, texts[2]!) > 0.7 && sim(texts[0]!, texts[2]!) < 0.9);
    const clusters = (threshold: number, seed: string) =>
      Array.from(
        nearDuplicateClusters(texts, threshold, { unit: "word", size: 3 }, seedrandom(seed)),
      );
    assert.deepEqual(clusters(0.95, "a"), [0, 0, 2, 3, 4, 5]);
    assert.deepEqual(clusters(0.7, "a"), [0, 0, 0, 3, 3, 5]);
    assert.deepEqual(clusters(0.7, "b"), clusters(0.7, "a"), "the same clusters with another seed");
  });

  it("clean(nearDuplicates) drops near-copies, keeping the first", async () => {
    const t = table(
      { text: texts, label: ["s", "s", "s", "h", "h", "h"] },
      { text: "text", label: "label" },
    );
    const out = (await runKind("clean", ".", { data: bundle({ out: t }) }, { nearDuplicates: 0.7 }))
      .out!;
    assert.deepEqual(col(out, "text"), [texts[0], texts[3], texts[5]]);
  });

  it("split(nearDuplicates) keeps each cluster in one part and says so", async () => {
    const many = Array.from(
      { length: 60 },
      (_, i) => `message number ${i} with some words about topic ${i % 7} and more`,
    );
    const withCopies = [
      ...many,
      ...many.map((m) => `${m} `),
      ...many.slice(0, 20).map((m) => m.replace("more", "even more")),
    ];
    const t = table({ text: withCopies }, { text: "text" });
    const c = ctx(".", 7);
    const kind = (await import("../../src/kinds/registry.js")).kinds.get("split")!;
    const parts = (await kind.run(
      c,
      { data: t },
      {
        train: 0.6,
        val: 0.2,
        test: 0.2,
        stratify: false,
        order: "random",
        nearDuplicates: 0.6,
      },
    )) as Record<string, Table>;
    const partOf = new Map<string, string>();
    for (const [name, p] of Object.entries(parts))
      for (const text of col(p, "text") as string[]) {
        const id = text.match(/number (\d+) /)![1]!;
        assert.ok(!partOf.has(id) || partOf.get(id) === name, `message ${id} in one part`);
        partOf.set(id, name);
      }
    assert.equal(partOf.size, 60);
    assert.match(
      c.logs.join("\n"),
      /60 clusters of 140 rows, each kept in one part: 0 cross-part near-duplicate pairs/,
    );
  });
});

describe("identical examples across the parts of a split (defect 9)", () => {
  it("a split by groups refuses groups that share identical examples, whatever their names", async () => {
    const clip = (k: number) => Float32Array.from({ length: 8 }, (_, i) => Math.sin(i * k));
    const voices = ["v1", "v2", "v3", "v4", "v5"];
    const t: Table = {
      type: "table",
      columns: [
        // v4 and v5 speak the same clips: one voice under two names.
        {
          name: "audio",
          dtype: "audio",
          sampleRate: 8000,
          values: voices.flatMap((v) =>
            [1, 2].map((w) => clip(v === "v5" ? 40 + w : Number(v[1]) * 10 + w)),
          ),
        },
        { name: "voice", dtype: "string", values: voices.flatMap((v) => [v, v]) },
      ],
      roles: {},
    };
    let refused = 0;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      try {
        await runKind(
          "split",
          ".",
          { data: t },
          { groupBy: "voice", train: 0.6, val: 0.2, test: 0.2 },
          seed,
        );
      } catch (e) {
        refused++;
        assert.match(
          (e as Error).message,
          /the parts share 2 identical clips under different voice names: "v[45]" \(\w+\) and "v[45]" \(\w+\): 2/,
        );
      }
    }
    assert.ok(
      refused > 0 && refused < 8,
      `refused ${refused} of 8 (only when v4 and v5 land in different parts)`,
    );
  });

  it("other splits report identical examples across parts", async () => {
    const t = table({ text: ["a", "b", "a", "c", "a", "d", "e", "f", "g", "h"] }, { text: "text" });
    const c = ctx(".", 3);
    const kind = (await import("../../src/kinds/registry.js")).kinds.get("split")!;
    await kind.run(
      c,
      { data: t },
      { train: 0.5, val: 0.25, test: 0.25, stratify: false, order: "random" },
    );
    assert.match(
      c.logs.join("\n"),
      /of val\/test ha(s|ve) an identical twin in an earlier part \(texts\); dedupe before splitting/,
    );
  });

  it("texts are identical when their UTF-8 bytes are (a lone surrogate is U+FFFD), and only then", async () => {
    const kind = (await import("../../src/kinds/registry.js")).kinds.get("split")!;
    const twins = async (texts: string[]) => {
      const c = ctx(".", 3);
      await kind.run(
        c,
        { data: table({ text: texts }, { text: "text" }) },
        { train: 0.5, val: 0.5, test: 0, stratify: false, order: "random" },
      );
      return c.logs
        .join("\n")
        .match(/(\d+) examples? of val\/test ha(?:s|ve) an identical twin/)?.[1];
    };
    // Twenty rows, ten of them twins of the other ten: some twins land in the other part.
    const pairs = (a: (i: number) => string, b: (i: number) => string) =>
      Array.from({ length: 20 }, (_, i) => (i < 10 ? a(i) : b(i - 10)));
    const lone = await twins(
      pairs(
        (i) => `x${i}\ud800`,
        (i) => `x${i}\ufffd`,
      ),
    );
    assert.ok(lone !== undefined && Number(lone) > 0, `twins found: ${lone}`);
    assert.equal(
      await twins(
        pairs(
          (i) => `x${i}\u00e9`,
          (i) => `x${i}e\u0301`,
        ),
      ),
      undefined,
    );
  });
});

describe("split's report of identical texts across parts", () => {
  it("counts every row whose text (as UTF-8) an earlier part holds (property, sequential and random)", async () => {
    const fc = (await import("fast-check")).default;
    const kind = (await import("../../src/kinds/registry.js")).kinds.get("split")!;
    const text = fc.oneof(
      // Lone surrogates are U+FFFD as UTF-8: twins of each other and of U+FFFD.
      fc.constantFrom("a\ud800", "a\ufffd", "a\udc00", "", "😀"),
      // Many texts of one length, few enough to be twins often.
      fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzé"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(text, { minLength: 1, maxLength: 60 }),
        fc.constantFrom("random", "sequential"),
        fc.integer({ min: 1, max: 1000 }),
        async (texts, order, seed) => {
          const c = ctx(".", seed);
          const parts = (await kind.run(
            c,
            { data: table({ text: texts }, { text: "text" }) },
            { train: 0.5, val: 0.25, test: 0.25, stratify: false, order },
          )) as Record<string, Table>;
          // A text's first part is the earliest holding it; every row in a later part is a twin.
          const firstPart = new Map<string, number>();
          let expected = 0;
          ["train", "val", "test"].forEach((name, part) => {
            for (const t of col(parts[name]!, "text") as string[]) {
              const key = (t as string & { toWellFormed(): string }).toWellFormed();
              const first = firstPart.get(key);
              if (first === undefined) firstPart.set(key, part);
              else if (first !== part) expected++;
            }
          });
          const said = c.logs
            .join("\n")
            .match(/(\d+) examples? of val\/test ha(?:s|ve) an identical twin/)?.[1];
          assert.equal(Number(said ?? 0), expected, JSON.stringify({ texts, order, seed }));
        },
      ),
      { numRuns: 300 },
    );
  });
});
