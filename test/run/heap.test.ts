import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CacheStore } from "../../src/cache/store.js";
import { Planner } from "../../src/plan/planner.js";
import { type Executor, LocalExecutor, type StageTask } from "../../src/run/executor.js";
import type { HeapPolicy } from "../../src/run/heap.js";
import { Runner } from "../../src/run/runner.js";
import { ir, ROOT, cleanEnv, statuses, tempDir, writeFiles } from "../helpers.js";

// Between a stage's run and the encoding of its outputs, the runner lets go of the stage's inputs
// and, when they were large, collects the heap (src/run/heap.ts).

/** A CSV of `rows` rows of about 60 bytes: decoded, some MB of strings. */
const csv = (rows: number) =>
  `text,label\n${Array.from({ length: rows }, (_, i) => `row ${i} ${"word ".repeat(10)},${i % 2 ? "a" : "b"}`).join("\n")}\n`;

const source = `pipeline h {
  seed 1
  stage raw = load.csv(path: "d.csv", text: "text", label: "label")
  stage low = clean(raw, lowercase: true)
  stage few = head(low, n: 3)
}`;

/**
 * Runs the pipeline with a heap policy that records when it collects: which stages it collected
 * after (or while encoding), the results and the outputs' digests. The heap in use is what `grows`
 * says a stage's run added to it; outputs of `release` bytes or more are released as encoded.
 */
async function collectedAfter(
  collectAfterInputs: number,
  executor: Executor = new LocalExecutor(),
  options: { grows?: Record<string, number>; release?: number } = {},
) {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": csv(50_000) });
  const store = CacheStore.open(join(dir, "cache"));
  const planner = new Planner(ir(source, join(dir, "h.rnnp")), store);
  const collected: string[] = [];
  let running = "";
  let used = 0;
  const policy: HeapPolicy = {
    collectAfterInputs,
    used: () => used,
    collect: () => {
      collected.push(running);
      return true;
    },
    release: { from: options.release ?? Number.POSITIVE_INFINITY, every: 64 * 1024 },
  };
  const watching: Executor = {
    execute: async (task, hooks) => {
      running = task.stage.name;
      const out = await executor.execute(task, hooks);
      used += options.grows?.[running] ?? 0;
      return out;
    },
    materialize: (task, outputs, hooks) => executor.materialize(task, outputs, hooks),
  };
  const results = await new Runner(planner, watching, policy).run({});
  const digests = Object.fromEntries(
    results.map((r) => [r.name, store.getRecord(r.key!)?.outputs]),
  );
  await store.close();
  return { collected, results, digests };
}

describe("the heap between a stage's run and its outputs' encoding", () => {
  it("is collected after a stage whose inputs were large, and only then", async () => {
    // raw reads no input; low and few read a table of about 3 MB each.
    const { collected, results } = await collectedAfter(1024 * 1024);
    assert.deepEqual(statuses(results), { raw: "ran", low: "ran", few: "ran" });
    assert.deepEqual(collected, ["low", "few"]);
    // At just over the inputs' size, not at all.
    const small = await collectedAfter(64 * 1024 * 1024);
    assert.deepEqual(small.collected, []);
    const never = await collectedAfter(Number.POSITIVE_INFINITY);
    assert.deepEqual(never.collected, []);
  });

  it("is collected after a stage whose run grew the heap by as much, with no input", async () => {
    const mib = 1024 * 1024;
    const grown = await collectedAfter(32 * mib, undefined, { grows: { raw: 40 * mib } });
    assert.deepEqual(grown.collected, ["raw"]);
    const less = await collectedAfter(32 * mib, undefined, { grows: { raw: 31 * mib } });
    assert.deepEqual(less.collected, []);
  });

  it("gives back the outputs' strings while they are encoded, with the same bytes", async () => {
    const whole = await collectedAfter(Number.POSITIVE_INFINITY);
    // Every header over 100 KB released, a collection every quarter of it (64 KiB is less).
    const released = await collectedAfter(Number.POSITIVE_INFINITY, undefined, {
      release: 100_000,
    });
    assert.deepEqual(statuses(released.results), { raw: "ran", low: "ran", few: "ran" });
    assert.deepEqual(released.digests, whole.digests);
    // No collection after any run (no input reaches the limit): these are the encoder's, during
    // raw's and low's tables (about 3 MB each: one every quarter), none for few's three rows.
    assert.deepEqual(released.collected, [...Array(3).fill("raw"), ...Array(3).fill("low")]);
  });

  it("no longer holds the inputs once the stage has run: the task's are emptied", async () => {
    const tasks: StageTask[] = [];
    const local = new LocalExecutor();
    const keeping: Executor = {
      execute: (task, hooks) => {
        tasks.push(task);
        assert.ok(task.stage.name === "raw" || Object.keys(task.inputs).length > 0);
        return local.execute(task, hooks);
      },
      materialize: (task, outputs, hooks) => local.materialize(task, outputs, hooks),
    };
    await collectedAfter(Number.POSITIVE_INFINITY, keeping);
    assert.equal(tasks.length, 3);
    for (const t of tasks) assert.deepEqual(t.inputs, {}, `${t.stage.name} still holds its inputs`);
  });

  it("collectGarbage collects in a Node started without --expose-gc, and exposes gc nowhere", () => {
    const script = `
      import { collectGarbage } from ${JSON.stringify(join(ROOT, "src", "run", "heap.ts"))};
      import vm from "node:vm";
      let garbage = Array.from({ length: 2_000_000 }, (_, i) => "item " + i);
      const before = process.memoryUsage().heapUsed;
      garbage = undefined;
      const collected = collectGarbage();
      const after = process.memoryUsage().heapUsed;
      console.log(JSON.stringify({
        collected,
        freedMiB: (before - after) / 2 ** 20,
        globalGc: typeof globalThis.gc,
        newContextGc: vm.runInNewContext("typeof gc"),
      }));`;
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { encoding: "utf8", env: cleanEnv(), cwd: ROOT },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
      collected: boolean;
      freedMiB: number;
      globalGc: string;
      newContextGc: string;
    };
    assert.equal(out.collected, true);
    assert.ok(out.freedMiB > 40, `only ${out.freedMiB.toFixed(1)} MiB freed`);
    assert.equal(out.globalGc, "undefined");
    assert.equal(out.newContextGc, "undefined");
  });
});
