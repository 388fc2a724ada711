import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cli, NAMES_CSV, tempDir, writeFiles } from "../helpers.js";

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

function project(): string {
  const dir = tempDir();
  writeFiles(dir, { "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
  return dir;
}

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
  it("runs everything, then nothing; an edited param reruns exactly that stage and its dependents", () => {
    const dir = project();
    const first = cli(["run", "p.rnnp", "--json"], dir);
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
    const second = cli(["run", "p.rnnp", "--json"], dir);
    assert.deepEqual(Object.values(byName(second.stdout)), [
      "cached",
      "cached",
      "cached",
      "cached",
      "cached",
    ]);
    const edited = cli(["run", "p.rnnp", "--json", "-P", "n=2"], dir);
    assert.deepEqual(byName(edited.stdout), {
      raw: "cached",
      low: "cached",
      other: "cached",
      parts: "cached",
      preview: "ran",
    });
    const upstream = cli(["run", "p.rnnp", "--json", "-P", "lower=false"], dir);
    assert.deepEqual(byName(upstream.stdout), {
      raw: "cached",
      low: "ran",
      other: "cached",
      parts: "ran",
      preview: "ran",
    });
  });

  it("prints one line per stage and a summary", () => {
    const dir = project();
    const r = cli(["run", "p.rnnp"], dir);
    assert.equal(r.code, 0);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 6);
    assert.match(lines[0]!, /^● raw\s+load\.csv\s+ran\s+\d+ ms$/);
    assert.match(lines[5]!, /^5 stages: 5 ran in /);
    assert.match(cli(["run", "p.rnnp"], dir).stdout, /✔ raw\s+load\.csv\s+cached\n/);
  });

  it("--stage runs a stage and what it needs; --force executes cached stages again", () => {
    const dir = project();
    assert.deepEqual(byName(cli(["run", "p.rnnp", "--json", "--stage", "low"], dir).stdout), {
      raw: "ran",
      low: "ran",
    });
    assert.deepEqual(byName(cli(["run", "p.rnnp", "--json", "-s", "parts,other"], dir).stdout), {
      raw: "cached",
      low: "cached",
      other: "ran",
      parts: "ran",
    });
    assert.deepEqual(
      byName(cli(["run", "p.rnnp", "--json", "--force=low", "--stage", "low"], dir).stdout),
      { raw: "cached", low: "ran" },
    );
    assert.deepEqual(
      Object.values(byName(cli(["run", "p.rnnp", "--json", "--force"], dir).stdout)),
      ["ran", "ran", "ran", "ran", "ran"],
    );
  });

  it("--dry-run says what would run and why, and runs nothing", () => {
    const dir = project();
    cli(["run", "p.rnnp", "--stage", "low"], dir);
    const r = cli(["run", "p.rnnp", "--dry-run"], dir);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /✔ raw {2}load\.csv {2}cached [0-9a-f]{12}/);
    assert.match(r.stdout, /→ parts {2}split {2}would run: never run/);
    const j = json(cli(["run", "p.rnnp", "--dry-run", "--json", "-P", "lower=false"], dir).stdout);
    const low = j.stages.find((s) => s.name === "low")!;
    assert.equal(low.status, "stale");
    assert.equal(low.reason, "param `lowercase` true -> false (from params.lower)");
    assert.deepEqual(
      byName(cli(["run", "p.rnnp", "--json"], dir).stdout).parts,
      "ran",
      "the dry run ran nothing",
    );
  });

  it("a failing stage exits 1, reports the error with the stage, and caches the rest", () => {
    const dir = project();
    writeFiles(dir, { "bad.rnnp": PIPELINE.replace('label: "label"', 'label: "labell"') });
    const r = cli(["run", "bad.rnnp", "--json"], dir);
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
    const text = cli(["run", "bad.rnnp"], dir);
    assert.match(text.stdout, /○ low\s+clean\s+skipped\s+\(raw failed\)/);
  });

  it("an invalid pipeline or usage exits 2 with rendered diagnostics", () => {
    const dir = project();
    writeFiles(dir, { "bad.rnnp": PIPELINE.replace("clean(raw", "claen(raw") });
    const r = cli(["run", "bad.rnnp"], dir);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /error\[unknown-kind\]: unknown stage kind `claen`\n {2}--> bad\.rnnp:7:15\n/,
    );
    assert.match(r.stderr, /\^\^\^\^\^/);
    assert.equal(cli(["run", "p.rnnp", "--stage", "nope"], dir).code, 2);
    assert.match(cli(["run", "p.rnnp", "--stage", "lw"], dir).stderr, /did you mean `low`/);
    assert.equal(cli(["run", "p.rnnp", "--bogus"], dir).code, 2);
    assert.equal(cli(["run", "missing.rnnp"], dir).code, 2);
    assert.equal(cli(["run", "p.rnnp", "-P", "nope=1"], dir).code, 2);
    for (const [cmd, opt] of [
      ["run", "--jobs"],
      ["check", "--runs"],
      ["predict", "--beam"],
    ]) {
      const bad = cli([cmd!, "p.rnnp", opt!, "0"], dir);
      assert.equal(bad.code, 2, `${cmd} ${opt} 0`);
      assert.match(
        bad.stderr,
        new RegExp(`${opt} <n>' argument '0' is invalid\\. expected a positive integer`),
      );
    }
  });

  it("finds the only .rnnp file in the working directory", () => {
    const dir = project();
    assert.equal(cli(["run", "--json"], dir).code, 0);
  });
});

