import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CacheStore } from "../../src/cache/store.js";
import { type Digest, digestOf } from "../../src/core/digest.js";
import type { StageIR } from "../../src/lang/ir.js";
import { format } from "../../src/lang/format.js";
import { deriveSeed, keyOf, seedBasis, type Fingerprint } from "../../src/plan/fingerprint.js";
import { Planner } from "../../src/plan/planner.js";
import type { Runtime } from "../../src/runtime/descriptor.js";
import { ir, NAMES_CSV, runIn, tempDir } from "../helpers.js";
import { csvClassifier } from "../fixtures/pipelines.js";

/**
 * The stage-key promise as properties over random pipelines: formatting, comments, stage order,
 * stage names and unrelated stages never change a key; a parameter changes its stage's key and can
 * change only the keys of stages downstream of it.
 */

interface Ref {
  stage: number;
  output?: string;
}
interface StageModel {
  kind: "clean" | "head" | "sample" | "split";
  input: Ref;
  params: Record<string, string>;
}
interface Model {
  stages: StageModel[]; // stage i+1 (stage 0 is the loader)
}

const dir = tempDir();
const DATA =
  [
    "name,label,score",
    ...Array.from(
      { length: 60 },
      (_, i) =>
        `${i % 7 === 0 ? " " : ""}Name${i % 23}${i % 5 === 0 ? "X" : "x"},${"abc"[(i % 23) % 3]},${(i * 7) % 11}`,
    ),
  ].join("\n") + "\n";
writeFileSync(join(dir, "d.csv"), DATA);

function outputsOf(m: Model, i: number): string[] {
  if (i === 0) return ["out"];
  const s = m.stages[i - 1]!;
  if (s.kind === "split") return ["train", "val", "test"];
  return s.input.output !== undefined ? [s.input.output] : outputsOf(m, s.input.stage);
}

const paramsFor: Record<StageModel["kind"], fc.Arbitrary<Record<string, string>>> = {
  clean: fc.record({
    lowercase: fc.boolean().map(String),
    dedupe: fc.boolean().map(String),
    minLength: fc.integer({ min: 0, max: 3 }).map(String),
  }),
  head: fc.record({ n: fc.integer({ min: 1, max: 50 }).map(String) }),
  sample: fc.record({ n: fc.integer({ min: 1, max: 50 }).map(String) }),
  split: fc.constantFrom<Record<string, string>>(
    { train: "0.8", val: "0.1", test: "0.1" },
    { train: "0.6", val: "0.2", test: "0.2" },
    { train: "0.5", val: "0.25", test: "0.25", stratify: "true" },
  ),
};

const modelArb: fc.Arbitrary<Model> = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc
    .tuple(
      ...Array.from({ length: n }, () =>
        fc.tuple(
          fc.constantFrom<StageModel["kind"]>("clean", "head", "sample", "split"),
          fc.nat(),
          fc.nat(),
        ),
      ),
    )
    .chain((raw) => {
      const m: Model = { stages: [] };
      const arbs: fc.Arbitrary<Record<string, string>>[] = [];
      raw.forEach(([kind, a, b], idx) => {
        const stage = a % (idx + 1);
        const outs = outputsOf(m, stage);
        // split needs one table; the others accept a whole split too.
        const output =
          outs.length === 1
            ? undefined
            : kind === "split" || b % 2 === 0
              ? outs[b % outs.length]
              : undefined;
        m.stages.push({
          kind,
          input: { stage, ...(output !== undefined ? { output } : {}) },
          params: {},
        });
        arbs.push(paramsFor[kind]);
      });
      return fc
        .tuple(...arbs)
        .map((ps) => ({ stages: m.stages.map((s, i) => ({ ...s, params: ps[i]! })) }));
    }),
);

interface Render {
  names: string[];
  order?: number[];
  comments?: boolean;
  extra?: string;
}

function render(m: Model, r: Render): string {
  const line = (i: number): string => {
    if (i === 0)
      return `stage ${r.names[0]} = load.csv(path: "d.csv", text: "name", label: "label")`;
    const s = m.stages[i - 1]!;
    const ref = `${r.names[s.input.stage]}${s.input.output !== undefined ? `.${s.input.output}` : ""}`;
    const args = [ref, ...Object.entries(s.params).map(([k, v]) => `${k}: ${v}`)];
    return `stage ${r.names[i]} = ${s.kind}(${args.join(r.comments ? " ,\n      " : ", ")})`;
  };
  const order = r.order ?? Array.from({ length: m.stages.length + 1 }, (_, i) => i);
  const body = order
    .map((i) =>
      r.comments ? `  # stage number ${i}\n  ${line(i)} // trailing ${i}\n\n` : `  ${line(i)}\n`,
    )
    .join("");
  return `pipeline props {\n  seed 7\n${body}${r.extra ? `  ${r.extra}\n` : ""}}\n`;
}

