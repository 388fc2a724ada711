import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { lex } from "../../grammar/lexer.js";
import type { CacheStore } from "../../src/cache/store.js";
import { canonicalJson } from "../../src/core/canonical.js";
import { CODES } from "../../src/core/codes.js";
import type { Diagnostic } from "../../src/core/diagnostic.js";
import { renderDiagnostics } from "../../src/core/render.js";
import { kinds } from "../../src/kinds/registry.js";
import { format } from "../../src/lang/format.js";
import type { PipelineIR } from "../../src/lang/ir.js";
import { checkSource } from "../../src/lang/load.js";
import { Planner } from "../../src/plan/planner.js";
import type { BlockSpec } from "../../src/stages/kind.js";
import { ROOT } from "../helpers.js";

/**
 * The language fuzzer (issue 10): inputs from two families of arbitraries — token soups, grammar-
 * shaped random pipelines, and mutations of the example pipelines — run in-process through the
 * whole front end: parse, check, the planner's graph and order, rendering, `fmt` (and fmt again).
 * The property: diagnostics, each with a code from the catalogue and a place in the file, or
 * success; never an exception, never a changed Object.prototype (checked after every input, and
 * repaired, so one pollution does not poison the inputs after it), never over a time bound.
 */
const FILE = "fuzz.rnnp";
/** Per input. Inputs are a few kilobytes; the front end takes milliseconds on them. */
export const TIME_BOUND_MS = 2000;

// ---- vocabulary ------------------------------------------------------------------------------------

/** Names that Object, Array or Function already have: each must be plain data to rnnp. */
const PROTO_NAMES = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "__defineGetter__",
  "length",
  "call",
  "apply",
];

function blockItems(spec: BlockSpec | undefined, into: Set<string>): void {
  if (!spec) return;
  for (const name of Object.keys(spec.items)) into.add(name);
  for (const inner of Object.values(spec.nested ?? {})) blockItems(inner, into);
}

const KIND_NAMES = [...kinds.keys()];
const PARAM_NAMES = [
  ...new Set(
    [...kinds.values()].flatMap((k) => [...Object.keys(k.params), ...Object.keys(k.inputs)]),
  ),
];
const ITEM_NAMES = (() => {
  const s = new Set<string>();
  for (const k of kinds.values()) blockItems(k.block, s);
  return [...s];
})();
const NAMES = ["raw", "parts", "train", "seqs", "x", "a", "b", "params", "out", ...PROTO_NAMES];

const name = fc.oneof(
  fc.constantFrom(...NAMES),
  fc.constantFrom(...PARAM_NAMES),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/),
);

const NUMBERS = [
  "0",
  "1",
  "2",
  "-1",
  "1.5",
  ".5",
  "5.",
  "1e400",
  "-1e400",
  "1e-400",
  "1e308",
  "4294967296",
  "123456789012345678901234567890",
  "0.1",
  "-0",
];
const STRINGS = [
  '"a"',
  '""',
  '"\\n"',
  '"\\q"',
  '"\\u12"',
  '"\\u00e9"',
  '"a\tb"',
  '"a\u0000b"',
  '"\u007f"',
  '"\u000b"',
  '"\\\\"',
  '"npm:x/y"',
  '"d.csv"',
  '"char"',
  '"softmax"',
  '"😀"',
  '"\\ud800"',
];
const PUNCT = ["{", "}", "(", ")", "[", "]", ",", ":", "=", ".", "+", "-", "*", "/"];
const ODD = [
  "\uFEFF",
  "\u0000",
  "\u2028",
  "é",
  "\r\n",
  "$",
  "@",
  "\\",
  "`",
  "'x'",
  '"open',
  "# c\n",
  "// c\n",
  "\t",
  "\u00a0",
];
const KEYWORDS = [
  "pipeline",
  "stage",
  "params",
  "true",
  "false",
  "seed",
  "backend",
  "kernels",
  "sweep",
];

