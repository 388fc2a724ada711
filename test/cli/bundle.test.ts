import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { goodBundles, hostileBundles } from "../cache/hostile.js";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";
import { csvParts } from "../fixtures/pipelines.js";

const PIPELINE = csvParts({
  name: "b",
  settings: ["seed 2"],
  lowercase: false,
  after: ["stage h = head(parts, n: 2)"],
});

const project = () => new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });

describe("cache bundles", () => {
  it("export on one machine, import on another: the second machine runs nothing", async () => {
    const a = project();
    await a.rnnp(["run", "p.rnnp"]);
    const out = await a.rnnp(["cache", "export", "p.rnnp", "-o", "b.tar.gz", "--gzip", "--json"]);
    assert.equal(out.code, 0, out.stderr);
    const exported = JSON.parse(out.stdout) as { records: number; blobs: number };
    assert.equal(exported.records, 3);
    const b = project();
    const imported = await b.rnnp(["cache", "import", a.path("b.tar.gz"), "--json"]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.deepEqual(JSON.parse(imported.stdout).records, { added: 3, had: 0 });
    const run = JSON.parse((await b.rnnp(["run", "p.rnnp", "--json"])).stdout) as {
      stages: { name: string; status: string }[];
    };
    assert.deepEqual(
      run.stages.map((s) => [s.name, s.status]),
      [
        ["raw", "cached"],
        ["parts", "cached"],
        ["h", "cached"],
      ],
    );
    const again = JSON.parse(
      (await b.rnnp(["cache", "import", a.path("b.tar.gz"), "--json"])).stdout,
    );
    assert.deepEqual(again.records, { added: 0, had: 3 }, "reports what it already had");
    assert.equal(again.blobs.had, exported.blobs);
  });

  it("exports only what the given pipelines use, or everything", async () => {
    const a = project();
    await a.rnnp(["run", "p.rnnp"]);
    await a.rnnp(["run", "p.rnnp", "-P", "x=1"]);
    await a.rnnp(["run", "p.rnnp", "--stage", "raw", "--cache", "c2"]);
    a.write({ "q.rnnp": PIPELINE.replace("n: 2", "n: 1") });
    await a.rnnp(["run", "q.rnnp"]);
    const some = JSON.parse(
      (await a.rnnp(["cache", "export", "p.rnnp", "-o", "some.tar", "--json"])).stdout,
    );
    const all = JSON.parse((await a.rnnp(["cache", "export", "-o", "all.tar", "--json"])).stdout);
    assert.equal(some.records, 3);
    assert.equal(all.records, 4);
  });

  it("signed bundles: a wrong key, or an unsigned bundle when a key is set, is refused", async () => {
    const a = project();
    await a.rnnp(["run", "p.rnnp"]);
    await a.rnnp(["cache", "export", "-o", "signed.tar"], { env: { RNNP_CACHE_KEY: "k1" } });
    await a.rnnp(["cache", "export", "-o", "plain.tar"]);
    const b = project();
    const wrong = await b.rnnp(["cache", "import", a.path("signed.tar")], {
      env: { RNNP_CACHE_KEY: "k2" },
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /has a wrong signature/);
    const unsigned = await b.rnnp(["cache", "import", a.path("plain.tar")], {
      env: { RNNP_CACHE_KEY: "k2" },
    });
    assert.match(unsigned.stderr, /is not signed, and RNNP_CACHE_KEY requires signed/);
    assert.equal(
      (await b.rnnp(["cache", "import", a.path("signed.tar")], { env: { RNNP_CACHE_KEY: "k1" } }))
        .code,
      0,
    );
    assert.equal(
      (JSON.parse((await b.rnnp(["cache", "ls", "--json"])).stdout) as { records: unknown[] })
        .records.length,
      3,
    );
  });

  it("a record edited in an unsigned bundle (one byte: a parameter, or its createdAt) is refused, and nothing lands", async () => {
    const a = project();
    await a.rnnp(["run", "p.rnnp"]);
    assert.equal((await a.rnnp(["cache", "export", "p.rnnp", "-o", "b.tar"])).code, 0);
    const good = readFileSync(a.path("b.tar"));
    const edits: [string, string][] = [
      ['"train":0.6', '"train":0.7'],
      ['"createdAt":"2', '"createdAt":"1'],
    ];
    for (const [from, to] of edits) {
      const at = good.indexOf(from);
      assert.ok(at > 0, from);
      const bad = Buffer.from(good);
      bad.write(to, at);
      writeFileSync(a.path("bad.tar"), bad);
      const b = project();
      const r = await b.rnnp(["cache", "import", a.path("bad.tar")]);
      assert.equal(r.code, 1, `${from}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /error\[bundle\]: refusing .*bad\.tar: entry "records\/[0-9a-f]{64}\.json" does not match the digest rnnp-bundle\.json lists for it: the record was changed after export/,
      );
      assert.deepEqual(JSON.parse((await b.rnnp(["cache", "ls", "--json"])).stdout).records, []);
      // The next run computes the stages itself: the lock records the pipeline's own manifest.
      assert.equal((await b.rnnp(["run", "p.rnnp"])).code, 0);
      assert.doesNotMatch(readFileSync(b.path("p.lock"), "utf8"), /"train": 0\.7/);
    }
  });

  it("damaged, tampered and tricky bundles are refused with the reason, exit 1, no stack trace, nothing written", async () => {
    const good = await goodBundles();
    const wanted = [
      "tar truncated inside a record",
      "gzip truncated at 100",
      "gzip with a bad CRC",
      "a tar header with a bad checksum",
      "not a tar (text)",
      "trailing garbage after the tar",
      "a table of contents that is not JSON",
      "the record names another key",
      "a deeply nested table of contents",
      "`__proto__` at the top of a record",
      "a 7 GB declared entry",
      "path traversal",
      "a symlink",
      "an unlisted blob (orphan)",
    ];
    const cases = (await hostileBundles(good.plain)).filter((h) => wanted.includes(h.name));
    assert.equal(cases.length, wanted.length);
    const dir = new Rig();
    for (const h of cases) {
      const file = dir.path("bundle");
      writeFileSync(file, h.bytes);
      const r = await dir.rnnp(["cache", "import", file]);
      assert.equal(r.code, 1, `${h.name}: ${r.stderr}`);
      assert.match(r.stderr, /^error\[bundle\]: refusing /, h.name);
      assert.match(r.stderr, h.reason, h.name);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, h.name);
    }
    const ls = JSON.parse((await dir.rnnp(["cache", "ls", "--json"])).stdout) as {
      records: unknown[];
    };
    assert.deepEqual(ls.records, []);
    assert.deepEqual(
      readdirSync(dir.path("cache")).filter((n) => !["data.mdb", "lock.mdb"].includes(n)),
      [],
      "no staging files left",
    );
    assert.match(
      (await dir.rnnp(["cache", "import", dir.path("nope.tar")])).stderr,
      /cannot read .*nope\.tar: no such file/,
    );
    const big = await dir.rnnp(["cache", "import", dir.path("x"), "--max-entry-size", "100B"]);
    assert.equal(big.code, 1);
    writeFileSync(dir.path("g.tar"), good.plain);
    assert.match(
      (await dir.rnnp(["cache", "import", dir.path("g.tar"), "--max-entry-size", "100B"])).stderr,
      /over the 100-byte limit/,
    );
  });

  it("export refuses to copy a corrupt blob, and writes no bundle", async () => {
    const a = project();
    await a.rnnp(["run", "p.rnnp"]);
    const digest = JSON.parse((await a.rnnp(["cache", "ls", "--json"])).stdout) as {
      records: { key: string }[];
    };
    const record = JSON.parse(
      (await a.rnnp(["cache", "show", digest.records[0]!.key, "--json"])).stdout,
    ) as {
      outputs: Record<string, { digest: string }>;
    };
    const blob = Object.values(record.outputs)[0]!.digest;
    const { open } = await import("lmdb");
    const raw = open({ path: a.path("cache"), maxDbs: 8 });
    await raw.openDB({ name: "blobs", encoding: "binary" }).put(blob, Buffer.from("bit rot"));
    await raw.close();
    const r = await a.rnnp(["cache", "export", "-o", "b.tar"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error\[cache-corrupt\]: cannot export: blob [0-9a-f]{12} of record [0-9a-f]{12} is corrupt in the cache/,
    );
    assert.match(r.stderr, /rnnp cache verify/);
    assert.deepEqual(
      readdirSync(a.dir).filter((n) => n.startsWith("b.tar")),
      [],
    );
  });
});