const defaultNames = (m: Model) => Array.from({ length: m.stages.length + 1 }, (_, i) => `s${i}`);

async function keys(source: string, names: string[]): Promise<string[]> {
  const file = join(dir, "p.rnnp");
  writeFileSync(file, source);
  const { results, store } = await runIn(source, file, join(dir, "cache"));
  await store.close();
  const byName = new Map(results.map((r) => [r.name, r]));
  return names.map((n) => {
    const r = byName.get(n)!;
    assert.ok(
      r.status === "ran" || r.status === "cached",
      `${n}: ${r.status} ${JSON.stringify(r.diagnostics)}`,
    );
    return r.key!;
  });
}

function downstream(m: Model, i: number): Set<number> {
  const out = new Set<number>([i]);
  m.stages.forEach((s, j) => {
    if (out.has(s.input.stage)) out.add(j + 1);
  });
  return out;
}

const RUNS = { numRuns: 25 };

describe("stage keys (properties over random pipelines)", () => {
  it("formatting, comments and blank lines change no key", async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, async (m) => {
        const names = defaultNames(m);
        const plain = render(m, { names });
        const noisy = render(m, { names, comments: true });
        const formatted = format(noisy, "p.rnnp").text!;
        const k = await keys(plain, names);
        assert.deepEqual(await keys(noisy, names), k);
        assert.deepEqual(await keys(formatted, names), k);
      }),
      RUNS,
    );
  });

  it("reordering stage declarations changes no key", async () => {
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((m) =>
          fc.tuple(
            fc.constant(m),
            fc.shuffledSubarray(
              Array.from({ length: m.stages.length + 1 }, (_, i) => i),
              { minLength: m.stages.length + 1 },
            ),
          ),
        ),
        async ([m, order]) => {
          const names = defaultNames(m);
          assert.deepEqual(
            await keys(render(m, { names, order }), names),
            await keys(render(m, { names }), names),
          );
        },
      ),
      RUNS,
    );
  });

  it("renaming a stage changes no key", async () => {
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((m) => fc.tuple(fc.constant(m), fc.nat(m.stages.length))),
        async ([m, victim]) => {
          const names = defaultNames(m);
          const renamed = names.map((n, i) => (i === victim ? `renamed_${n}` : n));
          assert.deepEqual(
            await keys(render(m, { names: renamed }), renamed),
            await keys(render(m, { names }), names),
          );
        },
      ),
      RUNS,
    );
  });

  it("adding an unrelated stage changes no key", async () => {
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((m) =>
          fc.tuple(fc.constant(m), fc.nat(m.stages.length), fc.integer({ min: 1, max: 9 })),
        ),
        async ([m, at, n]) => {
          const names = defaultNames(m);
          const outs = outputsOf(m, at);
          const ref = `${names[at]}${outs.length > 1 ? `.${outs[0]}` : ""}`;
          const extra = `stage unrelated = head(${ref}, n: ${n})`;
          assert.deepEqual(
            await keys(render(m, { names, extra }), names),
            await keys(render(m, { names }), names),
          );
        },
      ),
      RUNS,
    );
  });

  it("changing one parameter changes that stage's key, and no key outside its downstream", async () => {
    const changed = modelArb.chain((m) =>
      fc
        .tuple(fc.constant(m), fc.integer({ min: 1, max: m.stages.length }))
        .chain(([m2, i]) =>
          paramsFor[m2.stages[i - 1]!.kind]
            .filter((p) => JSON.stringify(p) !== JSON.stringify(m2.stages[i - 1]!.params))
            .map((p) => [m2, i, p] as const),
        ),
    );
    await fc.assert(
      fc.asyncProperty(changed, async ([m, i, params]) => {
        const names = defaultNames(m);
        const before = await keys(render(m, { names }), names);
        const edited: Model = {
          stages: m.stages.map((s, j) => (j === i - 1 ? { ...s, params } : s)),
        };
        const after = await keys(render(edited, { names }), names);
        assert.notEqual(after[i], before[i], "the edited stage's key must change");
        const down = downstream(m, i);
        names.forEach((n, j) => {
          if (!down.has(j))
            assert.equal(
              after[j],
              before[j],
              `${n} is not downstream of s${i} and must keep its key`,
            );
        });
      }),
      RUNS,
    );
  });

  it("a changed output changes every dependent's key (no early cut-off when bytes differ)", async () => {
    const m: Model = {
      stages: [
        { kind: "head", input: { stage: 0 }, params: { n: "40" } },
        { kind: "split", input: { stage: 1 }, params: { train: "0.8", val: "0.1", test: "0.1" } },
        {
          kind: "clean",
          input: { stage: 2 },
          params: { lowercase: "true", dedupe: "false", minLength: "0" },
        },
      ],
    };
    const names = defaultNames(m);
    const before = await keys(render(m, { names }), names);
    const after = await keys(
      render(
        { stages: [{ ...m.stages[0]!, params: { n: "30" } }, m.stages[1]!, m.stages[2]!] },
        { names },
      ),
      names,
    );
    assert.equal(after[0], before[0]);
    for (const j of [1, 2, 3]) assert.notEqual(after[j], before[j], names[j]);
  });

  it("an edit that leaves an output's bytes alone leaves its dependents cached", async () => {
    // head(n: 100) and head(n: 200) of a 60-row table give the same table.
    const m = (n: string): Model => ({
      stages: [
        { kind: "head", input: { stage: 0 }, params: { n } },
        { kind: "sample", input: { stage: 1 }, params: { n: "5" } },
      ],
    });
    const names = ["s0", "s1", "s2"];
    const a = await keys(render(m("100"), { names }), names);
    const b = await keys(render(m("200"), { names }), names);
    assert.notEqual(a[1], b[1]);
    assert.equal(a[2], b[2]);
  });
});

