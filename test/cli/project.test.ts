import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CONFIG_SCHEMA } from "../../src/project/config-schema.js";
import {
  checkSchema,
  findProjectRoot,
  projectCacheDir,
  readProjectConfig,
} from "../../src/project/root.js";
import { NAMES_CSV, ROOT, tempDir } from "../helpers.js";
import { Rig } from "../rig.js";
import { HEAD_OF_CSV } from "../fixtures/pipelines.js";

/** A project: package.json at the root, the pipeline and its data in pipelines/. */
function project(extra: Record<string, string> = {}): Rig {
  return new Rig().write({
    "package.json": '{ "name": "mine", "private": true }\n',
    "pipelines/p.rnnp": HEAD_OF_CSV,
    "pipelines/d.csv": NAMES_CSV,
    ...extra,
  });
}

const statuses = (stdout: string) =>
  (JSON.parse(stdout) as { stages: { name: string; status: string }[] }).stages.map(
    (s) => `${s.name}:${s.status}`,
  );

describe("the project root anchors the cache", () => {
  it("the same project has the same cache from any folder, and no stray caches appear", async () => {
    const rig = project();
    const ran = await rig.rnnp(["run", "pipelines/p.rnnp", "--json"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(existsSync(rig.path("cache", "data.mdb")), "the cache is at the project root");
    const fromSub = await rig.rnnp(["status", "p.rnnp", "--json"], { cwd: rig.path("pipelines") });
    assert.equal(fromSub.code, 0, fromSub.stderr);
    assert.deepEqual(statuses(fromSub.stdout), ["raw:fresh", "few:fresh"]);
    assert.equal(existsSync(rig.path("pipelines", "cache")), false, "no cache in pipelines/");
    const path = await rig.rnnp(["cache", "path"], { cwd: rig.path("pipelines") });
    assert.equal(path.stdout.trim(), rig.path("cache"));
    // From a folder deeper still, running is a cache hit.
    rig.write({ "pipelines/deep/er/.keep": "" });
    const again = await rig.rnnp(["run", "../../p.rnnp", "--json"], {
      cwd: rig.path("pipelines", "deep", "er"),
    });
    assert.deepEqual(statuses(again.stdout), ["raw:cached", "few:cached"]);
  });

  it("the pipeline's project decides, not the current folder", async () => {
    const rig = project();
    const elsewhere = new Rig().write({ "package.json": "{}" });
    const ran = await rig.rnnp(["run", rig.path("pipelines/p.rnnp"), "--json"], {
      cwd: elsewhere.dir,
    });
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(existsSync(rig.path("cache", "data.mdb")));
    assert.equal(existsSync(elsewhere.path("cache")), false);
  });

  it("read-only verbs never create a cache", async () => {
    const rig = project();
    for (const args of [
      ["status", "pipelines/p.rnnp"],
      ["status", "pipelines/p.rnnp", "--json"],
      ["why", "few", "pipelines/p.rnnp"],
      ["dag", "pipelines/p.rnnp"],
      ["cache", "ls"],
      ["cache", "ls", "--json"],
      ["cache", "path"],
      ["run", "pipelines/p.rnnp", "--dry-run"],
    ]) {
      const r = await rig.rnnp(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(existsSync(rig.path("cache")), false, `${args.join(" ")} made a cache`);
      assert.equal(existsSync(rig.path("pipelines", "cache")), false);
    }
    const show = await rig.rnnp(["show", "few", "pipelines/p.rnnp"]);
    assert.equal(show.code, 1);
    assert.match(show.stderr, /not built/);
    assert.equal(existsSync(rig.path("cache")), false);
  });

  it("rnnp.config.json marks the root (over package.json) and sets the cache folder", async () => {
    const rig = project({
      "pipelines/rnnp.config.json": '{ "$schema": "../schema.json", "cache": "../.rnnp/cache" }',
    });
    const ran = await rig.rnnp(["run", "p.rnnp", "--json"], { cwd: rig.path("pipelines") });
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(existsSync(rig.path(".rnnp", "cache", "data.mdb")));
    assert.equal(existsSync(rig.path("cache")), false);
    const path = await rig.rnnp(["cache", "path"], { cwd: rig.path("pipelines") });
    assert.equal(path.stdout.trim(), rig.path(".rnnp", "cache"));
    // --cache and $RNNP_CACHE still win, relative to the current folder.
    const flag = await rig.rnnp(["cache", "path", "--cache", "c2"], { cwd: rig.path("pipelines") });
    assert.equal(flag.stdout.trim(), rig.path("pipelines", "c2"));
    const env = await rig.rnnp(["cache", "path"], { env: { RNNP_CACHE: "c3" } });
    assert.equal(env.stdout.trim(), rig.path("c3"));
  });

  it("a root is the nearest rnnp.config.json, else package.json or .git, else the folder itself", () => {
    const dir = tempDir();
    const at = (...p: string[]) => join(dir, ...p);
    assert.deepEqual([findProjectRoot(dir).dir, findProjectRoot(dir).marker], [dir, "none"]);
    writeFileSync(at(".git"), "gitdir: elsewhere\n");
    assert.equal(findProjectRoot(dir).marker, ".git");
    const nested = at("a", "b");
    mkdirSync(nested, { recursive: true });
    writeFileSync(at("a", "package.json"), "{}");
    assert.deepEqual(
      [findProjectRoot(nested).dir, findProjectRoot(nested).marker],
      [at("a"), "package.json"],
    );
    writeFileSync(at("rnnp.config.json"), '{ "cache": "/abs/c" }');
    const root = findProjectRoot(nested);
    assert.deepEqual([root.dir, root.marker], [dir, "rnnp.config.json"]);
    assert.equal(projectCacheDir(root), "/abs/c");
  });

  it("a typo in rnnp.config.json is an error naming the field, not ignored", async () => {
    const rig = project({ "rnnp.config.json": '{ "cahce": "x" }' });
    const r = await rig.rnnp(["status", "pipelines/p.rnnp"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /unknown field `cahce` \(expected `\$schema`, `cache`, `remote`, `executor`, `queue`, `slurm`\)/,
    );
    const bad = project({ "rnnp.config.json": "{ cache: 1 }" });
    const b = await bad.rnnp(["cache", "path"]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /rnnp\.config\.json: not valid JSON/);
    assert.doesNotMatch(b.stderr, /internal error/);
  });
});

describe("rnnp.config.json's JSON Schema", () => {
  it("schema/rnnp.config.schema.json is the schema the reader enforces (npm run docs writes it)", () => {
    const file = JSON.parse(
      readFileSync(join(ROOT, "schema", "rnnp.config.schema.json"), "utf8"),
    ) as unknown;
    assert.deepEqual(file, CONFIG_SCHEMA);
  });

  const cases: [string, unknown, RegExp | undefined][] = [
    ["empty", {}, undefined],
    ["cache", { cache: ".rnnp/cache" }, undefined],
    [
      "everything",
      { $schema: "x", cache: "c", remote: { url: "http://h", mode: "readwrite" } },
      undefined,
    ],
    ["not an object", [], /the file: expected an object/],
    ["cache not a string", { cache: 3 }, /cache: expected a string/],
    ["cache empty", { cache: "" }, /cache: expected a non-empty string/],
    ["unknown field", { caches: "c" }, /unknown field `caches`/],
    ["bad mode", { remote: { mode: "write" } }, /remote\.mode: expected "read" or "readwrite"/],
    ["unknown nested", { remote: { uri: "x" } }, /unknown field `remote\.uri`/],
    ["remote not an object", { remote: "http://h" }, /remote: expected an object/],
  ];
  for (const [name, value, expected] of cases)
    it(`the reader and the schema agree: ${name}`, () => {
      const problems = checkSchema(value, CONFIG_SCHEMA, "");
      if (expected === undefined) assert.deepEqual(problems, []);
      else assert.match(problems.join("; "), expected);
      const dir = tempDir();
      writeFileSync(join(dir, "rnnp.config.json"), JSON.stringify(value));
      if (expected === undefined)
        assert.deepEqual(readProjectConfig(join(dir, "rnnp.config.json")), value);
      else assert.throws(() => readProjectConfig(join(dir, "rnnp.config.json")), expected);
    });
});
