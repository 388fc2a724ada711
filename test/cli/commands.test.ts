import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { NAMES_CSV } from "../helpers.js";
import { Rig } from "../rig.js";

const PIPELINE = `# a small pipeline for CLI tests
pipeline names {
  seed 11
  params { lower = true, n = 3 }

  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage low = clean(raw, lowercase: params.lower, dedupe: true)
  stage parts = split(low, train: 0.6, val: 0.2, test: 0.2)
  stage preview = head(parts, n: params.n)
  stage other = sample(raw, n: 4)
}
`;

const project = () => new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });

const json = (s: string) =>
  JSON.parse(s) as {
    stages: {
      name: string;
      kind: string;
      key: string | null;
      status: string;
      durationMs: number | null;
      reason?: string;
    }[];
  };
const byName = (s: string) => Object.fromEntries(json(s).stages.map((x) => [x.name, x.status]));

describe("rnnp run", () => {
  it("runs everything, then nothing; an edited param reruns exactly that stage and its dependents", async () => {
    const rig = project();
    const first = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const report = json(first.stdout);
    assert.deepEqual(byName(first.stdout), {
      raw: "ran",
      low: "ran",
      other: "ran",
      parts: "ran",
      preview: "ran",
    });
    for (const s of report.stages) {
      assert.match(s.key!, /^[0-9a-f]{64}$/);
      assert.equal(typeof s.durationMs, "number");
      assert.ok(s.kind);
    }
    const second = await rig.rnnp(["run", "p.rnnp", "--json"]);
    assert.deepEqual(Object.values(byName(second.stdout)), [
      "cached",
      "cached",
      "cached",
      "cached",
      "cached",
    ]);
    const edited = await rig.rnnp(["run", "p.rnnp", "--json", "-P", "n=2"]);
    assert.deepEqual(byName(edited.stdout), {
      raw: "cached",
      low: "cached",
      other: "cached",
      parts: "cached",
      preview: "ran",
    });
    const upstream = await rig.rnnp(["run", "p.rnnp", "--json", "-P", "lower=false"]);
    assert.deepEqual(byName(upstream.stdout), {
      raw: "cached",
      low: "ran",
      other: "cached",
      parts: "ran",
      preview: "ran",
    });
  });

  it("prints one line per stage and a summary", async () => {
    const rig = project();
    const r = await rig.rnnp(["run", "p.rnnp"]);
    assert.equal(r.code, 0);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 6);
    assert.match(lines[0]!, /^● raw\s+load\.csv\s+ran\s+\d+ ms$/);
    assert.match(lines[5]!, /^5 stages: 5 ran in /);
    assert.match((await rig.rnnp(["run", "p.rnnp"])).stdout, /✔ raw\s+load\.csv\s+cached\n/);
  });

  it("--stage runs a stage and what it needs; --force executes cached stages again", async () => {
    const rig = project();
    assert.deepEqual(
      byName((await rig.rnnp(["run", "p.rnnp", "--json", "--stage", "low"])).stdout),
      {
        raw: "ran",
        low: "ran",
      },
    );
    assert.deepEqual(
      byName((await rig.rnnp(["run", "p.rnnp", "--json", "-s", "parts,other"])).stdout),
      {
        raw: "cached",
        low: "cached",
        other: "ran",
        parts: "ran",
      },
    );
    assert.deepEqual(
      byName((await rig.rnnp(["run", "p.rnnp", "--json", "--force=low", "--stage", "low"])).stdout),
      { raw: "cached", low: "ran" },
    );
    assert.deepEqual(
      Object.values(byName((await rig.rnnp(["run", "p.rnnp", "--json", "--force"])).stdout)),
      ["ran", "ran", "ran", "ran", "ran"],
    );
  });

  it("--dry-run says what would run and why, and runs nothing", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp", "--stage", "low"]);
    const r = await rig.rnnp(["run", "p.rnnp", "--dry-run"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /✔ raw {2}load\.csv {2}cached [0-9a-f]{12}/);
    assert.match(r.stdout, /→ parts {2}split {2}would run: never run/);
    const j = json(
      (await rig.rnnp(["run", "p.rnnp", "--dry-run", "--json", "-P", "lower=false"])).stdout,
    );
    const low = j.stages.find((s) => s.name === "low")!;
    assert.equal(low.status, "stale");
    assert.equal(low.reason, "param `lowercase` true -> false (from params.lower)");
    assert.deepEqual(
      byName((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout).parts,
      "ran",
      "the dry run ran nothing",
    );
  });

  it("a failing stage exits 1, reports the error with the stage, and caches the rest", async () => {
    const rig = project();
    rig.write({ "bad.rnnp": PIPELINE.replace('label: "label"', 'label: "labell"') });
    const r = await rig.rnnp(["run", "bad.rnnp", "--json"]);
    assert.equal(r.code, 1);
    assert.deepEqual(byName(r.stdout), {
      raw: "failed",
      low: "skipped",
      other: "skipped",
      parts: "skipped",
      preview: "skipped",
    });
    assert.match(r.stderr, /error\[data\]: no column "labell"/);
    assert.match(r.stderr, /--> d\.csv/);
    assert.match(r.stderr, /hint: did you mean "label"\?/);
    const text = await rig.rnnp(["run", "bad.rnnp"]);
    assert.match(text.stdout, /○ low\s+clean\s+skipped\s+\(not run: raw failed\)/);
  });

  it("an invalid pipeline or usage exits 2 with rendered diagnostics", async () => {
    const rig = project();
    rig.write({ "bad.rnnp": PIPELINE.replace("clean(raw", "claen(raw") });
    const r = await rig.rnnp(["run", "bad.rnnp"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /error\[unknown-kind\]: unknown stage kind `claen`\n {2}--> bad\.rnnp:7:15\n/,
    );
    assert.match(r.stderr, /\^\^\^\^\^/);
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--stage", "nope"])).code, 2);
    assert.match((await rig.rnnp(["run", "p.rnnp", "--stage", "lw"])).stderr, /did you mean `low`/);
    assert.equal((await rig.rnnp(["run", "p.rnnp", "--bogus"])).code, 2);
    assert.equal((await rig.rnnp(["run", "missing.rnnp"])).code, 2);
    assert.equal((await rig.rnnp(["run", "p.rnnp", "-P", "nope=1"])).code, 2);
    for (const [cmd, opt] of [
      ["run", "--jobs"],
      ["check", "--runs"],
      ["predict", "--beam"],
    ]) {
      const bad = await rig.rnnp([cmd!, "p.rnnp", opt!, "0"]);
      assert.equal(bad.code, 2, `${cmd} ${opt} 0`);
      assert.match(
        bad.stderr,
        new RegExp(`${opt} <n>' argument '0' is invalid\\. expected a positive integer`),
      );
    }
  });

  it("finds the only .rnnp file in the working directory", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["run", "--json"])).code, 0);
  });
});

