import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers.js";

/**
 * Each folder is a room with one idea, and may import only from the rooms listed for it here (type
 * imports included). Data flows from source text to results; calls go down this graph, never up:
 *
 *   cli ─> lsp ─> plan, lang, kinds, numerics (editor support)
 *   cli ─> run ─> plan ─> lang ─> grammar
 *    │      │      │       └────> kinds ─> evaluation ─> numerics ─> data ─> stages ─> artifacts
 *    │      │      └─> cache                                                   └─> runtime ─> core
 *    ├──────┴──────────────────> project
 *    └─> report (the HTML report: reads plans, the cache and artifacts; sits above run, below cli)
 *
 * The graph must stay acyclic (the test checks that too), so that any room can be understood, and
 * tested, with only the rooms below it.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  runtime: ["core"],
  project: ["core"],
  artifacts: ["core"],
  cache: ["core"],
  grammar: ["core"],
  stages: ["core", "artifacts", "runtime"],
  data: ["core", "artifacts", "stages"],
  numerics: ["core", "artifacts", "stages", "data", "runtime"],
  evaluation: ["core", "artifacts", "numerics"],
  kinds: ["core", "artifacts", "stages", "data", "numerics", "evaluation", "project", "runtime"],
  lang: ["core", "grammar", "stages", "kinds", "artifacts", "runtime"],
  plan: ["core", "cache", "lang", "project", "runtime", "stages"],
  run: ["core", "cache", "lang", "plan", "project", "runtime", "stages", "artifacts", "numerics"],
  lsp: [
    "core",
    "grammar",
    "lang",
    "kinds",
    "numerics",
    "stages",
    "plan",
    "cache",
    "project",
    "runtime",
  ],
  report: [
    "core",
    "cache",
    "lang",
    "plan",
    "run",
    "runtime",
    "stages",
    "artifacts",
    "numerics",
    "evaluation",
    "kinds",
  ],
  cli: [
    "lsp",
    "report",
    "core",
    "cache",
    "lang",
    "plan",
    "run",
    "project",
    "runtime",
    "stages",
    "artifacts",
    "numerics",
    "kinds",
    "evaluation",
    "data",
    "grammar",
  ],
};

function roomOf(file: string): string | undefined {
  const [top, second] = relative(ROOT, file).split("/");
  if (top === "grammar") return "grammar";
  return top === "src" && second !== undefined && !second.endsWith(".ts") ? second : undefined;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory()
      ? sources(p)
      : e.name.endsWith(".ts") && !e.name.endsWith(".spec.ts")
        ? [p]
        : [];
  });
}

/** Room -> rooms it imports from, read off the sources. */
function importsByRoom(): { edges: Map<string, Set<string>>; violations: string[] } {
  const edges = new Map<string, Set<string>>();
  const violations: string[] = [];
  for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "grammar"))]) {
    const own = roomOf(file);
    if (own === undefined || !Object.hasOwn(ALLOWED, own)) {
      violations.push(`${relative(ROOT, file)} is in no known room`);
      continue;
    }
    for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
      const target = roomOf(resolve(dirname(file), m[1]!));
      if (target === undefined || target === own) continue;
      if (!edges.has(own)) edges.set(own, new Set());
      edges.get(own)!.add(target);
      if (!ALLOWED[own]!.includes(target))
        violations.push(`${relative(ROOT, file)} imports from ${target}, which ${own} may not use`);
    }
  }
  return { edges, violations };
}

describe("rooms", () => {
  it("no module imports from a room its own may not use", () => {
    const { edges, violations } = importsByRoom();
    assert.deepEqual(violations, []);
    // The check would pass on an empty tree: make sure it saw the real one.
    assert.ok(edges.get("cli")?.has("run") && edges.get("kinds")?.has("stages"));
  });

  it("the allowed edges form an acyclic graph", () => {
    const state = new Map<string, "visiting" | "done">();
    const visit = (room: string, path: string[]): void => {
      if (state.get(room) === "done") return;
      assert.notEqual(state.get(room), "visiting", `cycle: ${[...path, room].join(" -> ")}`);
      state.set(room, "visiting");
      for (const next of ALLOWED[room] ?? []) visit(next, [...path, room]);
      state.set(room, "done");
    };
    for (const room of Object.keys(ALLOWED)) visit(room, []);
  });
});