// ---- arbitraries -----------------------------------------------------------------------------------

/** A soup of tokens (and things that are not tokens), mostly inside `pipeline p { ... }`. */
export const tokenSoup: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...PUNCT) },
        { weight: 3, arbitrary: name },
        { weight: 2, arbitrary: fc.constantFrom(...KEYWORDS, ...KIND_NAMES, ...ITEM_NAMES) },
        { weight: 2, arbitrary: fc.constantFrom(...NUMBERS) },
        { weight: 1, arbitrary: fc.constantFrom(...STRINGS) },
        { weight: 1, arbitrary: fc.constantFrom(...ODD) },
        { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
      ),
      { maxLength: 80 },
    ),
    fc.array(fc.constantFrom(" ", "\n", "", "  "), { minLength: 80, maxLength: 80 }),
    fc.boolean(),
  )
  .map(([parts, seps, wrapped]) => {
    const body = parts.map((p, i) => p + seps[i]!).join("");
    return wrapped || body.length === 0 ? `pipeline p {\n${body}\n}\n` : body;
  });

/** Values as the grammar allows them, with arithmetic, references and calls, a few levels deep. */
const value: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...NUMBERS),
    fc.constantFrom(...STRINGS),
    fc.constantFrom("true", "false"),
    name.map((n) => `params.${n}`),
    name,
    fc.tuple(name, name).map(([a, b]) => `${a}.${b}`),
    fc.array(tie("v"), { maxLength: 4 }).map((xs) => `[${xs.join(", ")}]`),
    fc
      .array(fc.tuple(fc.oneof(name, fc.constantFrom(...STRINGS)), tie("v")), { maxLength: 3 })
      .map((es) => `{${es.map(([k, x]) => `${k}: ${x}`).join(", ")}}`),
    fc
      .tuple(
        fc.constantFrom("adam", "sgd", "rmsprop", "cosine", ...PROTO_NAMES),
        fc.array(fc.tuple(name, tie("v")), { maxLength: 2 }),
      )
      .map(([c, as]) => `${c}(${as.map(([k, x]) => `${k}: ${x}`).join(", ")})`),
    fc
      .tuple(tie("v"), fc.constantFrom("+", "-", "*", "/"), tie("v"))
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    tie("v").map((x) => `(${x})`),
    tie("v").map((x) => `-${x}`),
  ),
})).v;

const args = fc
  .array(
    fc.oneof(
      fc
        .tuple(fc.oneof(fc.constantFrom(...PARAM_NAMES), name), value)
        .map(([k, v]) => `${k}: ${v}`),
      fc.constantFrom(...NAMES).map((n) => n),
    ),
    { maxLength: 5 },
  )
  .map((as) => `(${as.join(", ")})`);

const layer: fc.Arbitrary<string> = fc.letrec<{ l: string }>((tie) => ({
  l: fc.oneof(
    { depthSize: "small" },
    fc
      .tuple(fc.oneof(fc.constantFrom(...ITEM_NAMES), name), fc.option(args))
      .map(([n, a]) => n + (a ?? "")),
    fc
      .tuple(fc.constantFrom(...ITEM_NAMES, ...PROTO_NAMES), fc.array(tie("l"), { maxLength: 3 }))
      .map(([n, ls]) => `${n} { ${ls.join(" ")} }`),
  ),
})).l;