describe("rnnp status, why, dag", () => {
  it("status: fresh and stale stages with a reason, without running anything", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp", "--stage", "low"]);
    const r = await rig.rnnp(["status", "p.rnnp", "--json"]);
    assert.equal(r.code, 0);
    const rows = json(r.stdout).stages;
    assert.deepEqual(
      rows.map((s) => [s.name, s.status]),
      [
        ["raw", "fresh"],
        ["low", "fresh"],
        ["parts", "stale"],
        ["preview", "stale"],
        ["other", "stale"],
      ],
    );
    assert.equal(
      rows.find((s) => s.name === "preview")!.reason,
      "waits on `parts` <- never run: no cached record of this stage",
    );
    assert.equal(rows.find((s) => s.name === "preview")!.key, null);
    const text = (await rig.rnnp(["status", "p.rnnp"])).stdout;
    assert.match(text, /fresh {2}raw/);
    assert.match(text, /3 of 5 stages stale/);
    assert.equal(
      (await rig.rnnp(["status", "p.rnnp", "--json"])).stdout,
      r.stdout,
      "status ran nothing",
    );
  });

  it("why: the changed param, nested reasons, and up-to-date", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const r = await rig.rnnp(["why", "preview", "p.rnnp", "-P", "lower=false"]);
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "preview: stale (waits on upstream)\n  - waits on `parts`\n    - waits on `low`\n      - param `lowercase` true -> false (from params.lower)\n",
    );
    assert.match(
      (await rig.rnnp(["why", "raw", "p.rnnp"])).stdout,
      /^raw: up to date\n {2}- cached since /,
    );
    assert.equal((await rig.rnnp(["why", "nope", "p.rnnp"])).code, 2);
  });

  it("dag: text, dot and mermaid, with statuses", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp", "--stage", "raw"]);
    assert.match(
      (await rig.rnnp(["dag", "p.rnnp"])).stdout,
      /^raw +load\.csv +fresh\s*\nlow +clean +stale +<- raw\n/,
    );
    const dot = (await rig.rnnp(["dag", "p.rnnp", "--format", "dot"])).stdout;
    assert.match(dot, /^digraph "names" \{/);
    assert.match(dot, /"low" -> "parts" \[label="data"\];/);
    // Built stages: kind, key prefix, duration and size, coloured cached; the others stale.
    assert.match(
      dot,
      /"raw" \[id="stage-0", label="raw\\nload\.csv · [0-9a-f]{12}\\n\d+ ms · [\d.]+ (B|KiB)", fillcolor="#d4f4dd"/,
    );
    assert.match(
      dot,
      /"low" \[id="stage-1", label="low\\nclean · [0-9a-f]{12}", fillcolor="#fde2b8"/,
    );
    const mermaid = (await rig.rnnp(["dag", "p.rnnp", "--format", "mermaid"])).stdout;
    assert.match(mermaid, /^flowchart LR/);
    assert.match(mermaid, /s_parts -->\|data\| s_preview/);
    assert.match(mermaid, /s_raw\["raw<br\/><small>load\.csv<\/small>"\]:::fresh/);
    assert.equal((await rig.rnnp(["dag", "p.rnnp", "--format", "png"])).code, 2);
  });
});