describe("stage keys and arithmetic", () => {
  it("a key sees the evaluated value only: `13`, `14 - 1` and `params.a - 1` give one key", async () => {
    const source = (n: string, params = "") =>
      `pipeline arith {\n  seed 7\n${params}  stage s0 = load.csv(path: "d.csv", text: "name", label: "label")\n  stage s1 = head(s0, n: ${n})\n}\n`;
    const names = ["s0", "s1"];
    const literal = await keys(source("13"), names);
    assert.deepEqual(await keys(source("14 - 1"), names), literal);
    assert.deepEqual(await keys(source("(2 + 5) * 2 - 1"), names), literal);
    assert.deepEqual(await keys(source("params.a - 1", "  params { a = 14 }\n"), names), literal);
    assert.deepEqual(
      await keys(source("params.b", "  params { a = 7, b = params.a * 2 - 1 }\n"), names),
      literal,
    );
    const other = await keys(source("14 - 2"), names);
    assert.equal(other[0], literal[0]);
    assert.notEqual(other[1], literal[1]);
  });
});

describe("fingerprint", () => {
  const fp: Omit<Fingerprint, "seed"> = {
    format: 1,
    kind: "split",
    version: 1,
    params: { train: 0.8 },
    inputs: { data: "a".repeat(64) as never },
    files: {},
  };

  it("key is independent of object key order", () => {
    const reordered = JSON.parse(
      JSON.stringify({
        files: {},
        inputs: fp.inputs,
        params: fp.params,
        version: 1,
        kind: "split",
        format: 1,
      }),
    ) as Fingerprint;
    assert.equal(keyOf(reordered), keyOf(fp as Fingerprint));
  });

  it("derived seeds are never 0, differ by pipeline seed and by stage, and are stable", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.string(), (seed, kind) => {
        const s = deriveSeed(seed, { ...fp, kind });
        assert.ok(s >= 1 && s <= 0x7fffffff);
        assert.equal(deriveSeed(seed, { ...fp, kind }), s);
      }),
    );
    assert.notEqual(deriveSeed(1, fp), deriveSeed(2, fp));
    assert.notEqual(deriveSeed(1, fp), deriveSeed(1, { ...fp, params: { train: 0.7 } }));
  });

  it("seeds follow what a stage computes, not how: backend, kind version and tools leave them be", () => {
    const how = {
      ...fp,
      version: 2,
      runtime: { backend: "wasm-simd", version: "4.22.0" },
      tools: { "espeak-ng": "1.51" },
    };
    assert.equal(deriveSeed(7, how), deriveSeed(7, fp));
    assert.notEqual(keyOf({ ...how, seed: 1 }), keyOf({ ...fp, seed: 1 }));
  });
});