/** Pipelines shaped by the grammar: settings, params, stages of real (and unreal) kinds. */
export const grammarPipeline: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc
        .tuple(fc.constantFrom("seed", "backend", "kernels", "sweep", ...PROTO_NAMES), value)
        .map(([s, v]) => `${s} ${v}`),
      fc
        .array(fc.tuple(name, value), { maxLength: 4 })
        .map((ps) => `params { ${ps.map(([k, v]) => `${k} = ${v}`).join(", ")} }`),
      fc
        .tuple(
          fc.oneof(fc.constantFrom(...NAMES), name),
          fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KIND_NAMES) }, name),
          fc.option(args),
          fc.option(fc.array(layer, { maxLength: 4 })),
        )
        .map(([n, k, a, b]) => `stage ${n} = ${k}${a ?? ""}${b ? ` { ${b.join(" ")} }` : ""}`),
    ),
    { maxLength: 8 },
  )
  .map((items) => `pipeline p {\n  ${items.join("\n  ")}\n}\n`);

const EXAMPLES = readdirSync(join(ROOT, "pipelines"))
  .filter((f) => f.endsWith(".rnnp"))
  .sort()
  .map((f) => readFileSync(join(ROOT, "pipelines", f), "utf8"));

type Mutation = (s: string) => string;

/** A few edits of an example pipeline: by character, by token and by line. */
export const mutatedExample: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...EXAMPLES),
    fc.array(
      fc.oneof(
        fc.tuple(fc.nat(), fc.nat(200)).map(
          ([at, n]): Mutation =>
            (s) => {
              const i = at % (s.length + 1);
              return s.slice(0, i) + s.slice(i + n);
            },
        ),
        fc.tuple(fc.nat(), fc.nat(), fc.nat(300)).map(
          ([from, to, n]): Mutation =>
            (s) => {
              const i = from % (s.length + 1);
              const j = to % (s.length + 1);
              return s.slice(0, j) + s.slice(i, i + n) + s.slice(j);
            },
        ),
        fc
          .tuple(
            fc.nat(),
            fc.oneof(
              fc.constantFrom(
                ...PUNCT,
                ...NUMBERS,
                ...STRINGS,
                ...ODD,
                ...PROTO_NAMES,
                ...KEYWORDS,
              ),
              value,
            ),
          )
          .map(
            ([at, text]): Mutation =>
              (s) => {
                const i = at % (s.length + 1);
                return s.slice(0, i) + text + s.slice(i);
              },
          ),
        fc
          .tuple(
            fc.nat(),
            fc.oneof(fc.constantFrom(...PROTO_NAMES, ...PUNCT, ...NUMBERS), value, name),
          )
          .map(
            ([at, text]): Mutation =>
              (s) => {
                const tokens = lex(s).tokens;
                const t = tokens[at % Math.max(1, tokens.length)];
                return t ? s.slice(0, t.startOffset) + text + s.slice(t.endOffset! + 1) : s;
              },
          ),
        fc.tuple(fc.nat(), fc.nat()).map(
          ([a, b]): Mutation =>
            (s) => {
              const lines = s.split("\n");
              const i = a % lines.length;
              const j = b % lines.length;
              [lines[i], lines[j]] = [lines[j]!, lines[i]!];
              return lines.join("\n");
            },
        ),
        fc.nat().map(
          (at): Mutation =>
            (s) =>
              s.slice(0, at % (s.length + 1)),
        ),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([source, edits]) => edits.reduce((s, edit) => edit(s), source));

/** Every family, for one property. */
export const anyInput: fc.Arbitrary<string> = fc.oneof(tokenSoup, grammarPipeline, mutatedExample);

// ---- the property ----------------------------------------------------------------------------------

const PROTOTYPES = [
  Object.prototype,
  Array.prototype,
  Function.prototype,
  String.prototype,
  Number.prototype,
  Boolean.prototype,
];

/**
 * What user text must never write to: the prototypes, the built-in functions on them (a name
 * looked up on a plain object can find `Object.prototype.toString`, and a write through it lands
 * on that function) and the global constructors.
 */
const WATCHED: object[] = [
  ...PROTOTYPES,
  ...PROTOTYPES.flatMap((p) =>
    Reflect.ownKeys(p).flatMap((k) => {
      const d = Object.getOwnPropertyDescriptor(p, k);
      return typeof d?.value === "function" ? [d.value as object] : [];
    }),
  ),
  Object,
  Array,
  Function,
  String,
  Number,
  Boolean,
  JSON,
  Math,
  Reflect,
];

type Snapshot = Map<
  object,
  { proto: object | null; keys: Map<string | symbol, PropertyDescriptor> }
>;

function snapshot(): Snapshot {
  return new Map(
    WATCHED.map((o) => [
      o,
      {
        proto: Object.getPrototypeOf(o) as object | null,
        keys: new Map(Reflect.ownKeys(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)!])),
      },
    ]),
  );
}

