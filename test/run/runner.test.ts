import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { CacheStore } from "../../src/cache/store.js";
import { UserError } from "../../src/core/diagnostic.js";
import { Planner } from "../../src/plan/planner.js";
import { LocalExecutor, type Executor } from "../../src/run/executor.js";
import { Runner, type RunEvent } from "../../src/run/runner.js";
import { ir, NAMES_CSV, runIn, statuses, tempDir, writeFiles } from "../helpers.js";

const pipeline = (labelColumn: string) => `pipeline r {
  seed 3
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage bad = load.csv(path: "d.csv", label: "${labelColumn}")
  stage low = clean(raw, lowercase: true)
  stage fromBad = head(bad, n: 2)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
}`;

describe("runner", () => {
  it("a failure stops its dependents, lets independent stages finish, and caches every success", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const file = join(dir, "r.rnnp");
    const first = await runIn(pipeline("lable"), file, join(dir, "cache"));
    assert.deepEqual(statuses(first.results), {
      raw: "ran",
      bad: "failed",
      low: "ran",
      fromBad: "skipped",
      parts: "ran",
    });
    const failure = first.results.find((r) => r.name === "bad")!.diagnostics![0]!;
    assert.match(failure.message, /no column "lable"/);
    assert.equal(failure.hint, 'did you mean "label"?');
    assert.match(failure.file!, /d\.csv$/);
    await first.store.close();

    const second = await runIn(pipeline("lable"), file, join(dir, "cache"));
    assert.deepEqual(statuses(second.results), {
      raw: "cached",
      bad: "failed",
      low: "cached",
      fromBad: "skipped",
      parts: "cached",
    });
    await second.store.close();

    const fixed = await runIn(pipeline("label"), file, join(dir, "cache"));
    assert.deepEqual(statuses(fixed.results), {
      raw: "cached",
      bad: "ran",
      low: "cached",
      fromBad: "ran",
      parts: "cached",
    });
    await fixed.store.close();
  });

  it("an error that carries advice keeps it in the stage's diagnostic", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const store = CacheStore.open(join(dir, "cache"));
    const planner = new Planner(ir(pipeline("label"), join(dir, "r.rnnp")), store);
    const advising: Executor = {
      execute: async () => {
        throw new UserError("too big for the kernels", {
          code: "too-large",
          hint: "lower batchSize",
        });
      },
      materialize: async () => {},
    };
    const [raw] = await new Runner(planner, advising).run({ targets: ["raw"] });
    assert.equal(raw!.status, "failed");
    assert.match(
      raw!.diagnostics![0]!.message,
      /stage `raw` \(load\.csv\): too big for the kernels/,
    );
    assert.equal(raw!.diagnostics![0]!.hint, "lower batchSize");
    assert.equal(raw!.diagnostics![0]!.code, "too-large");
    await store.close();
  });

  it("an error that is not a UserError is reported as a bug in rnnp, not as the user's", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const store = CacheStore.open(join(dir, "cache"));
    const planner = new Planner(ir(pipeline("label"), join(dir, "r.rnnp")), store);
    const buggy: Executor = {
      execute: async () => {
        throw new TypeError("x is undefined");
      },
      materialize: async () => {},
    };
    const [raw] = await new Runner(planner, buggy).run({ targets: ["raw"] });
    assert.equal(raw!.status, "failed");
    assert.equal(
      raw!.diagnostics![0]!.message,
      "stage `raw` (load.csv): internal error: x is undefined",
    );
    assert.match(raw!.diagnostics![0]!.hint!, /bug in rnnp/);
    await store.close();
  });

  it("cached stages end where they stand, in order: with one slot, and with several (those found ready together, then the next)", async () => {
    const source = `pipeline o {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage a = head(raw, n: 3)
  stage b = head(raw, n: 4)
  stage a2 = head(a, n: 2)
  stage c = head(raw, n: 5)
}`;
    /** A run over a cache holding raw, a and c (b and a2 are stale, unless `all`), with `slots` slots. */
    const partlyCached = async (slots: number, all = false) => {
      const dir = tempDir();
      writeFiles(dir, { "d.csv": NAMES_CSV });
      const file = join(dir, "o.rnnp");
      const store = CacheStore.open(join(dir, "cache"));
      const runner = () => new Runner(new Planner(ir(source, file), store), new LocalExecutor());
      await runner().run(all ? {} : { targets: ["a", "c"] });
      const ended: string[] = [];
      const results = await runner().run({
        executor: { name: "here", slots, run: (_job, ctx) => ctx.here() },
        onEvent: (e) => {
          if (e.type === "end") ended.push(`${e.result.name} ${e.result.status}`);
        },
      });
      assert.deepEqual(
        results.map((r) => r.name),
        ["raw", "a", "b", "a2", "c"],
      );
      await store.close();
      return ended;
    };
    assert.deepEqual(await partlyCached(1), [
      "raw cached",
      "a cached",
      "b ran",
      "a2 ran",
      "c cached",
    ]);
    assert.deepEqual(await partlyCached(2), [
      "raw cached",
      "a cached",
      "c cached",
      "b ran",
      "a2 ran",
    ]);
    assert.deepEqual(await partlyCached(1, true), [
      "raw cached",
      "a cached",
      "b cached",
      "a2 cached",
      "c cached",
    ]);
    // With several slots, a2 becomes ready when a ends: after b and c, found ready with a.
    assert.deepEqual(await partlyCached(2, true), [
      "raw cached",
      "a cached",
      "b cached",
      "c cached",
      "a2 cached",
    ]);
  });

  it("runs only the targets and what they need", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const store = CacheStore.open(join(dir, "cache"));
    const planner = new Planner(ir(pipeline("label"), join(dir, "r.rnnp")), store);
    const results = await new Runner(planner, new LocalExecutor()).run({ targets: ["low"] });
    assert.deepEqual(statuses(results), { raw: "ran", low: "ran" });
    await store.close();
  });

  it("a forced stage executes again and, being deterministic, yields the same bytes", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const file = join(dir, "r.rnnp");
    (await runIn(pipeline("label"), file, join(dir, "cache"))).store.close();
    const store = CacheStore.open(join(dir, "cache"));
    const planner = new Planner(ir(pipeline("label"), file), store);
    const results = await new Runner(planner, new LocalExecutor()).run({
      force: new Set(["parts"]),
    });
    const parts = results.find((r) => r.name === "parts")!;
    assert.equal(parts.status, "ran");
    assert.equal(parts.nondeterministic, undefined);
    assert.equal(results.filter((r) => r.status === "ran").length, 1);
    await store.close();
  });

  it("a corrupt cached input is never served: its producer is recomputed first", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const file = join(dir, "r.rnnp");
    const src = (n: number) =>
      `pipeline c { stage raw = load.csv(path: "d.csv") stage low = clean(raw, lowercase: true) stage h = head(low, n: ${n}) }`;
    const first = await runIn(src(2), file, join(dir, "cache"));
    const lowKey = first.results.find((r) => r.name === "low")!.key!;
    const digest = first.store.getRecord<unknown>(lowKey)!.outputs.out!.digest;
    await first.store.close();
    const raw = open({ path: join(dir, "cache"), maxDbs: 8 });
    await raw.openDB({ name: "blobs", encoding: "binary" }).put(digest, Buffer.from("garbage"));
    await raw.close();

    const events: RunEvent[] = [];
    const store = CacheStore.open(join(dir, "cache"));
    const planner = new Planner(ir(src(3), file), store);
    const results = await new Runner(planner, new LocalExecutor()).run({
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(statuses(results), { raw: "cached", low: "ran", h: "ran" });
    assert.ok(
      events.some(
        (e) => e.type === "log" && /corrupt in the cache; recomputing `low`/.test(e.message),
      ),
    );
    assert.ok(store.blobIsIntact(digest), "the recomputed artifact has the digest it always had");
    await store.close();
  });

  it("reports the outputs it commits to dependents, keyed by content", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const file = join(dir, "r.rnnp");
    const { results, store, planner } = await runIn(pipeline("label"), file, join(dir, "cache"));
    const parts = results.find((r) => r.name === "parts")!;
    const record = store.getRecord<{ inputs: Record<string, string> }>(parts.key!)!;
    assert.deepEqual(Object.keys(record.outputs), ["train", "val", "test"]);
    assert.equal(record.inputsFrom.data!.stage, "low");
    assert.equal(record.manifest.inputs.data, planner.outputsOf("low")!.out);
    await store.close();
  });

  it("a data file's content, not its timestamp, decides", async () => {
    const dir = tempDir();
    writeFiles(dir, { "d.csv": NAMES_CSV });
    const file = join(dir, "r.rnnp");
    const src = `pipeline f { stage raw = load.csv(path: "d.csv") }`;
    (await runIn(src, file, join(dir, "cache"))).store.close();
    writeFileSync(join(dir, "d.csv"), NAMES_CSV); // same bytes, new mtime
    const same = await runIn(src, file, join(dir, "cache"));
    assert.deepEqual(statuses(same.results), { raw: "cached" });
    await same.store.close();
    writeFileSync(join(dir, "d.csv"), NAMES_CSV.replace("Alice", "Alicia"));
    const changed = await runIn(src, file, join(dir, "cache"));
    assert.deepEqual(statuses(changed.results), { raw: "ran" });
    await changed.store.close();
  });
});
