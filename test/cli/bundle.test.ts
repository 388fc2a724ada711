import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { goodBundles, hostileBundles } from "../cache/hostile.js";
import { cli, NAMES_CSV, tempDir, writeFiles } from "../helpers.js";

const PIPELINE = `pipeline b {
  seed 2
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.6, val: 0.2, test: 0.2)
  stage h = head(parts, n: 2)
}
`;

function project(): string {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
  return dir;
}

describe("cache bundles", () => {
  it("export on one machine, import on another: the second machine runs nothing", () => {
    const a = project();
    cli(["run", "p.rnnp"], a);
    const out = cli(["cache", "export", "p.rnnp", "-o", "b.tar.gz", "--gzip", "--json"], a);
    assert.equal(out.code, 0, out.stderr);
    const exported = JSON.parse(out.stdout) as { records: number; blobs: number };
    assert.equal(exported.records, 3);
    const b = project();
    const imported = cli(["cache", "import", join(a, "b.tar.gz"), "--json"], b);
    assert.equal(imported.code, 0, imported.stderr);
    assert.deepEqual(JSON.parse(imported.stdout).records, { added: 3, had: 0 });
    const run = JSON.parse(cli(["run", "p.rnnp", "--json"], b).stdout) as {
      stages: { status: string }[];
    };
    assert.ok(run.stages.every((s) => s.status === "cached"));
    const again = JSON.parse(cli(["cache", "import", join(a, "b.tar.gz"), "--json"], b).stdout);
    assert.deepEqual(again.records, { added: 0, had: 3 }, "reports what it already had");
    assert.equal(again.blobs.had, exported.blobs);
  });

  it("exports only what the given pipelines use, or everything", () => {
    const a = project();
    cli(["run", "p.rnnp"], a);
    cli(["run", "p.rnnp", "-P", "x=1"], a);
    cli(["run", "p.rnnp", "--stage", "raw", "--cache", "c2"], a);
    writeFiles(a, { "q.rnnp": PIPELINE.replace("n: 2", "n: 1") });
    cli(["run", "q.rnnp"], a);
    const some = JSON.parse(
      cli(["cache", "export", "p.rnnp", "-o", "some.tar", "--json"], a).stdout,
    );
    const all = JSON.parse(cli(["cache", "export", "-o", "all.tar", "--json"], a).stdout);
    assert.equal(some.records, 3);
    assert.equal(all.records, 4);
  });

  it("signed bundles: a wrong key, or an unsigned bundle when a key is set, is refused", () => {
    const a = project();
    cli(["run", "p.rnnp"], a);
    cli(["cache", "export", "-o", "signed.tar"], a, { RNNP_CACHE_KEY: "k1" });
    cli(["cache", "export", "-o", "plain.tar"], a);
    const b = project();
    const wrong = cli(["cache", "import", join(a, "signed.tar")], b, { RNNP_CACHE_KEY: "k2" });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /has a wrong signature/);
    const unsigned = cli(["cache", "import", join(a, "plain.tar")], b, { RNNP_CACHE_KEY: "k2" });
    assert.match(unsigned.stderr, /is not signed, and RNNP_CACHE_KEY requires signed/);
    assert.equal(
      cli(["cache", "import", join(a, "signed.tar")], b, { RNNP_CACHE_KEY: "k1" }).code,
      0,
    );
    assert.equal(
      (JSON.parse(cli(["cache", "ls", "--json"], b).stdout) as { records: unknown[] }).records
        .length,
      3,
    );
  });

  it("a record edited in an unsigned bundle (one byte: a parameter, or its createdAt) is refused, and nothing lands", () => {
    const a = project();
    cli(["run", "p.rnnp"], a);
    assert.equal(cli(["cache", "export", "p.rnnp", "-o", "b.tar"], a).code, 0);
    const good = readFileSync(join(a, "b.tar"));
    const edits: [string, string][] = [
      ['"train":0.6', '"train":0.7'],
      ['"createdAt":"2', '"createdAt":"1'],
    ];
    for (const [from, to] of edits) {
      const at = good.indexOf(from);
      assert.ok(at > 0, from);
      const bad = Buffer.from(good);
      bad.write(to, at);
      writeFileSync(join(a, "bad.tar"), bad);
      const b = project();
      const r = cli(["cache", "import", join(a, "bad.tar")], b);
      assert.equal(r.code, 1, `${from}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /error\[bundle\]: refusing .*bad\.tar: entry "records\/[0-9a-f]{64}\.json" does not match the digest rnnp-bundle\.json lists for it: the record was changed after export/,
      );
      assert.deepEqual(JSON.parse(cli(["cache", "ls", "--json"], b).stdout).records, []);
      // The next run computes the stages itself: the lock records the pipeline's own manifest.
      assert.equal(cli(["run", "p.rnnp"], b).code, 0);
      assert.doesNotMatch(readFileSync(join(b, "p.lock"), "utf8"), /"train": 0\.7/);
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
    const dir = tempDir();
    for (const h of cases) {
      const file = join(dir, "bundle");
      writeFileSync(file, h.bytes);
      const r = cli(["cache", "import", file], dir);
      assert.equal(r.code, 1, `${h.name}: ${r.stderr}`);
      assert.match(r.stderr, /^error\[bundle\]: refusing /, h.name);
      assert.match(r.stderr, h.reason, h.name);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, h.name);
    }
    const ls = JSON.parse(cli(["cache", "ls", "--json"], dir).stdout) as { records: unknown[] };
    assert.deepEqual(ls.records, []);
    assert.deepEqual(
      readdirSync(join(dir, "cache")).filter((n) => !["data.mdb", "lock.mdb"].includes(n)),
      [],
      "no staging files left",
    );
    assert.match(
      cli(["cache", "import", join(dir, "nope.tar")], dir).stderr,
      /cannot read .*nope\.tar: no such file/,
    );
    const big = cli(["cache", "import", join(dir, "x"), "--max-entry-size", "100B"], dir);
    assert.equal(big.code, 1);
    writeFileSync(join(dir, "g.tar"), good.plain);
    assert.match(
      cli(["cache", "import", join(dir, "g.tar"), "--max-entry-size", "100B"], dir).stderr,
      /over the 100-byte limit/,
    );
  });

  it("export refuses to copy a corrupt blob, and writes no bundle", async () => {
    const a = project();
    cli(["run", "p.rnnp"], a);
    const digest = JSON.parse(cli(["cache", "ls", "--json"], a).stdout) as {
      records: { key: string }[];
    };
    const record = JSON.parse(
      cli(["cache", "show", digest.records[0]!.key, "--json"], a).stdout,
    ) as {
      outputs: Record<string, { digest: string }>;
    };
    const blob = Object.values(record.outputs)[0]!.digest;
    const { open } = await import("lmdb");
    const raw = open({ path: join(a, "cache"), maxDbs: 8 });
    await raw.openDB({ name: "blobs", encoding: "binary" }).put(blob, Buffer.from("bit rot"));
    await raw.close();
    const r = cli(["cache", "export", "-o", "b.tar"], a);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error\[cache-corrupt\]: cannot export: blob [0-9a-f]{12} of record [0-9a-f]{12} is corrupt in the cache/,
    );
    assert.match(r.stderr, /rnnp cache verify/);
    assert.deepEqual(
      readdirSync(a).filter((n) => n.startsWith("b.tar")),
      [],
    );
  });
});
