/**
 * A small directed graph over names, for the stage DAG and the params' references. Names are what
 * users wrote (`stage __proto__ = ...` is a name like any other), so everything is kept in Maps and
 * Sets, never in objects keyed by a name. Every algorithm is iterative: a chain of 100,000 stages
 * must not overflow the call stack.
 */
export class Digraph {
  private readonly out = new Map<string, string[]>();
  private readonly in = new Map<string, string[]>();

  /** Adds a node (once; the first insertion fixes its place in `nodes()`). */
  addNode(name: string): this {
    if (!this.out.has(name)) {
      this.out.set(name, []);
      this.in.set(name, []);
    }
    return this;
  }

  /** Adds the edge from -> to, and both nodes if they are new. Adding an edge twice keeps one. */
  addEdge(from: string, to: string): this {
    this.addNode(from).addNode(to);
    const outs = this.out.get(from)!;
    const ins = this.in.get(to)!;
    // Looked for in the shorter list: a stage reads few stages, and few read most stages (a fan's
    // source has 10,000 successors, each of which has one predecessor).
    if (outs.length <= ins.length ? !outs.includes(to) : !ins.includes(from)) {
      outs.push(to);
      ins.push(from);
    }
    return this;
  }

  has(name: string): boolean {
    return this.out.has(name);
  }

  /** In insertion order. */
  nodes(): string[] {
    return [...this.out.keys()];
  }

  get size(): number {
    return this.out.size;
  }

  /** The nodes `name` has an edge to, in insertion order; empty for an unknown node. */
  successors(name: string): readonly string[] {
    return this.out.get(name) ?? [];
  }

  /** The nodes with an edge to `name`, in insertion order; empty for an unknown node. */
  predecessors(name: string): readonly string[] {
    return this.in.get(name) ?? [];
  }

  /** How many nodes have an edge to `name`. */
  inDegree(name: string): number {
    return this.in.get(name)?.length ?? 0;
  }
}

/**
 * The strongly connected components (Tarjan's algorithm, with an explicit stack), each listed in
 * the order its nodes were added; components are in reverse topological order, as Tarjan finds them.
 */
export function stronglyConnected(g: Digraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const order = new Map(g.nodes().map((n, i) => [n, i]));
  let next = 0;
  for (const root of g.nodes()) {
    if (index.has(root)) continue;
    // Each frame: a node and the position of the next successor to visit.
    const frames: { node: string; succ: readonly string[]; i: number }[] = [];
    const enter = (node: string) => {
      index.set(node, next);
      low.set(node, next);
      next++;
      stack.push(node);
      onStack.add(node);
      frames.push({ node, succ: g.successors(node), i: 0 });
    };
    enter(root);
    while (frames.length) {
      const top = frames[frames.length - 1]!;
      if (top.i < top.succ.length) {
        const w = top.succ[top.i++]!;
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      frames.pop();
      const v = top.node;
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(v)!));
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        components.push(component.sort((a, b) => order.get(a)! - order.get(b)!));
      }
    }
  }
  return components;
}

/** The components that hold a cycle: several nodes, or one node with an edge to itself. */
export function cyclicComponents(g: Digraph): string[][] {
  return stronglyConnected(g).filter((c) => c.length > 1 || g.successors(c[0]!).includes(c[0]!));
}

/**
 * The shortest cycle through `start` inside one strongly connected component (breadth first,
 * successors in code-unit order, so the path named in a message is stable): `[start, ..., last]`,
 * where `last` has an edge back to `start`.
 */
export function shortestCycle(g: Digraph, start: string, members: ReadonlySet<string>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const at = queue[head]!;
    const next = g
      .successors(at)
      .filter((n) => members.has(n))
      .sort(byCodeUnit);
    for (const n of next) {
      if (n === start) {
        const path = [at];
        while (path[path.length - 1] !== start) path.push(parent.get(path[path.length - 1]!)!);
        return path.reverse();
      }
      if (!parent.has(n)) {
        parent.set(n, at);
        queue.push(n);
      }
    }
  }
  return [start];
}

/** Each cycle of the graph, as its shortest path through its first member in code-unit order. */
export function cycles(g: Digraph): string[][] {
  return cyclicComponents(g).map((c) => {
    const start = [...c].sort(byCodeUnit)[0]!;
    return shortestCycle(g, start, new Set(c));
  });
}

/**
 * Kahn's topological order; among the nodes that are ready, the one with the lowest `rank` comes
 * first (insertion order by default), so the order reads like the source. A binary heap keeps it
 * O((V + E) log V). Nodes on or behind a cycle are left out of `order` and listed in `blocked`.
 */
export function topologicalOrder(
  g: Digraph,
  rank: (name: string) => number = insertionRank(g),
): { order: string[]; blocked: string[] } {
  const remaining = new Map<string, number>();
  const ready = new MinHeap<string>((a, b) => rank(a) - rank(b));
  for (const n of g.nodes()) {
    const d = g.inDegree(n);
    remaining.set(n, d);
    if (d === 0) ready.push(n);
  }
  const order: string[] = [];
  while (ready.size) {
    const n = ready.pop()!;
    order.push(n);
    for (const s of g.successors(n)) {
      const d = remaining.get(s)! - 1;
      remaining.set(s, d);
      if (d === 0) ready.push(s);
    }
  }
  const placed = new Set(order);
  return { order, blocked: g.nodes().filter((n) => !placed.has(n)) };
}

/** `from` and every node with a path to one of them. */
export function ancestors(g: Digraph, from: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const todo: string[] = [];
  for (const n of from) if (!seen.has(n)) seen.add(n), todo.push(n);
  while (todo.length) {
    for (const p of g.predecessors(todo.pop()!)) if (!seen.has(p)) seen.add(p), todo.push(p);
  }
  return seen;
}

function insertionRank(g: Digraph): (name: string) => number {
  const rank = new Map(g.nodes().map((n, i) => [n, i]));
  return (n) => rank.get(n)!;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A binary min-heap. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A cycle for a message: `a -> b -> a`, or the ends of a long one and how many are between. */
export function describeCycle(path: readonly string[], max = 12): string {
  const closed = [...path, path[0]!];
  if (closed.length <= max) return closed.join(" -> ");
  const head = closed.slice(0, max - 3);
  const tail = closed.slice(-2);
  return `${head.join(" -> ")} -> ... (${closed.length - head.length - tail.length} more) -> ${tail.join(" -> ")}`;
}
