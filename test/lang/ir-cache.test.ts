import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { readFileSync, utimesSync } from "node:fs";
import {
  currentBuildTag,
  type IrIdentity,
  MAX_ENTRIES,
  pruneCachedIrs,
  readCachedIr,
  writeCachedIr,
} from "../../src/lang/ir-cache.js";
import { loadPipeline } from "../../src/lang/load.js";
import { kinds } from "../../src/kinds/registry.js";
import type { AnyKind } from "../../src/stages/kind.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "rnnp-ir-cache-"));
  dirs.push(d);
  return d;
}

const SOURCE = `pipeline p {
  seed 3
  params { n = 5, unused = 1 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.6, val: 0.2, test: 0.2)
  stage h = head(parts, n: params.n)
}
`;

/** A pipeline file, checked as the CLI checks it, and what to key its entry on. */
function checked(source = SOURCE, overrides: string[] = []) {
  const dir = tmp();
  const abs = join(dir, "p.rnnp");
  writeFileSync(abs, source);
  const loaded = loadPipeline("p.rnnp", overrides, dir);
  assert.ok(loaded.ir, JSON.stringify(loaded.diagnostics));
  const bytes = new TextEncoder().encode(source);
  const id: IrIdentity = { build: "b1", version: "0.1.0", file: "p.rnnp", abs, overrides };
  return { loaded, bytes, id, cache: join(dir, "ir") };
}

