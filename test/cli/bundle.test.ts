import assert from "node:assert/strict";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import tar from "tar-stream";
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

/** Writes a tar with the given entries, to craft bad bundles. */
async function craft(
  file: string,
  entries: {
    name: string;
    body?: string | Buffer;
    type?: "file" | "symlink" | "directory";
    linkname?: string;
  }[],
): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack as unknown as Readable, createWriteStream(file));
  for (const e of entries) {
    await new Promise<void>((res, rej) => {
      const body = e.body === undefined ? undefined : Buffer.from(e.body);
      pack.entry(
        {
          name: e.name,
          type: e.type ?? "file",
          ...(e.linkname ? { linkname: e.linkname } : {}),
          ...(body ? { size: body.length } : {}),
        },
        body ?? Buffer.alloc(0),
        (err) => (err ? rej(err) : res()),
      );
    });
  }
  pack.finalize();
  await done;
}

const MANIFEST = JSON.stringify({
  format: "rnnp-bundle",
  version: 1,
  records: 0,
  blobs: 0,
  signed: false,
});

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
    assert.match(unsigned.stderr, /is not signed, and RNNP_CACHE_KEY requires signed records/);
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

  it("refuses path tricks, links, unknown formats, corrupt blobs, dangling records and oversized entries, and imports nothing then", async () => {
    const a = project();
    cli(["run", "p.rnnp"], a);
    cli(["cache", "export", "-o", "good.tar"], a);
    const good = readFileSync(join(a, "good.tar"));
    const dir = tempDir();
    const digest = "a".repeat(64);
    const cases: [string, Parameters<typeof craft>[1], RegExp][] = [
      [
        "traversal",
        [
          { name: "rnnp-bundle.json", body: MANIFEST },
          { name: "../../evil", body: "x" },
        ],
        /entry "\.\.\/\.\.\/evil" is not part of the bundle format \(path tricks are refused\)/,
      ],
      [
        "absolute",
        [
          { name: "rnnp-bundle.json", body: MANIFEST },
          { name: "/etc/passwd", body: "x" },
        ],
        /not part of the bundle format/,
      ],
      [
        "symlink",
        [
          { name: "rnnp-bundle.json", body: MANIFEST },
          { name: `blobs/${digest}`, type: "symlink", linkname: "/etc/passwd" },
        ],
        /is a symlink; bundles hold regular files only/,
      ],
      [
        "format",
        [
          {
            name: "rnnp-bundle.json",
            body: JSON.stringify({ format: "rnnp-bundle", version: 99 }),
          },
        ],
        /unknown format "rnnp-bundle" version 99/,
      ],
      [
        "manifest",
        [{ name: `blobs/${digest}`, body: "x" }],
        /comes before rnnp-bundle\.json: not an rnnp bundle/,
      ],
      [
        "corrupt",
        [
          { name: "rnnp-bundle.json", body: MANIFEST },
          { name: `blobs/${digest}`, body: "not a's content" },
        ],
        /does not hash to its name: the blob is corrupt/,
      ],
      [
        "dangling",
        [
          { name: "rnnp-bundle.json", body: MANIFEST },
          {
            name: `records/${digest}.json`,
            body: JSON.stringify({
              key: digest,
              kind: "x",
              outputs: { out: { digest: "b".repeat(64), size: 1, type: "table", summary: "" } },
              manifest: {},
              inputsFrom: {},
              provenance: { stage: "s", createdAt: "2026-01-01T00:00:00Z" },
            }),
          },
        ],
        /names blob bbbbbbbbbbbb, which the bundle does not hold/,
      ],
    ];
    for (const [name, entries, message] of cases) {
      const file = join(dir, `${name}.tar`);
      await craft(file, entries);
      const r = cli(["cache", "import", file], dir);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
    }
    const big = cli(["cache", "import", join(a, "good.tar"), "--max-entry-size", "100B"], dir);
    assert.match(big.stderr, /over the 100-byte limit/);
    assert.match(
      cli(["cache", "import", join(dir, "nope.tar")], dir).stderr,
      /no such file|ENOENT/,
    );
    // All or nothing: a bundle whose last record is bad adds none of its good blobs or records.
    const truncated = join(dir, "truncated.tar");
    await craft(truncated, [
      { name: "rnnp-bundle.json", body: MANIFEST },
      {
        name: `blobs/${"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`,
        body: "",
      },
      { name: "records/zz.json", body: "{}" },
    ]);
    assert.equal(cli(["cache", "import", truncated], dir).code, 1);
    assert.equal(
      (JSON.parse(cli(["cache", "ls", "--json"], dir).stdout) as { records: unknown[] }).records
        .length,
      0,
    );
    assert.ok(good.length > 0);
  });
});