describe("rnnp validate and fmt", () => {
  it("validate: exit 0 when valid, 2 with every error otherwise, and nothing runs", async () => {
    const rig = project();
    const ok = await rig.rnnp(["validate", "p.rnnp"]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /pipeline `names` is valid \(5 stages\)/);
    rig.write({
      "bad.rnnp": PIPELINE.replace("clean(raw", "clean(rw")
        .replace("n: 4", "n: -4")
        .replace("seed 11", "seed 11\n  seed 12"),
    });
    const bad = await rig.rnnp(["validate", "bad.rnnp"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /duplicate-setting/);
    assert.match(bad.stderr, /undefined-ref/);
    assert.match(bad.stderr, /param-type/);
    assert.match(bad.stderr, /3 errors/);
    assert.equal(
      (await rig.rnnp(["cache", "ls", "--json"])).stdout.includes('"records": []'),
      true,
    );
  });

  it("fmt: prints, checks and rewrites; idempotent", async () => {
    const rig = project();
    rig.write({ "messy.rnnp": 'pipeline m{seed 1 # s\nstage a=load.csv(path:"d.csv")}\n' });
    const printed = await rig.rnnp(["fmt", "messy.rnnp"]);
    assert.equal(
      printed.stdout,
      'pipeline m {\n  seed 1 # s\n  stage a = load.csv(path: "d.csv")\n}\n',
    );
    assert.equal((await rig.rnnp(["fmt", "--check", "messy.rnnp", "p.rnnp"])).code, 1);
    assert.equal((await rig.rnnp(["fmt", "--check", "messy.rnnp"])).stdout, "messy.rnnp\n");
    assert.equal((await rig.rnnp(["fmt", "--write", "messy.rnnp"])).code, 0);
    assert.equal(readFileSync(rig.path("messy.rnnp"), "utf8"), printed.stdout);
    assert.equal((await rig.rnnp(["fmt", "--check", "messy.rnnp"])).code, 0);
    rig.write({ "broken.rnnp": "pipeline { }" });
    assert.equal((await rig.rnnp(["fmt", "broken.rnnp"])).code, 2);
  });
});

describe("rnnp show and cache", () => {
  it("show prints a built stage's outputs", async () => {
    const rig = project();
    assert.equal((await rig.rnnp(["show", "preview", "p.rnnp"])).code, 1, "not built yet");
    await rig.rnnp(["run", "p.rnnp"]);
    const r = await rig.rnnp(["show", "preview", "p.rnnp", "--rows", "2"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^preview \(head\) key [0-9a-f]{12}/);
    assert.match(
      r.stdout,
      /\ntrain {2}[0-9a-f]{12}, .*\n {2}table, 3 rows x 3 columns: name:string \(text\), label:string \(label\), score:number\n {2}name +label +score\n/,
    );
    assert.match(r.stdout, /\.\.\. 1 more rows/);
  });

  it("cache ls, show, path", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const ls = await rig.rnnp(["cache", "ls", "--json"]);
    const records = (
      JSON.parse(ls.stdout) as {
        records: { key: string; stage: string; kind: string; size: number }[];
      }
    ).records;
    assert.equal(records.length, 5);
    assert.deepEqual(records.map((r) => r.stage).sort(), [
      "low",
      "other",
      "parts",
      "preview",
      "raw",
    ]);
    assert.match(
      (await rig.rnnp(["cache", "ls"])).stdout,
      /key +kind +made by +size +age +checked\n/,
    );
    const parts = records.find((r) => r.stage === "parts")!;
    const show = await rig.rnnp(["cache", "show", parts.key.slice(0, 10)]);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /made by +stage `parts` of pipeline `names`/);
    assert.match(show.stdout, /"kind": "split"/);
    assert.match(show.stdout, /"seed": \d+/);
    assert.match(show.stdout, /data <- low/);
    assert.equal((await rig.rnnp(["cache", "show", "ffffffff"])).code, 1);
    assert.equal((await rig.rnnp(["cache", "show", "xyz"])).code, 2);
    assert.equal((await rig.rnnp(["cache", "path"])).stdout.trim(), rig.path("cache"));
    assert.equal(
      (await rig.rnnp(["cache", "path", "--cache", "elsewhere"])).stdout.trim(),
      rig.path("elsewhere"),
    );
    assert.equal(
      (await rig.rnnp(["cache", "path"], { env: { RNNP_CACHE: rig.path("env") } })).stdout.trim(),
      rig.path("env"),
    );
  });

  it("cache verify: intact, then a corrupt blob dropped with its record, which then recomputes", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    const ok = await rig.rnnp(["cache", "verify"]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /blobs \(.*\) checked: all intact/);
    const key = JSON.parse((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout).stages.find(
      (s: { name: string }) => s.name === "low",
    ).key as string;
    const record = JSON.parse((await rig.rnnp(["cache", "show", key, "--json"])).stdout) as {
      outputs: { out: { digest: string } };
    };
    const { open } = await import("lmdb");
    const raw = open({ path: rig.path("cache"), maxDbs: 8 });
    await raw
      .openDB({ name: "blobs", encoding: "binary" })
      .put(record.outputs.out.digest, Buffer.from("bit rot"));
    await raw.close();
    const bad = await rig.rnnp(["cache", "verify"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /corrupt blob [0-9a-f]{64}: removed/);
    assert.match(bad.stdout, /dropped record [0-9a-f]{12} \(names\/low\)/);
    assert.deepEqual(byName((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout), {
      raw: "cached",
      low: "ran",
      other: "cached",
      parts: "cached",
      preview: "cached",
    });
  });

  it("cache gc keeps what the given pipelines use and reports what it freed", async () => {
    const rig = project();
    await rig.rnnp(["run", "p.rnnp"]);
    await rig.rnnp(["run", "p.rnnp", "-P", "n=1"]);
    const dry = await rig.rnnp(["cache", "gc", "p.rnnp", "--dry-run"]);
    assert.match(dry.stdout, /would remove [0-9a-f]{12} names\/preview/);
    assert.match(dry.stdout, /would remove 1 records and 3 blobs/);
    const r = await rig.rnnp(["cache", "gc", "p.rnnp", "--json"]);
    const report = JSON.parse(r.stdout) as {
      removedRecords: { stage: string }[];
      freedBytes: number;
      keptRecords: number;
    };
    assert.deepEqual(
      report.removedRecords.map((x) => x.stage),
      ["names/preview"],
    );
    assert.ok(report.freedBytes > 0);
    assert.equal(report.keptRecords, 5);
    assert.deepEqual(Object.values(byName((await rig.rnnp(["run", "p.rnnp", "--json"])).stdout)), [
      "cached",
      "cached",
      "cached",
      "cached",
      "cached",
    ]);
    assert.equal((await rig.rnnp(["cache", "gc"])).code, 2, "gc needs something to go by");
    const capped = JSON.parse(
      (await rig.rnnp(["cache", "gc", "--max-size", "1B", "--json"])).stdout,
    ) as {
      keptRecords: number;
    };
    assert.equal(capped.keptRecords, 0);
    assert.equal((await rig.rnnp(["cache", "gc", "--max-age", "soon"])).code, 2);
  });
});

describe("rnnp --help and --version", () => {
  it("works anywhere and exits 0", async () => {
    const rig = new Rig();
    const help = await rig.rnnp(["--help"]);
    assert.equal(help.code, 0);
    for (const c of ["run", "status", "why", "dag", "validate", "fmt", "show", "cache"])
      assert.match(help.stdout, new RegExp(`\\n  ${c} `));
    assert.match((await rig.rnnp(["--version"])).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match((await rig.rnnp(["cache", "--help"])).stdout, /verify/);
  });

  it("a command declares only its verb; usage, help and a misspelt verb still see every verb", async () => {
    const rig = new Rig();
    // The global options may come before the verb, which then has all its own options.
    const run = await rig.rnnp(["-q", "run", "--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: rnnp run \[options\] \[file\]/);
    assert.match(run.stdout, /--force-stage <name>/);
    assert.match(run.stdout, /Global Options:[\s\S]*--quiet/);
    assert.match((await rig.rnnp(["help", "status"])).stdout, /^Usage: rnnp status/);
    const misspelt = await rig.rnnp(["-v", "stauts"]);
    assert.equal(misspelt.code, 2);
    assert.match(misspelt.stderr, /unknown command 'stauts'\n\(Did you mean status\?\)/);
    // An option of another verb is refused as before.
    const other = await rig.rnnp(["status", "--force"]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /unknown option '--force'/);
    const bare = await rig.rnnp([]);
    assert.equal(bare.code, 2);
    for (const c of ["run", "worker", "predict", "compare", "check", "init", "kinds", "lsp"])
      assert.match(bare.stderr + bare.stdout, new RegExp(`\\n  ${c} `));
  });

  it("--help before a verb shows the overview of every verb, as --help alone", async () => {
    const rig = new Rig();
    const overview = await rig.rnnp(["--help"]);
    assert.match(overview.stdout, /\n {2}worker /);
    for (const args of [
      ["--help", "cache"],
      ["-h", "run"],
      ["-qh", "status"],
      ["-q", "--help", "run"],
    ])
      assert.deepEqual(await rig.rnnp(args), overview, args.join(" "));
  });
});
