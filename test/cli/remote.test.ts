import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, cliAsync, NAMES_CSV, tempDir, writeFiles } from "../helpers.js";
import {
  freePort,
  nginxBinary,
  removeNginxRoot,
  startNginx,
  type Nginx,
} from "../fixtures/nginx.js";

const PIPELINE = `pipeline remote {
  seed 9
  params { n = 3 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: true)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
  stage preview = head(parts, n: params.n)
}
`;

interface Row {
  name: string;
  status: string;
  source?: string;
  where?: string;
}
const rows = (stdout: string) => (JSON.parse(stdout) as { stages: Row[] }).stages;

/** A "machine": its own directory and cache, the same pipeline and data. */
function machine(): string {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
  return dir;
}

// CI installs nginx (.ci/run, which fails when any test was skipped); elsewhere these tests are
// skipped and say why.
const haveNginx = nginxBinary() !== undefined;

describe("remote cache against a real nginx (WebDAV PUT)", {
  skip: haveNginx ? false : "nginx is not installed (.ci/run installs it)",
}, () => {
  let server: Nginx;
  before(async () => {
    server = await startNginx();
  });
  after(async () => {
    await server.stop();
    removeNginxRoot(server);
  });

  it("machine A runs and pushes; machine B, with an empty cache, executes nothing", () => {
    const a = machine();
    const ran = cli(["run", "p.rnnp", "--json", "--remote", server.url, "--remote-write"], a);
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(rows(ran.stdout).every((s) => s.status === "ran"));
    assert.ok(readdirSync(join(server.root, "cache", "records")).length >= 4);

    const b = machine();
    const status = rows(cli(["status", "p.rnnp", "--json", "--remote", server.url], b).stdout);
    assert.deepEqual(
      status.map((s) => [s.status, s.where]),
      [
        ["fresh", "remote"],
        ["fresh", "remote"],
        ["fresh", "remote"],
        ["fresh", "remote"],
      ],
      "status tells remote hits",
    );
    assert.match(
      cli(["status", "p.rnnp", "--remote", server.url], b).stdout,
      /fresh \(remote\) +raw/,
    );
    const fetched = cli(["run", "p.rnnp", "--json"], b, { RNNP_REMOTE: server.url });
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.deepEqual(
      rows(fetched.stdout).map((s) => [s.status, s.source]),
      [
        ["cached", "remote"],
        ["cached", "remote"],
        ["cached", "remote"],
        ["cached", "remote"],
      ],
    );
    const local = rows(cli(["run", "p.rnnp", "--json"], b).stdout);
    assert.ok(
      local.every((s) => s.status === "cached" && s.source === undefined),
      "now local hits, without the remote",
    );
    assert.equal(cli(["cache", "verify"], b).code, 0);
  });

  it("read-only machines upload nothing; rnnp.config.json configures the remote", () => {
    const c = machine();
    writeFiles(c, {
      "rnnp.config.json": JSON.stringify({ remote: { url: server.url, mode: "read" } }),
    });
    const before = readdirSync(join(server.root, "cache", "records")).length;
    const r = rows(cli(["run", "p.rnnp", "--json", "-P", "n=1"], c).stdout);
    assert.deepEqual(
      r.map((s) => s.status),
      ["cached", "cached", "cached", "ran"],
    );
    assert.equal(readdirSync(join(server.root, "cache", "records")).length, before);
  });

  it("a tampered blob on the server is detected: the stage is recomputed, and a writer repairs the blob", () => {
    const a = machine();
    const pushed = JSON.parse(
      cli(["run", "p.rnnp", "--json", "--remote", server.url, "--remote-write", "-P", "n=2"], a)
        .stdout,
    ) as { stages: { name: string; key: string }[] };
    const key = pushed.stages.find((s) => s.name === "preview")!.key;
    const record = JSON.parse(
      readFileSync(join(server.root, "cache", "records", `${key}.json`), "utf8"),
    ) as { outputs: Record<string, { digest: string }> };
    const digest = record.outputs.train!.digest;
    const blob = join(server.root, "cache", "blobs", digest);
    const good = readFileSync(blob);
    writeFileSync(
      blob,
      Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1]! ^ 1])]),
    );
    const b = machine();
    const r = cli(
      ["run", "p.rnnp", "--json", "-P", "n=2", "--remote", server.url, "--remote-write"],
      b,
    );
    assert.equal(r.code, 0, r.stderr);
    const preview = rows(r.stdout).find((s) => s.name === "preview")!;
    assert.equal(preview.status, "ran", "recomputed, not served");
    assert.match(
      r.stderr,
      /does not match its digest \(corrupt or tampered on the server\); computing it here/,
    );
    assert.deepEqual(readFileSync(blob), good, "the writer put the right bytes back");
  });

  it("records signed with another key are ignored", () => {
    const a = machine();
    cli(["run", "p.rnnp", "--remote", server.url, "--remote-write", "-P", "n=5"], a, {
      RNNP_CACHE_KEY: "alpha",
    });
    const b = machine();
    const r = cli(["run", "p.rnnp", "--json", "-P", "n=5", "--remote", server.url], b, {
      RNNP_CACHE_KEY: "beta",
    });
    assert.equal(r.code, 0);
    assert.equal(rows(r.stdout).find((s) => s.name === "preview")!.status, "ran");
    assert.match(r.stderr, /has a wrong signature/);
    const ok = cli(
      ["run", "p.rnnp", "--json", "-P", "n=5", "--remote", server.url, "--cache", "other"],
      b,
      { RNNP_CACHE_KEY: "alpha" },
    );
    assert.equal(rows(ok.stdout).find((s) => s.name === "preview")!.source, "remote");
  });

  it("a server stopped mid-run leaves a correct local result, with one warning", async () => {
    const big = machine();
    const lines = Array.from({ length: 200_000 }, (_, i) => `n${i},${i % 2 ? "a" : "b"},${i}`);
    writeFiles(big, {
      "big.csv": `name,label,score\n${lines.join("\n")}\n`,
      "big.rnnp": PIPELINE.replace('path: "d.csv"', 'path: "big.csv"').replace(
        "pipeline remote",
        "pipeline bigremote",
      ),
    });
    const run = cliAsync(
      ["run", "big.rnnp", "--json", "--remote", server.url, "--remote-write"],
      big,
    );
    // Stop the server while the run is busy, then bring it back for the other tests.
    await new Promise((r) => setTimeout(r, 400));
    await server.stop();
    const r = await run;
    await server.start();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(rows(r.stdout).every((s) => s.status === "ran"));
    assert.ok((r.stderr.match(/unreachable/g) ?? []).length <= 1, r.stderr);
    assert.equal(cli(["cache", "verify"], big).code, 0);
    assert.ok(
      rows(cli(["run", "big.rnnp", "--json"], big).stdout).every((s) => s.status === "cached"),
    );
  });

  it("a server that is down from the start: one warning, a normal local run", async () => {
    const d = machine();
    const closed = `http://127.0.0.1:${await freePort()}/none`;
    const r = cli(["run", "p.rnnp", "--json", "--remote", closed, "--remote-write"], d);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(rows(r.stdout).every((s) => s.status === "ran"));
    assert.equal(
      r.stderr.split(
        `remote cache ${closed} is unreachable (ECONNREFUSED); going on with the local cache only`,
      ).length,
      2,
      r.stderr,
    );
  });
});