describe("rnnp status, why, dag", () => {
  it("status: fresh and stale stages with a reason, without running anything", () => {
    const dir = project();
    cli(["run", "p.rnnp", "--stage", "low"], dir);
    const r = cli(["status", "p.rnnp", "--json"], dir);
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
    const text = cli(["status", "p.rnnp"], dir).stdout;
    assert.match(text, /fresh {2}raw/);
    assert.match(text, /3 of 5 stages stale/);
    assert.equal(cli(["status", "p.rnnp", "--json"], dir).stdout, r.stdout, "status ran nothing");
  });

  it("why: the changed param, nested reasons, and up-to-date", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const r = cli(["why", "preview", "p.rnnp", "-P", "lower=false"], dir);
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "preview: stale (waits on upstream)\n  - waits on `parts`\n    - waits on `low`\n      - param `lowercase` true -> false (from params.lower)\n",
    );
    assert.match(
      cli(["why", "raw", "p.rnnp"], dir).stdout,
      /^raw: up to date\n {2}- cached since /,
    );
    assert.equal(cli(["why", "nope", "p.rnnp"], dir).code, 2);
  });

  it("dag: text, dot and mermaid, with statuses", () => {
    const dir = project();
    cli(["run", "p.rnnp", "--stage", "raw"], dir);
    assert.match(
      cli(["dag", "p.rnnp"], dir).stdout,
      /^raw +load\.csv +fresh\s*\nlow +clean +stale +<- raw\n/,
    );
    const dot = cli(["dag", "p.rnnp", "--format", "dot"], dir).stdout;
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
    const mermaid = cli(["dag", "p.rnnp", "--format", "mermaid"], dir).stdout;
    assert.match(mermaid, /^flowchart LR/);
    assert.match(mermaid, /s_parts -->\|data\| s_preview/);
    assert.match(mermaid, /s_raw\["raw<br\/><small>load\.csv<\/small>"\]:::fresh/);
    assert.equal(cli(["dag", "p.rnnp", "--format", "png"], dir).code, 2);
  });
});

describe("rnnp validate and fmt", () => {
  it("validate: exit 0 when valid, 2 with every error otherwise, and nothing runs", () => {
    const dir = project();
    const ok = cli(["validate", "p.rnnp"], dir);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /pipeline `names` is valid \(5 stages\)/);
    writeFiles(dir, {
      "bad.rnnp": PIPELINE.replace("clean(raw", "clean(rw")
        .replace("n: 4", "n: -4")
        .replace("seed 11", "seed 11\n  seed 12"),
    });
    const bad = cli(["validate", "bad.rnnp"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /duplicate-setting/);
    assert.match(bad.stderr, /undefined-ref/);
    assert.match(bad.stderr, /param-type/);
    assert.match(bad.stderr, /3 errors/);
    assert.equal(cli(["cache", "ls", "--json"], dir).stdout.includes('"records": []'), true);
  });

  it("fmt: prints, checks and rewrites; idempotent", () => {
    const dir = project();
    writeFiles(dir, { "messy.rnnp": 'pipeline m{seed 1 # s\nstage a=load.csv(path:"d.csv")}\n' });
    const printed = cli(["fmt", "messy.rnnp"], dir);
    assert.equal(
      printed.stdout,
      'pipeline m {\n  seed 1 # s\n  stage a = load.csv(path: "d.csv")\n}\n',
    );
    assert.equal(cli(["fmt", "--check", "messy.rnnp", "p.rnnp"], dir).code, 1);
    assert.equal(cli(["fmt", "--check", "messy.rnnp"], dir).stdout, "messy.rnnp\n");
    assert.equal(cli(["fmt", "--write", "messy.rnnp"], dir).code, 0);
    assert.equal(readFileSync(join(dir, "messy.rnnp"), "utf8"), printed.stdout);
    assert.equal(cli(["fmt", "--check", "messy.rnnp"], dir).code, 0);
    writeFiles(dir, { "broken.rnnp": "pipeline { }" });
    assert.equal(cli(["fmt", "broken.rnnp"], dir).code, 2);
  });
});

