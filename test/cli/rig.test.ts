import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";
import { HEAD_OF_CSV } from "../fixtures/pipelines.js";

describe("the in-process CLI (main(argv, io)) and its test rig", () => {
  it("runs a command against the rig's directory, with its own streams and exit code", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": HEAD_OF_CSV });
    const ran = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(ran.code, 0, ran.stderr);
    const stages = (JSON.parse(ran.stdout) as { stages: { name: string; status: string }[] })
      .stages;
    assert.deepEqual(
      stages.map((s) => [s.name, s.status]),
      [
        ["raw", "ran"],
        ["few", "ran"],
      ],
    );
    assert.ok(existsSync(rig.path("cache")), "the cache is made in the rig's directory");
    assert.ok(existsSync(rig.path("p.lock")), "the lock is written beside the pipeline");
    const again = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.deepEqual(
      (JSON.parse(again.stdout) as { stages: { status: string }[] }).stages.map((s) => s.status),
      ["cached", "cached"],
    );
  });

  it("an invalid pipeline exits 2 with the diagnostic on stderr only", async () => {
    const rig = new Rig().write({ "p.rnnp": "pipeline p { stage a = lstn() }\n" });
    const r = await rig.rnnp(["validate", "p.rnnp"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /error\[unknown-kind\]: unknown stage kind `lstn`/);
    assert.match(r.stderr, /--> p\.rnnp:1:24/);
  });

  it("the caller's environment does not leak in (RNNP_CACHE set in the shell)", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": HEAD_OF_CSV });
    const elsewhere = new Rig();
    const saved = process.env.RNNP_CACHE;
    process.env.RNNP_CACHE = elsewhere.path("cache");
    try {
      const r = await rig.rnnp(["cache", "path"]);
      assert.equal(r.stdout.trim(), rig.path("cache"));
      const spawned = rig.spawnSync(["cache", "path"]);
      assert.equal(spawned.stdout.trim(), rig.path("cache"));
    } finally {
      if (saved === undefined) delete process.env.RNNP_CACHE;
      else process.env.RNNP_CACHE = saved;
    }
    // And a rig's own environment does reach the command.
    const r = await rig.rnnp(["cache", "path"], { env: { RNNP_CACHE: elsewhere.path("c2") } });
    assert.equal(r.stdout.trim(), elsewhere.path("c2"));
  });

  it("processes a test starts load no extra certificates (NODE_EXTRA_CA_CERTS, 40-50 ms each)", () => {
    const rig = new Rig();
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    // A bundle that cannot be read: Node says so on stderr at start-up, so its absence shows
    // that the child never tried to load one.
    process.env.NODE_EXTRA_CA_CERTS = rig.path("no-such-bundle.pem");
    try {
      const r = rig.spawnSync(["--version"]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /extra certs/i);
      assert.match(r.stdout, /\d+\.\d+\.\d+/);
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
  });

  it("help and usage errors return their codes instead of exiting the process", async () => {
    const rig = new Rig();
    const help = await rig.rnnp(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: rnnp/);
    const bad = await rig.rnnp(["run", "--jobs", "zero"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected a positive integer/);
  });
});