/** What changed since `before`, undone; empty when nothing did. */
function repairPollution(before: Snapshot): string[] {
  const changed: string[] = [];
  for (const [o, { proto, keys }] of before) {
    const name = (typeof o === "function" ? o.name : "") || "a prototype";
    for (const k of Reflect.ownKeys(o)) {
      if (!keys.has(k)) {
        changed.push(`${name} gained ${String(k)}`);
        Reflect.deleteProperty(o, k);
      }
    }
    for (const [k, d] of keys) {
      const now = Object.getOwnPropertyDescriptor(o, k);
      if (!now || !Object.is(now.value, d.value) || now.get !== d.get || now.set !== d.set) {
        changed.push(`${name}.${String(k)} changed`);
        Object.defineProperty(o, k, d);
      }
    }
    if (Object.getPrototypeOf(o) !== proto) {
      changed.push(`${name}'s prototype changed`);
      Object.setPrototypeOf(o, proto);
    }
  }
  return changed;
}

/** The planner never touches its store before a stage is resolved. */
const NO_STORE = {} as CacheStore;

function assertPlaced(d: Diagnostic, source: string): void {
  assert.ok(Object.hasOwn(CODES, d.code), `unknown code ${d.code}`);
  assert.equal(d.severity, CODES[d.code].severity, d.code);
  assert.equal(d.file, FILE, `${d.code} ${d.message}: no file`);
  const s = d.span;
  assert.ok(s, `${d.code} ${d.message}: no span`);
  for (const p of [s.start, s.end]) {
    assert.ok(Number.isInteger(p.line) && p.line >= 1, `${d.code} ${d.message}: line ${p.line}`);
    assert.ok(Number.isInteger(p.column) && p.column >= 1, `${d.code}: column ${p.column}`);
    assert.ok(
      Number.isInteger(p.offset) && p.offset >= 0 && p.offset <= source.length + 1,
      `${d.code}: offset ${p.offset}`,
    );
  }
  assert.ok(s.end.offset >= s.start.offset, `${d.code}: span ends before it starts`);
}

/** What a checked pipeline means, for comparing before and after fmt. */
function meaning(ir: PipelineIR): string {
  return canonicalJson({
    seed: ir.seed,
    params: ir.params,
    stages: ir.stages.map((s) => ({
      name: s.name,
      kind: s.kind.name,
      params: s.params,
      inputs: Object.fromEntries(
        Object.entries(s.inputs).map(([k, r]) => [k, `${r.stage}.${r.output ?? ""}`]),
      ),
    })),
  });
}