describe("rnnp show and cache", () => {
  it("show prints a built stage's outputs", () => {
    const dir = project();
    assert.equal(cli(["show", "preview", "p.rnnp"], dir).code, 1, "not built yet");
    cli(["run", "p.rnnp"], dir);
    const r = cli(["show", "preview", "p.rnnp", "--rows", "2"], dir);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^preview \(head\) key [0-9a-f]{12}/);
    assert.match(
      r.stdout,
      /\ntrain {2}[0-9a-f]{12}, .*\n {2}table, 3 rows x 3 columns: name:string \(text\), label:string \(label\), score:number\n {2}name +label +score\n/,
    );
    assert.match(r.stdout, /\.\.\. 1 more rows/);
  });

  it("cache ls, show, path", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const ls = cli(["cache", "ls", "--json"], dir);
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
    assert.match(cli(["cache", "ls"], dir).stdout, /key +kind +made by +size +age +checked\n/);
    const parts = records.find((r) => r.stage === "parts")!;
    const show = cli(["cache", "show", parts.key.slice(0, 10)], dir);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /made by +stage `parts` of pipeline `names`/);
    assert.match(show.stdout, /"kind": "split"/);
    assert.match(show.stdout, /"seed": \d+/);
    assert.match(show.stdout, /data <- low/);
    assert.equal(cli(["cache", "show", "ffffffff"], dir).code, 1);
    assert.equal(cli(["cache", "show", "xyz"], dir).code, 2);
    assert.equal(cli(["cache", "path"], dir).stdout.trim(), join(dir, "cache"));
    assert.equal(
      cli(["cache", "path", "--cache", "elsewhere"], dir).stdout.trim(),
      join(dir, "elsewhere"),
    );
    assert.equal(
      cli(["cache", "path"], dir, { RNNP_CACHE: join(dir, "env") }).stdout.trim(),
      join(dir, "env"),
    );
  });

  it("cache verify: intact, then a corrupt blob dropped with its record, which then recomputes", async () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    const ok = cli(["cache", "verify"], dir);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /blobs \(.*\) checked: all intact/);
    const key = JSON.parse(cli(["run", "p.rnnp", "--json"], dir).stdout).stages.find(
      (s: { name: string }) => s.name === "low",
    ).key as string;
    const record = JSON.parse(cli(["cache", "show", key, "--json"], dir).stdout) as {
      outputs: { out: { digest: string } };
    };
    const { open } = await import("lmdb");
    const raw = open({ path: join(dir, "cache"), maxDbs: 8 });
    await raw
      .openDB({ name: "blobs", encoding: "binary" })
      .put(record.outputs.out.digest, Buffer.from("bit rot"));
    await raw.close();
    const bad = cli(["cache", "verify"], dir);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /corrupt blob [0-9a-f]{64}: removed/);
    assert.match(bad.stdout, /dropped record [0-9a-f]{12} \(names\/low\)/);
    assert.deepEqual(byName(cli(["run", "p.rnnp", "--json"], dir).stdout), {
      raw: "cached",
      low: "ran",
      other: "cached",
      parts: "cached",
      preview: "cached",
    });
  });

  it("cache gc keeps what the given pipelines use and reports what it freed", () => {
    const dir = project();
    cli(["run", "p.rnnp"], dir);
    cli(["run", "p.rnnp", "-P", "n=1"], dir);
    const dry = cli(["cache", "gc", "p.rnnp", "--dry-run"], dir);
    assert.match(dry.stdout, /would remove [0-9a-f]{12} names\/preview/);
    assert.match(dry.stdout, /would remove 1 records and 3 blobs/);
    const r = cli(["cache", "gc", "p.rnnp", "--json"], dir);
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
    assert.deepEqual(Object.values(byName(cli(["run", "p.rnnp", "--json"], dir).stdout)), [
      "cached",
      "cached",
      "cached",
      "cached",
      "cached",
    ]);
    assert.equal(cli(["cache", "gc"], dir).code, 2, "gc needs something to go by");
    const capped = JSON.parse(cli(["cache", "gc", "--max-size", "1B", "--json"], dir).stdout) as {
      keptRecords: number;
    };
    assert.equal(capped.keptRecords, 0);
    assert.equal(cli(["cache", "gc", "--max-age", "soon"], dir).code, 2);
  });
});

describe("rnnp --help and --version", () => {
  it("works anywhere and exits 0", () => {
    const dir = tempDir();
    const help = cli(["--help"], dir);
    assert.equal(help.code, 0);
    for (const c of ["run", "status", "why", "dag", "validate", "fmt", "show", "cache"])
      assert.match(help.stdout, new RegExp(`\\n  ${c} `));
    assert.match(cli(["--version"], dir).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(cli(["cache", "--help"], dir).stdout, /verify/);
  });
});
