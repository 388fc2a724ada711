import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { missingTool, Rig } from "../rig.js";
import { nginxBinary, removeNginxRoot, startNginx, type Nginx } from "../fixtures/nginx.js";

const PIPELINE = `pipeline remote {
  seed 9
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: true, dedupe: true)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
}
`;
const TOKEN = "s3cr3t-token-abc";
const PASSWORD = "hunter2-pw";

interface Row {
  name: string;
  status: string;
  source?: string;
}
const rows = (stdout: string) => (JSON.parse(stdout) as { stages: Row[] }).stages;
const machine = () => new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
const noNginx = nginxBinary() ? undefined : missingTool("nginx", "-v");

describe("the remote cache behind an auth rule (real nginx)", { skip: noNginx ?? false }, () => {
  let server: Nginx;
  before(async () => {
    server = await startNginx({ token: TOKEN, user: "rnnp", password: PASSWORD });
  });
  after(async () => {
    await server.stop();
    removeNginxRoot(server);
  });
  const records = () => {
    try {
      return readdirSync(join(server.root, "cache", "records")).length;
    } catch {
      return 0;
    }
  };

  it("without a token the server refuses, and the warning says what to set", async () => {
    const a = machine();
    const r = await a.rnnp(["run", "p.rnnp", "--json", "--remote", server.url, "--remote-write"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /HTTP 401 \(the server wants credentials: set RNNP_REMOTE_TOKEN\)/);
    assert.equal(records(), 0);
  });

  it("RNNP_REMOTE_TOKEN is sent as a bearer token and never printed", async () => {
    const a = machine();
    const env = { RNNP_REMOTE_TOKEN: TOKEN };
    const r = await a.rnnp(["run", "p.rnnp", "--json", "--remote", server.url, "--remote-write"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    assert.equal(records(), 3);
    const b = machine();
    const got = await b.rnnp(["run", "p.rnnp", "--json", "--remote", server.url], { env });
    assert.deepEqual(
      rows(got.stdout).map((s) => s.source),
      ["remote", "remote", "remote"],
    );
    const wrong = await machine().rnnp(["run", "p.rnnp", "--remote", server.url], {
      env: { RNNP_REMOTE_TOKEN: "not-it" },
    });
    assert.match(
      wrong.stderr,
      /HTTP 401 \(the server refused the credentials: check RNNP_REMOTE_TOKEN\)/,
    );
    for (const out of [r, got, wrong]) assert.ok(!`${out.stdout}${out.stderr}`.includes(TOKEN));
    assert.ok(!`${wrong.stdout}${wrong.stderr}`.includes("not-it"));
  });

  it("a URL with user:password@ authenticates, and the password is never printed", async () => {
    const withPass = server.url.replace("http://", `http://rnnp:${PASSWORD}@`);
    const r = await machine().rnnp(["run", "p.rnnp", "--json", "--remote", withPass]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    assert.deepEqual(
      rows(r.stdout).map((s) => s.source),
      ["remote", "remote", "remote"],
    );
    assert.equal((JSON.parse(r.stdout) as { remote: { url: string } }).remote.url, server.url);
    const badPass = server.url.replace("http://", "http://rnnp:wrong-pw@");
    const bad = await machine().rnnp(["run", "p.rnnp", "--remote", badPass]);
    assert.match(bad.stderr, /HTTP 401/);
    const down = await machine().rnnp([
      "run",
      "p.rnnp",
      "--remote",
      `http://rnnp:${PASSWORD}@127.0.0.1:1/cache`,
    ]);
    assert.match(down.stderr, /remote cache http:\/\/127\.0\.0\.1:1\/cache is unreachable/);
    const notHttp = await machine().rnnp([
      "run",
      "p.rnnp",
      "--remote",
      `ftp://rnnp:${PASSWORD}@h/x`,
    ]);
    assert.equal(notHttp.code, 2);
    assert.match(notHttp.stderr, /remote cache ftp:\/\/h\/x: expected an http/);
    for (const out of [r, bad, down, notHttp]) {
      assert.ok(!`${out.stdout}${out.stderr}`.includes(PASSWORD));
      assert.ok(!`${out.stdout}${out.stderr}`.includes("wrong-pw"));
    }
  });

  it("cache push uploads what a pipeline uses; cache pull fetches what a lock or pipeline uses", async () => {
    const env = { RNNP_REMOTE_TOKEN: TOKEN };
    const a = machine().write({ "p.rnnp": PIPELINE.replace("seed 9", "seed 10") });
    const built = await a.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(built.code, 0, built.stderr);
    const before = records();
    const pushed = await a.rnnp(["cache", "push", "p.rnnp", "--remote", server.url, "--json"], {
      env,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    const p = JSON.parse(pushed.stdout) as { pushed: number; already: number; failures: number };
    // raw and low do not depend on the seed: they were there already.
    assert.deepEqual([p.pushed, p.already, p.failures], [1, 2, 0]);
    assert.equal(records(), before + 1);

    const b = machine().write({
      "p.rnnp": PIPELINE.replace("seed 9", "seed 10"),
      "p.lock": a.read("p.lock"),
    });
    const pulled = await b.rnnp(["cache", "pull", "p.lock", "--remote", server.url, "--json"], {
      env,
    });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(JSON.parse(pulled.stdout), {
      remote: server.url,
      pulled: 3,
      already: 0,
      bytes: (JSON.parse(pulled.stdout) as { bytes: number }).bytes,
      missing: [],
      failures: 0,
    });
    const after = await b.rnnp(["run", "p.rnnp", "--json"]);
    assert.deepEqual(
      rows(after.stdout).map((s) => [s.status, s.source]),
      [
        ["cached", undefined],
        ["cached", undefined],
        ["cached", undefined],
      ],
    );

    const c = machine().write({ "p.rnnp": PIPELINE.replace("seed 9", "seed 10") });
    const byPipeline = await c.rnnp(["cache", "pull", "--remote", server.url], { env });
    assert.equal(byPipeline.code, 0, byPipeline.stderr);
    assert.match(
      byPipeline.stdout,
      /^pulled 3 records \(.+\) from http:\/\/127\.0\.0\.1:\d+\/cache; 0 were here already\n$/,
    );
    const unknown = machine().write({ "p.rnnp": PIPELINE.replace("seed 9", "seed 11") });
    const partial = await unknown.rnnp(["cache", "pull", "--remote", server.url, "--json"], {
      env,
    });
    assert.deepEqual((JSON.parse(partial.stdout) as { missing: string[] }).missing, ["parts"]);
    const noToken = await c.rnnp(["cache", "push", "--remote", server.url]);
    assert.equal(noToken.code, 1, "every request refused: the push fails");
  });
});