/** The front end on one input; throws (the property fails) on any broken promise. True when valid. */
export function frontEnd(source: string): boolean {
  const loaded = checkSource(source, FILE);
  for (const d of loaded.diagnostics) assertPlaced(d, source);
  if (!loaded.ir)
    assert.ok(
      loaded.diagnostics.some((d) => d.severity === "error"),
      "no IR, and no error to say why",
    );
  const rendered = renderDiagnostics(loaded.diagnostics, { sources: new Map([[FILE, source]]) });
  assert.ok(rendered.split("\n").length <= 50 * 12 + 4, "rendering is bounded");
  if (loaded.ir) {
    const planner = new Planner(loaded.ir, NO_STORE);
    assert.equal(planner.order.length, loaded.ir.stages.length);
    planner.closure(loaded.ir.stages.map((s) => s.name));
    for (const s of loaded.ir.stages) canonicalJson(s.params); // what keys hash
  }
  const formatted = format(source, FILE);
  if (!loaded.diagnostics.some((d) => d.severity === "error" && d.code === "syntax"))
    assert.ok(formatted.text !== undefined || formatted.diagnostics.length > 0, "fmt says why");
  if (formatted.text !== undefined) {
    assert.equal(format(formatted.text, FILE).text, formatted.text, "fmt is idempotent");
    if (loaded.ir) {
      const again = checkSource(formatted.text, FILE);
      assert.ok(again.ir, `fmt broke a valid pipeline:\n${formatted.text}`);
      assert.equal(meaning(again.ir), meaning(loaded.ir), "fmt changed the meaning");
    }
  }
  return loaded.ir !== undefined;
}

export interface FuzzStats {
  inputs: number;
  ms: number;
  slowestMs: number;
  valid: number;
}

/**
 * The predicate for fast-check: the front end on `source`, with the prototypes checked and
 * repaired after it, and the time bound (confirmed by a second run, so a GC pause or a busy machine
 * is not a finding).
 */
export function fuzzOne(stats: FuzzStats): (source: string) => void {
  return (source) => {
    const before = snapshot();
    const t0 = performance.now();
    let threw: unknown;
    let valid = false;
    try {
      valid = frontEnd(source);
    } catch (e) {
      threw = e;
    }
    const ms = performance.now() - t0;
    const polluted = repairPollution(before);
    stats.inputs++;
    stats.ms += ms;
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    if (polluted.length) throw new Error(`prototype polluted: ${polluted.join(", ")}`);
    if (threw) throw threw;
    if (valid) stats.valid++;
    if (ms > TIME_BOUND_MS) {
      const t1 = performance.now();
      frontEnd(source);
      const again = performance.now() - t1;
      assert.ok(again <= TIME_BOUND_MS, `took ${Math.round(ms)} ms, then ${Math.round(again)} ms`);
    }
  };
}

export function report(stats: FuzzStats, wallMs: number): string {
  return `${stats.inputs} inputs in ${(wallMs / 1000).toFixed(1)} s (${Math.round((stats.inputs * 1000) / wallMs)} inputs/s; front end ${(stats.ms / Math.max(1, stats.inputs)).toFixed(2)} ms each, slowest ${stats.slowestMs.toFixed(0)} ms); ${stats.valid} valid pipelines`;
}

export interface Finding {
  count: number;
  /** The shortest input that gave it. */
  smallest: string;
}

/**
 * A campaign: inputs from `arb` for `seconds`, every failure kept (grouped by its message's first
 * line) rather than stopping at the first, so a long run reports each distinct problem and how often.
 */
export function campaign(
  arb: fc.Arbitrary<string>,
  seconds: number,
  seed: number,
): { stats: FuzzStats; findings: Map<string, Finding>; wallMs: number } {
  const stats: FuzzStats = { inputs: 0, ms: 0, slowestMs: 0, valid: 0 };
  const findings = new Map<string, Finding>();
  const run = fuzzOne(stats);
  const start = performance.now();
  for (let batch = 0; performance.now() - start < seconds * 1000; batch++) {
    for (const source of fc.sample(arb, { numRuns: 200, seed: seed + batch })) {
      try {
        run(source);
      } catch (e) {
        const text = e instanceof Error ? e.message : String(e);
        const key = text.split("\n")[0]!.replace(/\d+/g, "N").slice(0, 160);
        const f = findings.get(key);
        if (!f) findings.set(key, { count: 1, smallest: source });
        else {
          f.count++;
          if (source.length < f.smallest.length) f.smallest = source;
        }
      }
      if (performance.now() - start >= seconds * 1000) break;
    }
  }
  return { stats, findings, wallMs: performance.now() - start };
}
