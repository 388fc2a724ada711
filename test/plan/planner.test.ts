import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CacheStore } from "../../src/cache/store.js";
import { Digraph, topologicalOrder } from "../../src/core/graph.js";
import { Planner } from "../../src/plan/planner.js";
import { ir } from "../helpers.js";

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