describe("the checked-IR cache", () => {
  it("gives back the IR, warnings and text exactly as checked, kinds as the registry's objects", () => {
    const { loaded, bytes, id, cache } = checked();
    assert.equal(loaded.diagnostics.length, 1, "the unused param is a warning");
    assert.equal(readCachedIr(cache, id, bytes), undefined, "nothing kept yet");
    writeCachedIr(cache, id, bytes, {
      ir: loaded.ir!,
      diagnostics: loaded.diagnostics,
      source: loaded.source!,
    });
    const kept = readCachedIr(cache, id, bytes);
    assert.ok(kept);
    assert.deepStrictEqual(kept.ir, loaded.ir);
    kept.ir.stages.forEach((s, i) => assert.equal(s.kind, loaded.ir!.stages[i]!.kind));
    assert.deepStrictEqual(kept.diagnostics, loaded.diagnostics);
    assert.equal(kept.source, SOURCE);
    assert.equal(readdirSync(cache).length, 1, "no temporary file left behind");
  });

  it("misses when anything the IR depends on differs: bytes, path, folder, -P, build, version", () => {
    const { loaded, bytes, id, cache } = checked();
    writeCachedIr(cache, id, bytes, { ir: loaded.ir!, diagnostics: [], source: SOURCE });
    assert.ok(readCachedIr(cache, id, bytes));
    const edited = new TextEncoder().encode(SOURCE.replace("n = 5", "n = 6"));
    assert.equal(readCachedIr(cache, id, edited), undefined, "one byte of the file");
    assert.equal(readCachedIr(cache, id, bytes.subarray(1)), undefined, "a shorter file");
    const variants: Partial<IrIdentity>[] = [
      { file: "./p.rnnp" },
      { abs: join(tmp(), "p.rnnp") },
      { overrides: ["n=6"] },
      { overrides: [""] },
      { build: "b2" },
      { version: "0.1.1" },
    ];
    for (const v of variants)
      assert.equal(readCachedIr(cache, { ...id, ...v }, bytes), undefined, JSON.stringify(v));
  });

  it("keys -P overrides exactly: any other list of them misses (property)", () => {
    const { loaded, bytes, id, cache } = checked(SOURCE, []);
    fc.assert(
      fc.property(
        fc.array(fc.string(), { maxLength: 4 }),
        fc.array(fc.string(), { maxLength: 4 }),
        (a, b) => {
          rmSync(cache, { recursive: true, force: true }); // each case starts with nothing kept
          const ida = { ...id, overrides: a };
          writeCachedIr(cache, ida, bytes, { ir: loaded.ir!, diagnostics: [] });
          assert.ok(readCachedIr(cache, ida, bytes));
          const same = a.length === b.length && a.every((x, i) => x === b[i]);
          assert.equal(readCachedIr(cache, { ...id, overrides: b }, bytes) !== undefined, same);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("replaces the entry when the file changes, and treats a damaged entry as a miss", () => {
    const { loaded, bytes, id, cache } = checked();
    writeCachedIr(cache, id, bytes, { ir: loaded.ir!, diagnostics: [] });
    const edited = new TextEncoder().encode(`${SOURCE}\n`);
    writeCachedIr(cache, id, edited, { ir: loaded.ir!, diagnostics: [] });
    assert.equal(readdirSync(cache).length, 1, "one entry per file and overrides");
    assert.equal(readCachedIr(cache, id, bytes), undefined);
    assert.ok(readCachedIr(cache, id, edited));
    const [entry] = readdirSync(cache);
    for (const damage of [new Uint8Array(), new Uint8Array([0xff, 0x0f, 1, 2, 3])]) {
      writeFileSync(join(cache, entry!), damage);
      assert.equal(readCachedIr(cache, id, edited), undefined);
    }
  });

  it("keeps and serves nothing while the registry holds a kind rnnp does not ship", () => {
    const { loaded, bytes, id, cache } = checked();
    writeCachedIr(cache, id, bytes, { ir: loaded.ir!, diagnostics: [] });
    const registry = kinds as Map<string, AnyKind>;
    const head = registry.get("head")!;
    try {
      registry.set("test.plugin", { ...head, name: "test.plugin" });
      assert.equal(readCachedIr(cache, id, bytes), undefined);
      registry.delete("test.plugin");
      registry.set("head", { ...head });
      assert.equal(readCachedIr(cache, id, bytes), undefined, "a shipped kind replaced");
    } finally {
      registry.delete("test.plugin");
      registry.set("head", head);
    }
    assert.ok(readCachedIr(cache, id, bytes), "served again once the registry is as shipped");
  });

  it("treats a damaged entry as a miss, even one that still decodes, and never throws", () => {
    const { loaded, bytes, id, cache } = checked();
    writeCachedIr(cache, id, bytes, { ir: loaded.ir!, diagnostics: [] });
    const [name] = readdirSync(cache);
    const path = join(cache, name!);
    const good = readFileSync(path);
    // A flipped byte that still decodes: another data file.
    const flipped = Buffer.from(good.toString("latin1").replace("d.csv", "e.csv"), "latin1");
    assert.notDeepEqual(flipped, good);
    writeFileSync(path, flipped);
    assert.equal(readCachedIr(cache, id, bytes), undefined);
    // A well-formed entry (its digest right) of an unexpected shape: a miss, not a crash.
    const entry = JSON.parse(good.subarray(32).toString("utf8")) as { ir: Record<string, unknown> };
    entry.ir.stagez = entry.ir.stages;
    delete entry.ir.stages;
    const payload = Buffer.from(JSON.stringify(entry));
    writeFileSync(path, Buffer.concat([createHash("sha256").update(payload).digest(), payload]));
    assert.equal(readCachedIr(cache, id, bytes), undefined);
    // The next write repairs it.
    writeCachedIr(cache, id, bytes, { ir: loaded.ir!, diagnostics: [] });
    assert.ok(readCachedIr(cache, id, bytes));
  });

  it("stays small: other builds' entries, stale temporary files and the least used beyond the cap go", () => {
    const { loaded, bytes, id, cache } = checked();
    const other = { ...id, build: "b0" };
    writeCachedIr(cache, other, bytes, { ir: loaded.ir!, diagnostics: [] });
    writeFileSync(join(cache, "x.ir.123.abcd.tmp"), "half");
    writeFileSync(join(cache, "y.ir.123.abcd.tmp"), "being written");
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(cache, "x.ir.123.abcd.tmp"), old, old);
    writeCachedIr(cache, id, bytes, { ir: loaded.ir!, diagnostics: [] });
    const tag = currentBuildTag(id.build, id.version)!;
    const left = readdirSync(cache).sort();
    assert.deepEqual(left.length, 2, left.join(", "));
    assert.ok(left.some((n) => n.startsWith(`${tag}-`) && n.endsWith(".ir")));
    assert.ok(left.includes("y.ir.123.abcd.tmp"), "a writer may still be renaming it");
    assert.equal(readCachedIr(cache, other, bytes), undefined);
    // The cap: the least recently used go first. Entry n=i is last used i seconds after the
    // oldest, all of them before the entry written above (just now).
    const nth = (i: number) => ({ ...id, overrides: [`n=${i}`] });
    for (let i = 0; i < MAX_ENTRIES + 3; i++) {
      const before = new Set(readdirSync(cache));
      writeCachedIr(cache, nth(i), bytes, { ir: loaded.ir!, diagnostics: [] });
      const made = readdirSync(cache).filter((n) => n.endsWith(".ir") && !before.has(n));
      assert.equal(made.length, 1, `n=${i}: ${made.join(", ")}`);
      const t = new Date(Date.now() - (MAX_ENTRIES + 3 - i) * 1000);
      utimesSync(join(cache, made[0]!), t, t);
    }
    const irs = readdirSync(cache).filter((n) => n.endsWith(".ir"));
    assert.equal(irs.length, MAX_ENTRIES);
    // 1 + 259 entries written, 256 kept: n=0 to n=3 went, the entry used most recently stayed.
    assert.deepEqual(
      [0, 1, 2, 3, 4, MAX_ENTRIES + 2].map((i) => readCachedIr(cache, nth(i), bytes) !== undefined),
      [false, false, false, false, true, true],
    );
    assert.ok(readCachedIr(cache, id, bytes));
    // gc's rules: another build's entries all go; --max-age drops the unused.
    assert.equal(pruneCachedIrs(cache, { build: "0".repeat(16), dryRun: true }), MAX_ENTRIES);
    assert.equal(readdirSync(cache).filter((n) => n.endsWith(".ir")).length, MAX_ENTRIES);
    assert.equal(pruneCachedIrs(cache, { build: tag, maxAgeMs: 0 }), MAX_ENTRIES);
  });

  it("keeps every shipped pipeline, and gives each back exactly (its IR survives JSON)", () => {
    const root = join(import.meta.dirname, "..", "..", "pipelines");
    const files = readdirSync(root).filter((f) => f.endsWith(".rnnp"));
    assert.ok(files.length >= 8, files.join(", "));
    for (const f of files) {
      const bytes = readFileSync(join(root, f));
      const loaded = loadPipeline(f, [], root, bytes);
      assert.ok(loaded.ir, `${f}: ${JSON.stringify(loaded.diagnostics)}`);
      const cache = join(tmp(), "ir");
      const id: IrIdentity = {
        build: "b1",
        version: "0.1.0",
        file: f,
        abs: join(root, f),
        overrides: [],
      };
      writeCachedIr(cache, id, bytes, { ir: loaded.ir, diagnostics: loaded.diagnostics });
      const kept = readCachedIr(cache, id, bytes);
      assert.ok(kept, `${f} was not kept`);
      assert.deepStrictEqual(kept.ir, loaded.ir, f);
    }
  });

  it("keeps no IR that JSON would give back changed (a -0, an undefined property)", () => {
    const { loaded, bytes, id, cache } = checked();
    const ir = loaded.ir!;
    const withStage = (patch: Record<string, unknown>) => ({
      ...ir,
      stages: [...ir.stages.slice(0, -1), { ...ir.stages.at(-1)!, ...patch }],
    });
    for (const changed of [
      withStage({ params: { n: -0 } }),
      withStage({ variant: undefined }),
      { ...ir, params: { ...ir.params, n: -0 } },
    ]) {
      writeCachedIr(cache, id, bytes, { ir: changed as typeof ir, diagnostics: [] });
      assert.equal(readCachedIr(cache, id, bytes), undefined);
      assert.throws(() => readdirSync(cache), /ENOENT/, "nothing written");
    }
    writeCachedIr(cache, id, bytes, { ir, diagnostics: [] });
    assert.ok(readCachedIr(cache, id, bytes), "the IR as checked is kept");
  });

  it("keeps nothing without a build identity (rnnp run from its sources)", () => {
    const { loaded, bytes, id, cache } = checked();
    const unbuilt = { ...id, build: undefined };
    writeCachedIr(cache, unbuilt, bytes, { ir: loaded.ir!, diagnostics: [] });
    assert.throws(() => readdirSync(cache), /ENOENT/);
    assert.equal(readCachedIr(cache, unbuilt, bytes), undefined);
  });
});