/**
 * The planner's fingerprint field by field (plan/fingerprint.ts): each field, changed alone, moves
 * the key of the stages it concerns and no other. Planned without running: upstream outputs are
 * given digests (a changed output is another digest), so that a train stage is keyed in
 * milliseconds.
 */
describe("what goes into a stage key (the planner's fingerprint)", () => {
  const home = tempDir();
  writeFileSync(join(home, "d.csv"), NAMES_CSV);
  const store = CacheStore.open(join(home, "cache"));
  const RUNTIME: Runtime = { backend: "wasm", version: "tfjs 4.22.0", kernels: "rnnp-fused x" };
  const source = (o: { seed?: number; train?: string; vocabOf?: string; sets?: string } = {}) =>
    csvClassifier({
      settings: [`seed ${o.seed ?? 7}`],
      train: o.train ?? "epochs: 2, batchSize: 8",
      after: [
        `stage report = evaluate(fit, ${o.sets ?? "{inDomain: seqs.test, other: seqs.val}"})`,
      ],
    }).replace("vocabulary(parts.train", `vocabulary(${o.vocabOf ?? "parts.train"}`);

  /** Every stage's fingerprint and key, its upstream outputs given by `output` (stage, name -> digest). */
  function plan(
    text: string,
    o: {
      runtime?: Runtime;
      kinds?: (s: StageIR) => StageIR;
      output?: (stage: string, name: string) => string;
      /** Stages after the usual ones. */
      extra?: string[];
    } = {},
  ): Map<string, { key: string; fp: Fingerprint }> {
    const checked = ir(text, join(home, "p.rnnp"));
    const planner = new Planner(
      { ...checked, stages: checked.stages.map(o.kinds ?? ((x) => x)) },
      store,
      o.runtime ?? RUNTIME,
    );
    const out = new Map<string, { key: string; fp: Fingerprint }>();
    for (const s of planner.order) {
      const r = planner.resolve(s.name);
      assert.equal(r.state, "keyed", `${s.name}: ${JSON.stringify(r)}`);
      if (r.state !== "keyed") continue;
      out.set(s.name, { key: r.key, fp: r.fingerprint });
      const digest = (name: string) =>
        digestOf(Buffer.from(o.output?.(s.name, name) ?? `${s.name}.${name}`));
      planner.produced(s.name, Object.fromEntries(s.outputs.map((n) => [n, digest(n)])));
    }
    assert.deepEqual(
      [...out.keys()],
      ["raw", "parts", "vocab", "seqs", "net", "fit", "report", ...(o.extra ?? [])],
    );
    return out;
  }
  const base = plan(source());
  /** The stages whose keys differ from `base`'s. */
  const moved = (other: ReturnType<typeof plan>) =>
    [...base].filter(([name, b]) => other.get(name)!.key !== b.key).map(([name]) => name);
  /** One stage's kind changed by `edit` (the kind objects are shared: copied, never written). */
  const withKind =
    (stage: string, edit: (k: StageIR["kind"]) => Partial<StageIR["kind"]>) => (s: StageIR) =>
      s.name === stage ? { ...s, kind: { ...s.kind, ...edit(s.kind) } as StageIR["kind"] } : s;

  it("the same plan twice gives the same keys, and random stages have seeds, others none", () => {
    assert.deepEqual(moved(plan(source())), []);
    assert.deepEqual(
      [...base].filter(([, b]) => b.fp.seed !== undefined).map(([n]) => n),
      ["parts", "net", "fit"],
    );
  });

  it("a kind's version: its stages' keys (a version bump reruns them)", () => {
    assert.deepEqual(
      moved(plan(source(), { kinds: withKind("parts", (k) => ({ version: k.version + 1 })) })),
      ["parts"],
    );
  });

  it("the numeric runtime: backend-dependent stages' keys only, and not their seeds", () => {
    for (const runtime of [
      { ...RUNTIME, backend: "cpu" },
      { ...RUNTIME, version: "tfjs 4.23.0" },
      { backend: RUNTIME.backend, version: RUNTIME.version },
    ]) {
      const other = plan(source(), { runtime });
      assert.deepEqual(moved(other), ["fit", "report"], JSON.stringify(runtime));
      assert.deepEqual(other.get("fit")!.fp.runtime, runtime);
      assert.equal(other.get("fit")!.fp.seed, base.get("fit")!.fp.seed);
    }
    assert.equal(base.get("raw")!.fp.runtime, undefined);
  });

  it("the versions of the tools a kind runs", () => {
    const tools = (v: string) => withKind("vocab", () => ({ tools: () => ({ "espeak-ng": v }) }));
    const a = plan(source(), { kinds: tools("1.51") });
    const b = plan(source(), { kinds: tools("1.52") });
    assert.deepEqual(a.get("vocab")!.fp.tools, { "espeak-ng": "1.51" });
    assert.notEqual(a.get("vocab")!.key, b.get("vocab")!.key);
    assert.equal(a.get("parts")!.key, b.get("parts")!.key);
  });

  it("the pipeline seed: random stages' keys (and seeds) only", () => {
    const other = plan(source({ seed: 8 }));
    assert.deepEqual(moved(other), ["parts", "net", "fit"]);
    for (const n of ["parts", "net", "fit"])
      assert.notEqual(other.get(n)!.fp.seed, base.get(n)!.fp.seed, n);
  });

  it("a seed follows what the stage computes: its inputs and parameters, less seedIgnores and observing ones", () => {
    const fit = (o: Parameters<typeof plan>[1] & { train?: string }) =>
      plan(source(o.train !== undefined ? { train: o.train } : {}), o).get("fit")!;
    const b = base.get("fit")!;
    // An input's bytes: another seed.
    const other = fit({
      output: (s, n) => (s === "seqs" && n === "train" ? "other" : `${s}.${n}`),
    });
    assert.notEqual(other.fp.seed, b.fp.seed);
    assert.notEqual(other.key, b.key);
    // A parameter it computes with: another seed.
    assert.notEqual(fit({ train: "epochs: 2, batchSize: 16" }).fp.seed, b.fp.seed);
    // epochs (train's seedIgnores) and gradientFlow (observing): another key, the same seed.
    for (const train of [
      "epochs: 3, batchSize: 8",
      "epochs: 2, batchSize: 8, gradientFlow: false",
    ]) {
      const f = fit({ train });
      assert.notEqual(f.key, b.key, train);
      assert.equal(f.fp.seed, b.fp.seed, train);
    }
  });

  it("which output of a stage an input names", () => {
    const other = plan(source({ vocabOf: "parts.val" }));
    // Its readers keep theirs: the outputs given here are the same whatever vocab read.
    assert.deepEqual(moved(other), ["vocab"]);
    assert.notEqual(other.get("vocab")!.fp.inputs.data, base.get("vocab")!.fp.inputs.data);
  });

  it("named references: each name's artifact (as a bundle's parts)", () => {
    const digest = (x: string) => digestOf(Buffer.from(x));
    assert.deepEqual(base.get("report")!.fp.inputs.data, {
      inDomain: digest("seqs.test"),
      other: digest("seqs.val"),
    });
    const swapped = plan(source({ sets: "{inDomain: seqs.val, other: seqs.test}" }));
    assert.deepEqual(moved(swapped), ["report"]);
    assert.deepEqual(swapped.get("report")!.fp.inputs.data, {
      inDomain: digest("seqs.val"),
      other: digest("seqs.test"),
    });
  });

  it("a whole split, or one part of it, where a kind takes a split (its parts by name)", () => {
    const digest = (x: string) => digestOf(Buffer.from(x));
    const peek = (ref: string) =>
      plan(source().replace(/}\n$/, `  stage peek = head(${ref}, n: 2)\n}\n`), {
        extra: ["peek"],
      }).get("peek")!.fp.inputs.data;
    assert.deepEqual(peek("parts"), {
      train: digest("parts.train"),
      val: digest("parts.val"),
      test: digest("parts.test"),
    });
    assert.deepEqual(peek("parts.val"), { val: digest("parts.val") });
  });

  it("a seed basis keeps the files (a random kind reading data draws anew when they change)", () => {
    const fp = { kind: "k", params: {}, inputs: {}, files: { "d.csv": "a".repeat(64) as Digest } };
    assert.deepEqual(seedBasis(fp).files, fp.files);
    assert.notEqual(
      deriveSeed(7, seedBasis(fp)),
      deriveSeed(7, seedBasis({ ...fp, files: { "d.csv": "b".repeat(64) as Digest } })),
    );
  });
});
