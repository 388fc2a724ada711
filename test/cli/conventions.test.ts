import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { table } from "../../src/cli/print.js";
import { NAMES_CSV, ROOT } from "../helpers.js";
import { Rig } from "../rig.js";
import { EVALUATE, csvClassifier, csvParts } from "../fixtures/pipelines.js";

const GOOD = `pipeline p {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
}
`;
const BAD = "pipeline q { stage a = lstn() }\n";

describe("one CLI convention", () => {
  const rig = new Rig().write({ "d.csv": NAMES_CSV, "good.rnnp": GOOD, "bad.rnnp": BAD });

  it("`rnnp` and `rnnp cache` without a subcommand print help and exit non-zero; --help exits 0", async () => {
    const bare = await rig.rnnp([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^Usage: rnnp \[options\] \[command\]/);
    const cache = await rig.rnnp(["cache"]);
    assert.equal(cache.code, 2);
    assert.match(cache.stderr, /^Usage: rnnp cache \[options\] \[command\]/);
    const help = await rig.rnnp(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: rnnp/);
    assert.equal((await rig.rnnp(["help"])).code, 0);
  });

  it("--json on an invalid pipeline writes its diagnostics as JSON on stdout", async () => {
    for (const verb of [["status"], ["dag"], ["run"], ["why", "a"], ["compare"]]) {
      const [v, ...rest] = verb;
      const r = await rig.rnnp([v!, ...rest, "bad.rnnp", "--json"]);
      assert.equal(r.code, 2, `${v}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as {
        file: string;
        valid: boolean;
        diagnostics: { code: string; file: string }[];
      };
      assert.deepEqual(
        [out.file, out.valid, out.diagnostics.map((d) => d.code)],
        ["bad.rnnp", false, ["unknown-kind"]],
        v,
      );
      assert.equal(r.stderr, "", `${v} printed to stderr too`);
    }
  });

  it("validate takes several files, and --json reports each", async () => {
    const text = await rig.rnnp(["validate", "good.rnnp", "bad.rnnp"]);
    assert.equal(text.code, 2);
    assert.match(text.stdout, /✔ good\.rnnp: pipeline `p` is valid \(1 stage\)/);
    assert.match(text.stderr, /error\[unknown-kind\]/);
    const json = await rig.rnnp(["validate", "good.rnnp", "bad.rnnp", "--json"]);
    assert.equal(json.code, 2);
    const rows = JSON.parse(json.stdout) as {
      file: string;
      valid: boolean;
      stages?: number;
      diagnostics: { code: string }[];
    }[];
    assert.deepEqual(
      rows.map((r) => [r.file, r.valid, r.stages, r.diagnostics.map((d) => d.code)]),
      [
        ["good.rnnp", true, 1, []],
        ["bad.rnnp", false, undefined, ["unknown-kind"]],
      ],
    );
    assert.equal((await rig.rnnp(["validate", "good.rnnp", "--json"])).code, 0);
  });

  it("tables align by display width (CJK takes two columns, colour codes none)", () => {
    assert.equal(
      table([
        ["名前", "x"],
        ["ab", "y"],
        ["\u001b[32mok\u001b[39m", "z"],
      ]),
      "名前  x\nab    y\n\u001b[32mok\u001b[39m    z",
    );
  });

  it("compare --csv writes a swept string once, quoted only where CSV needs it", async () => {
    const sweep = new Rig().write({
      "d.csv": NAMES_CSV,
      "e, f.csv": NAMES_CSV,
      "s.rnnp": csvClassifier({
        name: "s",
        settings: ['params { path = "d.csv" }', 'sweep { path: ["d.csv", "e, f.csv"] }'],
        path: "params.path",
        train: "epochs: 1",
        after: [EVALUATE],
      }),
    });
    const r = await sweep.rnnp(["compare", "s.rnnp", "--csv"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'stage,path\nreport,d.csv\nreport,"e, f.csv"\n');
    assert.doesNotMatch(r.stdout, /""/);
  });

  it("-f forces without eating the file name; --force-stage (and the old --force=NAME) force named stages", async () => {
    const r1 = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": GOOD });
    const first = await r1.rnnp(["run", "-f", "p.rnnp", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const again = await r1.rnnp(["run", "-f", "p.rnnp", "--json"]);
    assert.deepEqual(
      (JSON.parse(again.stdout) as { stages: { status: string }[] }).stages.map((s) => s.status),
      ["ran"],
    );
    for (const args of [["--force-stage", "raw"], ["--force=raw"]]) {
      const named = await r1.rnnp(["run", "p.rnnp", "--json", ...args]);
      assert.equal(named.code, 0, named.stderr);
      assert.equal(
        (JSON.parse(named.stdout) as { stages: { status: string }[] }).stages[0]!.status,
        "ran",
        args.join(" "),
      );
    }
    const bad = await r1.rnnp(["run", "p.rnnp", "--force-stage", "rwa"]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--force-stage rwa: no such stage in p\.rnnp \(did you mean `raw`\?\)/,
    );
    const both = await r1.rnnp(["run", "p.rnnp", "-f", "--force-stage", "raw"]);
    assert.equal(both.code, 2);
  });

  it("a CLI verb is one file: commands/VERB.ts holds VERB's action and no other verb's", async () => {
    const help = await rig.rnnp(["--help"]);
    const listed = help.stdout.slice(help.stdout.indexOf("Commands:"));
    const verbs = [...listed.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]!);
    assert.ok(verbs.includes("why") && verbs.includes("fmt"), help.stdout);
    // `cache` is a family of verbs (ls, show, verify, ...) kept in commands/cache.ts and remote.ts.
    const files = ["rebuild-stage", ...verbs.filter((v) => v !== "cache")];
    const main = readFileSync(join(ROOT, "src", "cli", "main.ts"), "utf8");
    const camel = (v: string) => v.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    for (const verb of files) {
      const loader = `(await import("./commands/${verb}.js")).${camel(verb)}Command`;
      assert.ok(main.includes(loader), `main.ts loads \`${verb}\` from commands/${verb}.ts`);
      const mod = (await import(`../../src/cli/commands/${verb}.js`)) as Record<string, unknown>;
      const commands = Object.keys(mod).filter((k) => k.endsWith("Command"));
      assert.deepEqual(commands, [`${camel(verb)}Command`], `commands/${verb}.ts`);
    }
    const onDisk = readdirSync(join(ROOT, "src", "cli", "commands")).map((f) =>
      f.replace(/\.ts$/, ""),
    );
    assert.deepEqual(onDisk.sort(), [...files, "cache", "remote"].sort());
  });

  it("--json on every verb a script calls (all but help, init, lsp, worker and the HTML report)", async () => {
    const help = await rig.rnnp(["--help"]);
    const verbs = [
      ...help.stdout.slice(help.stdout.indexOf("Commands:")).matchAll(/^ {2}([a-z-]+)\b/gm),
    ].map((m) => m[1]!);
    const cacheHelp = await rig.rnnp(["cache", "--help"]);
    const cacheVerbs = [
      ...cacheHelp.stdout
        .slice(cacheHelp.stdout.indexOf("Commands:"))
        .matchAll(/^ {2}([a-z-]+)\b/gm),
    ]
      .filter((m) => m[1] !== "help")
      .map((m) => ["cache", m[1]!]);
    assert.ok(cacheVerbs.length >= 10, cacheHelp.stdout);
    const exempt = ["help", "init", "lsp", "worker", "report", "cache"];
    for (const args of [
      ...verbs.filter((v) => !exempt.includes(v)).map((v) => [v]),
      ...cacheVerbs,
    ]) {
      const r = await rig.rnnp([...args, "--help"]);
      assert.match(r.stdout, /--json/, `rnnp ${args.join(" ")} has no --json`);
    }
  });

  it("dag --json: stages with kind, status and upstream, and the edges", async () => {
    const p = new Rig().write({
      "d.csv": NAMES_CSV,
      "p.rnnp": csvParts({ name: "p", lowercase: false }),
    });
    assert.equal((await p.rnnp(["run", "p.rnnp", "-s", "raw"])).code, 0);
    const r = await p.rnnp(["dag", "p.rnnp", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      pipeline: "p",
      file: "p.rnnp",
      stages: [
        { name: "raw", kind: "load.csv", status: "fresh", upstream: [] },
        { name: "parts", kind: "split", status: "stale", upstream: ["raw"] },
      ],
      edges: [{ from: "raw", to: "parts", label: "data" }],
    });
    assert.equal((await p.rnnp(["dag", "p.rnnp", "--json", "--format", "dot"])).code, 2);
  });

  it("fmt --check --json: each file and whether it is formatted; broken files with their diagnostics", async () => {
    const f = new Rig().write({
      "good.rnnp": GOOD,
      "ugly.rnnp": GOOD.replace("  stage", "stage"),
      "bad.rnnp": "pipeline {",
    });
    const check = await f.rnnp(["fmt", "--check", "--json", "good.rnnp", "ugly.rnnp"]);
    assert.equal(check.code, 1);
    assert.deepEqual(JSON.parse(check.stdout), [
      { file: "good.rnnp", formatted: true },
      { file: "ugly.rnnp", formatted: false },
    ]);
    assert.equal((await f.rnnp(["fmt", "--check", "--json", "good.rnnp"])).code, 0);
    const plain = JSON.parse((await f.rnnp(["fmt", "--json", "ugly.rnnp"])).stdout) as {
      text: string;
    }[];
    assert.equal(plain[0]!.text, GOOD);
    const broken = await f.rnnp([
      "fmt",
      "--check",
      "--json",
      "bad.rnnp",
      "missing.rnnp",
      "good.rnnp",
    ]);
    assert.equal(broken.code, 2);
    const rows = JSON.parse(broken.stdout) as {
      file: string;
      formatted?: boolean;
      diagnostics?: { code: string }[];
    }[];
    assert.deepEqual(
      rows.map((r) => [r.file, r.formatted, r.diagnostics?.map((d) => d.code)]),
      [
        ["bad.rnnp", undefined, ["syntax"]],
        ["missing.rnnp", undefined, ["no-file"]],
        ["good.rnnp", true, undefined],
      ],
    );
    assert.equal(broken.stderr, "");
    const written = await f.rnnp(["fmt", "--write", "--json", "ugly.rnnp"]);
    assert.deepEqual(JSON.parse(written.stdout), [
      { file: "ugly.rnnp", formatted: false, written: true },
    ]);
    assert.equal(f.read("ugly.rnnp"), GOOD);
  });

  it("cache path --json: the directory and whether a cache is there", async () => {
    const c = new Rig().write({ "package.json": "{}" });
    const r = await c.rnnp(["cache", "path", "--json"]);
    assert.deepEqual(JSON.parse(r.stdout), { cache: c.path("cache"), exists: false });
  });

  it("the stage is given one way everywhere: -s/--stage on every verb about stages, the positional where it was", async () => {
    const p = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": GOOD });
    assert.equal((await p.rnnp(["run", "p.rnnp", "-s", "raw"])).code, 0);
    for (const verb of ["run", "show", "why", "predict", "check"]) {
      const help = await p.rnnp([verb, "--help"]);
      assert.match(help.stdout, /^ {2}-s, --stage <name> /m, verb);
    }
    const positional = await p.rnnp(["show", "raw", "p.rnnp", "--json"]);
    assert.equal(positional.code, 0, positional.stderr);
    for (const args of [
      ["show", "-s", "raw", "p.rnnp", "--json"],
      ["show", "--stage", "raw", "--json"],
      ["show", "raw", "p.rnnp", "-s", "raw", "--json"],
    ]) {
      const r = await p.rnnp(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, positional.stdout, args.join(" "));
    }
    const why = await p.rnnp(["why", "raw", "p.rnnp", "--json"]);
    assert.equal((await p.rnnp(["why", "-s", "raw", "p.rnnp", "--json"])).stdout, why.stdout);
    const twice = await p.rnnp(["show", "raw", "p.rnnp", "-s", "other"]);
    assert.equal(twice.code, 2);
    assert.match(
      twice.stderr,
      /show: the stage is named twice \(`raw` and -s `other`\); name it once/,
    );
    const none = await p.rnnp(["why"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /why: name a stage: rnnp why STAGE \[FILE\], or -s STAGE/);
  });

  it("paths print relative to the pipeline's folder, the same from any directory; wording", async () => {
    const p = new Rig().write({
      "package.json": "{}",
      "pipes/d.csv": NAMES_CSV,
      "pipes/p.rnnp": `pipeline p {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
}
`,
    });
    assert.equal((await p.rnnp(["run", "pipes/p.rnnp"])).code, 0);
    p.write({ "pipes/d.csv": `${NAMES_CSV}Zed,m,1\n` });
    const fromRoot = await p.rnnp(["why", "raw", "pipes/p.rnnp"]);
    const fromFolder = await p.rnnp(["why", "raw", "p.rnnp"], { cwd: p.path("pipes") });
    assert.equal(fromRoot.stdout, "raw: stale\n  - file `d.csv` content changed\n");
    assert.equal(fromFolder.stdout, fromRoot.stdout);
    const status = await p.rnnp(["status", "p.rnnp"], { cwd: p.path("pipes") });
    assert.match(
      status.stdout,
      /^stale +raw +load\.csv +file `d\.csv` content changed\n1 of 1 stage stale\n$/,
    );
  });
});
