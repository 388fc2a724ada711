import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rig } from "../rig.js";
import { EVALUATE, csvClassifier } from "../fixtures/pipelines.js";

/**
 * Issue 11, "honest, readable status", through the CLI in-process: stage lines prefixed by their
 * stage, colours decided per stream, --quiet and --verbose on every verb, conflicting flags refused.
 */

const names = Array.from({ length: 48 }, (_, i) => {
  const stem = ["ann", "eve", "bob", "max", "lea", "tom"][i % 6]!;
  return `${stem}${"xyz"[i % 3]}${i % 7},${i % 6 < 3 ? "f" : "m"}`;
}).join("\n");

const pipeline = csvClassifier({
  settings: ["seed 3"],
  mask: true,
  train: "epochs: 2, batchSize: 8",
  after: [EVALUATE],
});

const rigWith = () =>
  new Rig().write({ "d.csv": `name,label\n${names}\n`, "p.rnnp": pipeline, "package.json": "{}" });

const ESC = "\x1b";

describe("run's output", () => {
  it("off a terminal: stage lines prefixed by the stage, no bars, no escapes", async () => {
    const rig = rigWith();
    const r = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[fit\] epoch 1\/2 {2}loss /m);
    assert.match(r.stderr, /^\[fit\] epoch 2\/2 {2}loss /m);
    assert.ok(!r.stderr.includes(ESC) && !r.stderr.includes("\r"), r.stderr);
    assert.ok(!r.stdout.includes(ESC), r.stdout);
    assert.match(r.stdout, /^● fit +train +ran +\d/m);
  });

  it("colours are decided per stream: `run 2> log` on a terminal keeps escapes out of the log", async () => {
    const rig = rigWith();
    // stdout a terminal, stderr a file
    const toLog = await rig.rnnp(["run", "p.rnnp"], {
      tty: { stdout: true, stderr: false },
      env: { NO_COLOR: "" },
    });
    assert.equal(toLog.code, 0, toLog.stderr);
    assert.ok(toLog.stdout.includes(`${ESC}[`), "the terminal gets colours");
    assert.ok(toLog.stderr.includes("[fit] epoch 1/2"));
    assert.ok(!toLog.stderr.includes(ESC), JSON.stringify(toLog.stderr));
    // and the other way round: stdout piped, stderr a terminal (forced rerun, so there is progress)
    const piped = await rig.rnnp(["run", "p.rnnp", "--force-stage", "fit"], {
      tty: { stdout: false, stderr: true },
      env: { NO_COLOR: "" },
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(!piped.stdout.includes(ESC), JSON.stringify(piped.stdout));
    assert.ok(piped.stderr.includes(`${ESC}[2m[fit]${ESC}[22m epoch 1/2`));
    assert.match(
      piped.stderr.replaceAll("\r\x1b[K", "<redraw>"),
      /<redraw> {2}fit \[[█░]{20}\] \d+\/\d+ batches, epoch 1\/2, loss \d/,
    );
  });

  it("NO_COLOR turns colours off on a terminal; FORCE_COLOR turns them on in a pipe", async () => {
    const rig = rigWith();
    const none = await rig.rnnp(["run", "p.rnnp"], {
      tty: { stdout: true, stderr: true },
      env: { NO_COLOR: "1" },
    });
    assert.equal(none.code, 0, none.stderr);
    assert.ok(!none.stdout.includes(`${ESC}[3`) && !none.stderr.includes(`${ESC}[2m`));
    const forced = await rig.rnnp(["run", "p.rnnp"], { env: { NO_COLOR: "", FORCE_COLOR: "1" } });
    assert.ok(forced.stdout.includes(`${ESC}[32m✔${ESC}[39m raw`), forced.stdout);
  });

  it("--quiet: only the verdict and the summary; errors still shown", async () => {
    const rig = rigWith();
    const r = await rig.rnnp(["run", "p.rnnp", "--quiet"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, r.stdout);
    assert.match(lines[0]!, /^ {2}report: /);
    assert.match(lines[1]!, /^7 stages: 7 ran in /);
    rig.write({ "d.csv": "name,label\n" });
    for (const jobs of ["1", "2"]) {
      // in this process, and in a worker process whose output is not shown live when quiet
      const failed = await rig.rnnp(["-q", "run", "p.rnnp", "--jobs", jobs]);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /^error.*\n(.*\n)*.*d\.csv/m, `--jobs ${jobs}: ${failed.stderr}`);
      assert.match(failed.stdout, /^7 stages: 1 failed, 6 skipped in /);
    }
  });

  it("--verbose: each stage's key, time and cache decision", async () => {
    const rig = rigWith();
    const first = await rig.rnnp(["run", "p.rnnp", "-v"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /^\[raw\] executes \(key [0-9a-f]{12}; never run: no cached record of this stage\)$/m,
    );
    const keys = JSON.parse((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout) as {
      stages: { name: string; key: string }[];
    };
    const fitKey = keys.stages.find((s) => s.name === "fit")!.key;
    assert.match(first.stdout, new RegExp(`^● fit +train +ran +${fitKey.slice(0, 12)} +\\d`, "m"));
    const again = await rig.rnnp(["--verbose", "run", "p.rnnp"]);
    assert.match(
      again.stdout,
      new RegExp(`^✔ fit +train +cached +${fitKey.slice(0, 12)} +\\d+ ms +\\(local\\)$`, "m"),
    );
    rig.write({ "p.rnnp": pipeline.replace("epochs: 2", "epochs: 1") });
    const changed = await rig.rnnp(["run", "p.rnnp", "-v"]);
    assert.match(changed.stderr, /^\[fit\] executes \(key [0-9a-f]{12}; param `epochs`/m);
  });

  it("--jobs N: every worker's lines, live, prefixed by its stage; on a terminal, what runs now", async () => {
    // Built here first: with --jobs every stage that runs is a process of its own, and what is
    // shown is the training's, so only fit (then fit and report) run in workers.
    const rig = rigWith();
    assert.equal((await rig.rnnp(["run", "p.rnnp", "-q"])).code, 0);
    const r = await rig.rnnp(["run", "p.rnnp", "--jobs", "2", "--force-stage", "fit"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[fit\] epoch 1\/2 {2}loss /m);
    assert.match(r.stderr, /^\[fit\] epoch 2\/2 {2}loss /m);
    assert.match(r.stdout, /^● fit +train +ran/m);
    const tty = await rig.rnnp(["run", "p.rnnp", "--jobs", "2", "--force-stage", "fit,report"], {
      tty: { stderr: true },
    });
    assert.equal(tty.code, 0, tty.stderr);
    const frames = tty.stderr.split("\r\x1b[K").filter(Boolean);
    assert.ok(frames.includes("running fit 0 s"), JSON.stringify(frames.slice(0, 5)));
    assert.ok(
      frames.some((f) => f.startsWith("[fit] epoch 2/2  loss ")),
      JSON.stringify(frames),
    );
    assert.ok(frames.some((f) => /^running report \d/.test(f)));
  });
});

describe("check's output", () => {
  it("shows each rebuild's lines prefixed by its stage; -v adds keys and times; -q only the verdict", async () => {
    const rig = rigWith();
    assert.equal((await rig.rnnp(["run", "p.rnnp", "-q"])).code, 0);
    const r = await rig.rnnp(["check", "p.rnnp", "-s", "fit", "-v"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[fit\] epoch 1\/2 {2}loss /m);
    assert.match(r.stderr, /^\[fit\] epoch 2\/2 {2}loss /m);
    assert.match(
      r.stdout,
      /^✔ fit {2}bit-identical \(1 fresh process, against the cache and the lockfile [0-9a-f]{12}, [\d.]+ m?s\)$/m,
    );
    const quiet = await rig.rnnp(["check", "p.rnnp", "-s", "fit,vocab", "-q"]);
    assert.deepEqual(
      [quiet.code, quiet.stdout, quiet.stderr],
      [0, "all 2 stages rebuilt bit-identical\n", ""],
    );
  });
});

describe("long cache tasks show progress", () => {
  it("verify, export and import: on a terminal a line redrawn; off it nothing unless --verbose", async () => {
    const rig = rigWith();
    assert.equal((await rig.rnnp(["run", "p.rnnp", "-q"])).code, 0);
    const tty = { stderr: true };
    const verify = await rig.rnnp(["cache", "verify"], { tty });
    assert.equal(verify.code, 0, verify.stderr);
    const blobs = Number(verify.stdout.match(/and (\d+) blobs/)![1]);
    assert.match(
      verify.stderr,
      new RegExp(`\r\x1b\\[K {2}blobs ${blobs} of ${blobs} \\(100%\\), [\\d.]+ (B|KiB|MiB)`),
    );
    assert.match(verify.stderr, / {2}records \d+ of \d+ \(100%\)/);
    assert.ok(verify.stderr.endsWith("\r\x1b[K"), "the line is cleared at the end");
    const plain = await rig.rnnp(["cache", "verify"]);
    assert.equal(plain.stderr, "");
    const verbose = await rig.rnnp(["cache", "verify", "-v"]);
    assert.match(verbose.stderr, new RegExp(`^ {2}blobs ${blobs} of ${blobs} \\(100%\\), `, "m"));
    assert.ok(!verbose.stderr.includes("\x1b"));

    const exported = await rig.rnnp(["cache", "export", "-o", "b.tar"], { tty });
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, / {2}export [\d.]+ (B|KiB|MiB) of [\d.]+ (B|KiB|MiB) \(100%\)/);
    const imported = await rig.rnnp(["cache", "import", "b.tar", "--cache", "other"], { tty });
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, / {2}read [\d.]+ (B|KiB|MiB) of /);
    assert.match(imported.stderr, / {2}check \d+ of \d+ \(100%\)/);
    const json = await rig.rnnp(["cache", "verify", "--json"], { tty });
    assert.equal(json.stderr, "");
  });
});

/** Every key of a JSON value that names a duration, with its value: `path.to.key` -> value. */
function durations(
  value: unknown,
  path = "$",
  out = new Map<string, unknown>(),
): Map<string, unknown> {
  if (Array.isArray(value)) value.forEach((v, i) => durations(v, `${path}[${i}]`, out));
  else if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) {
      if (
        /[dD]uration|[sS]econds|[sS]ecs|[eE]lapsed|took|^time$|[a-z]Ms$/.test(k) &&
        !/^(checkedAt|createdAt)$/.test(k)
      )
        out.set(`${path}.${k}`, v);
      durations(v, `${path}.${k}`, out);
    }
  return out;
}

describe("one duration field in every --json output", () => {
  it("is durationMs, integer milliseconds", async () => {
    const rig = rigWith();
    const outputs: [string, string][] = [];
    const json = async (...args: string[]) => {
      const r = await rig.rnnp([...args, "--json"]);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      outputs.push([args.join(" "), r.stdout]);
      return JSON.parse(r.stdout) as unknown;
    };
    const run = (await json("run", "p.rnnp")) as { stages: { name: string; key: string }[] };
    await json("run", "p.rnnp", "--dry-run");
    await json("status", "p.rnnp");
    await json("check", "p.rnnp", "-s", "vocab");
    await json("cache", "ls");
    await json("cache", "show", run.stages.find((s) => s.name === "fit")!.key);
    await json("cache", "export", "-o", "b.tar");
    await json("cache", "import", "b.tar", "--cache", "other");
    const seen = new Set<string>();
    for (const [verb, text] of outputs) {
      const found = durations(JSON.parse(text));
      assert.ok(found.size > 0, `${verb} --json reports a duration`);
      for (const [path, v] of found) {
        const key = path.slice(path.lastIndexOf(".") + 1);
        seen.add(key);
        assert.equal(key, "durationMs", `${verb}: ${path}`);
        assert.ok(
          v === null || (Number.isInteger(v) && (v as number) >= 0),
          `${verb}: ${path} = ${v}`,
        );
      }
    }
    assert.deepEqual([...seen], ["durationMs"]);
  });
});

describe("global options and conflicts", () => {
  it("--quiet and --verbose are taken by every verb, before or after it, and not together", async () => {
    const rig = rigWith();
    for (const args of [
      ["status", "p.rnnp", "-v"],
      ["-v", "dag", "p.rnnp"],
      ["validate", "p.rnnp", "--quiet"],
      ["cache", "ls", "-q"],
      ["kinds", "-q"],
    ]) {
      const r = await rig.rnnp(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    assert.equal((await rig.rnnp(["validate", "p.rnnp", "-q"])).stdout, "");
    assert.match((await rig.rnnp(["validate", "p.rnnp"])).stdout, /p\.rnnp/);
    const both = await rig.rnnp(["run", "p.rnnp", "-q", "-v"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /option '-q, --quiet' cannot be used with option '-v, --verbose'/);
  });

  it("status -q prints nothing and exits 1 when stale, as before", async () => {
    const rig = rigWith();
    const r = await rig.rnnp(["status", "p.rnnp", "-q"]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [1, "", ""]);
    const json = await rig.rnnp(["status", "p.rnnp", "-q", "--json"]);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { stages: unknown[] }).stages.length, 7);
  });

  it("conflicting flags exit 2 naming both", async () => {
    const rig = rigWith();
    for (const [args, a, b] of [
      [["run", "p.rnnp", "--json", "--report", "r.html"], "--report <file>", "--json"],
      [["run", "p.rnnp", "-f", "--force-stage", "fit"], "-f, --force", "--force-stage <name>"],
      [["run", "p.rnnp", "-n", "--frozen"], "-n, --dry-run", "--frozen"],
      [["compare", "p.rnnp", "--json", "--csv"], "--json", "--csv"],
      [["fmt", "p.rnnp", "-w", "--check"], "-w, --write", "--check"],
      [
        ["predict", "p.rnnp", "-s", "fit", "-i", "ann", "--file", "x"],
        "-i, --input <text>",
        "--file <path>",
      ],
    ] as const) {
      const r = await rig.rnnp([...args]);
      assert.equal(r.code, 2, args.join(" "));
      assert.ok(
        r.stderr.includes(`option '${a}' cannot be used with option '${b}'`),
        `${args.join(" ")}: ${r.stderr}`,
      );
    }
  });
});
