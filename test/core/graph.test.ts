import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ancestors,
  cycles,
  Digraph,
  describeCycle,
  stronglyConnected,
  topologicalOrder,
} from "../../src/core/graph.js";

const graph = (edges: [string, string][], nodes: string[] = []) => {
  const g = new Digraph();
  for (const n of nodes) g.addNode(n);
  for (const [a, b] of edges) g.addEdge(a, b);
  return g;
};

describe("graph", () => {
  it("keeps names in Maps: __proto__, constructor and toString are nodes like any other", () => {
    const g = graph([
      ["__proto__", "constructor"],
      ["constructor", "toString"],
    ]);
    assert.deepEqual(g.nodes(), ["__proto__", "constructor", "toString"]);
    assert.deepEqual(g.successors("__proto__"), ["constructor"]);
    assert.deepEqual(g.predecessors("toString"), ["constructor"]);
    assert.deepEqual(g.successors("hasOwnProperty"), []);
    assert.equal(Object.getOwnPropertyNames(Object.prototype).includes("constructor"), true);
    assert.equal(({} as Record<string, unknown>).toString, Object.prototype.toString);
  });

  it("topological order: inputs first, ties in insertion order; cycles are left out", () => {
    const g = graph(
      [
        ["a", "c"],
        ["b", "c"],
        ["c", "d"],
        ["x", "y"],
        ["y", "x"],
        ["y", "z"],
      ],
      ["b", "a"],
    );
    assert.deepEqual(topologicalOrder(g), {
      order: ["b", "a", "c", "d"],
      blocked: ["x", "y", "z"],
    });
    assert.deepEqual(topologicalOrder(g, (n) => -n.charCodeAt(0)).order, ["b", "a", "c", "d"]);
  });

  it("strongly connected components and the shortest cycle through each", () => {
    const g = graph([
      ["a", "b"],
      ["b", "c"],
      ["c", "a"],
      ["b", "a"],
      ["s", "s"],
      ["t", "u"],
    ]);
    assert.deepEqual(
      stronglyConnected(g)
        .map((c) => c.join(""))
        .sort(),
      ["abc", "s", "t", "u"],
    );
    assert.deepEqual(cycles(g), [["a", "b"], ["s"]]);
    assert.equal(describeCycle(["a", "b"]), "a -> b -> a");
  });

  it("a chain of 100,000 nodes: order, components, ancestors without a stack overflow", () => {
    const g = new Digraph();
    for (let i = 1; i < 100_000; i++) g.addEdge(`n${i - 1}`, `n${i}`);
    assert.equal(topologicalOrder(g).order.length, 100_000);
    assert.equal(stronglyConnected(g).length, 100_000);
    assert.equal(ancestors(g, ["n99999"]).size, 100_000);
    g.addEdge("n99999", "n0");
    const [ring] = cycles(g);
    assert.equal(ring!.length, 100_000);
    assert.equal(
      describeCycle(ring!),
      "n0 -> n1 -> n2 -> n3 -> n4 -> n5 -> n6 -> n7 -> n8 -> ... (99990 more) -> n99999 -> n0",
    );
  });

  it("as a property: the order respects every edge, and a node is blocked iff a cycle reaches it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(12), fc.nat(12)), { maxLength: 30 }),
        fc.nat(12),
        (pairs, extra) => {
          const g = graph(
            pairs.map(([a, b]) => [`v${a}`, `v${b}`]),
            [`v${extra}`],
          );
          const { order, blocked } = topologicalOrder(g);
          const at = new Map(order.map((n, i) => [n, i]));
          for (const [a, b] of pairs)
            if (at.has(`v${b}`)) assert.ok(at.get(`v${a}`)! < at.get(`v${b}`)!, `${a} -> ${b}`);
          const onCycle = new Set(
            stronglyConnected(g)
              .filter((c) => c.length > 1 || g.successors(c[0]!).includes(c[0]!))
              .flat(),
          );
          // Blocked: on a cycle, or downstream of one.
          const downstream = new Set<string>();
          const todo = [...onCycle];
          while (todo.length)
            for (const s of g.successors(todo.pop()!))
              if (!downstream.has(s)) downstream.add(s), todo.push(s);
          assert.deepEqual(
            new Set(blocked),
            new Set([...g.nodes()].filter((n) => onCycle.has(n) || downstream.has(n))),
          );
          assert.equal(order.length + blocked.length, g.size);
          for (const c of cycles(g)) {
            for (let i = 0; i < c.length; i++)
              assert.ok(g.successors(c[i]!).includes(c[(i + 1) % c.length]!));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("edges", () => {
  it("an edge added twice is kept once, whichever of its ends has more edges (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })), {
          maxLength: 60,
        }),
        (pairs) => {
          const g = new Digraph();
          for (const [a, b] of pairs) g.addEdge(`n${a}`, `n${b}`);
          const distinct = [...new Set(pairs.map(([a, b]) => `n${a}>n${b}`))];
          for (let n = 0; n <= 6; n++) {
            const name = `n${n}`;
            assert.deepEqual(
              g.successors(name),
              distinct.filter((e) => e.startsWith(`${name}>`)).map((e) => e.split(">")[1]),
            );
            assert.deepEqual(
              g.predecessors(name),
              distinct.filter((e) => e.endsWith(`>${name}`)).map((e) => e.split(">")[0]),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
