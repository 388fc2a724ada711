import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CacheStore } from "../../src/cache/store.js";
import { Digraph, topologicalOrder } from "../../src/core/graph.js";
import { Planner, unreadable } from "../../src/plan/planner.js";
import { ir } from "../helpers.js";
import { Rig } from "../rig.js";

/**
 * A pipeline of `reads.length` head stages over one loader: stage `s<i>` reads the stage `reads[i]`
 * names (an index into `order`, the stages in some topological order), declared in `declared` order.
 */
function pipeline(order: number[], reads: number[], declared: number[]): string {
  const line = (at: number) => {
    const name = `s${order[at]}`;
    return at === 0
      ? `  stage ${name} = load.csv(path: "d.csv", text: "name", label: "label")`
      : `  stage ${name} = head(s${order[reads[at]! % at]}, n: ${at})`;
  };
  return `pipeline p {\n${declared.map(line).join("\n")}\n}\n`;
}

describe("planner order", () => {
  it("is the topological order with source order breaking ties, whether or not the file is in order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }).chain((n) =>
          fc.record({
            order: fc.shuffledSubarray(
              Array.from({ length: n }, (_, i) => i),
              { minLength: n, maxLength: n },
            ),
            reads: fc.array(fc.nat(), { minLength: n, maxLength: n }),
            declared: fc.oneof(
              // In order (every stage after what it reads), or shuffled.
              fc.constant(Array.from({ length: n }, (_, i) => i)),
              fc.shuffledSubarray(
                Array.from({ length: n }, (_, i) => i),
                { minLength: n, maxLength: n },
              ),
            ),
          }),
        ),
        ({ order, reads, declared }) => {
          const checked = ir(pipeline(order, reads, declared), "/tmp/p.rnnp");
          const planner = new Planner(checked, {} as CacheStore);
          const g = new Digraph();
          const index = new Map(checked.stages.map((s, i) => [s.name, i]));
          for (const s of checked.stages) g.addNode(s.name);
          for (const s of checked.stages)
            for (const ref of Object.values(s.inputs)) g.addEdge(ref.stage, s.name);
          const expected = topologicalOrder(g, (n) => index.get(n)!).order;
          assert.deepEqual(
            planner.order.map((s) => s.name),
            expected,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("a data path that cannot be read", () => {
  const pipeline = (path: string) => `pipeline p {\n  stage raw = load.text(path: "${path}")\n}\n`;
  /** `rnnp run`'s error for a pipeline reading PATH in RIG: its one diagnostic, as printed. */
  const refused = async (rig: Rig, path: string) => {
    rig.write({ "p.rnnp": pipeline(path) });
    const r = await rig.rnnp(["run", "p.rnnp", "--cache", rig.path("cache")]);
    assert.equal(r.code, 1, r.stderr);
    return r.stderr;
  };
  const at = " --> p.rnnp:2:31\n";

  it("a missing file or folder: not found, where the pipeline names it, and how paths are read", async () => {
    const rig = new Rig();
    const err = await refused(rig, "mail");
    assert.match(err, /error\[missing-file\]: stage `raw`: file not found: mail\n/);
    assert.ok(err.includes(at), err);
    assert.match(err, /hint: paths are relative to the pipeline file/);
  });

  it("a link in the folder that leads nowhere is named, not the folder", async () => {
    const rig = new Rig().write({ "mail/ham/1.txt": "hello" });
    symlinkSync(rig.path("gone.txt"), rig.path("mail/ham/2.txt"));
    const err = await refused(rig, "mail");
    assert.match(
      err,
      /stage `raw`: cannot read mail: mail\/ham\/2\.txt is a link to a file that does not exist\n/,
    );
    assert.ok(err.includes(at), err);
    assert.match(err, /hint: remove the link, or put back what it leads to/);
  });

  it("a link that leads round a loop, in the folder or the path itself, is named as one", async () => {
    const rig = new Rig().write({ "mail/ham/1.txt": "hello" });
    symlinkSync(rig.path("mail/ham/2.txt"), rig.path("mail/ham/2.txt"));
    symlinkSync(rig.path("b"), rig.path("a"));
    symlinkSync(rig.path("a"), rig.path("b"));
    for (const [path, named] of [
      ["mail", "mail/ham/2.txt"],
      ["a", "a"],
    ]) {
      const err = await refused(rig, path!);
      assert.ok(
        err.includes(
          `stage \`raw\`: cannot read ${path}: ${named} is a link that leads round in a loop\n`,
        ),
        err,
      );
      assert.ok(err.includes(at), err);
      assert.match(err, /hint: a link on the way leads back to itself/);
    }
  });

  it("a file of the folder gone between its listing and its reading (no link) is said to have gone", () => {
    const rig = new Rig().write({ "mail/ham/1.txt": "hello" });
    const abs = rig.path("mail");
    const gone = Object.assign(new Error("ENOENT: no such file or directory"), {
      code: "ENOENT",
      path: join(abs, "ham/2.txt"),
    });
    assert.deepEqual(unreadable("mail", abs, gone), {
      what: "cannot read mail: mail/ham/2.txt went away while it was read",
      hint: "run again once nothing is changing the folder",
    });
  });

  it("a named pipe or a device, as the path or in the folder, is refused at once, not waited on", () => {
    const rig = new Rig().write({ "mail/ham/1.txt": "hello" });
    for (const fifo of ["pipe", "mail/ham/2.txt"])
      assert.equal(spawnSync("mkfifo", [rig.path(fifo)]).status, 0, "mkfifo");
    for (const [path, named, kind] of [
      ["pipe", "pipe", "a named pipe"],
      ["mail", "mail/ham/2.txt", "a named pipe"],
      ["/dev/null", "/dev/null", "a device"],
    ]) {
      rig.write({ "p.rnnp": pipeline(path!) });
      // A process, killed if it waits: opening a pipe nobody writes blocks the whole thread.
      const r = rig.spawnSync(["run", "p.rnnp", "--cache", rig.path("cache")], {
        timeoutMs: 20_000,
      });
      assert.equal(r.code, 1, `${path}: ${r.stderr}`);
      assert.ok(
        r.stderr.includes(`stage \`raw\`: cannot read ${path}: ${named} is ${kind}, not a file\n`),
        r.stderr,
      );
      assert.match(r.stderr, /hint: a stage's data is hashed first and read again/);
    }
  });
});
