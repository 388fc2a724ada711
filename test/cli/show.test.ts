import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import fc from "fast-check";
import { artifactRows, f32 } from "../../src/artifacts/rows.js";
import { main } from "../../src/cli/main.js";
import { NAMES_CSV } from "../helpers.js";
import { cleanEnv, Rig } from "../rig.js";
import { EVALUATE, csvClassifier } from "../fixtures/pipelines.js";

const PIPELINE = csvClassifier({
  layers: [
    "embedding(dim: 4)",
    "lstm(units: 8, returnSequences: true)",
    "lstm(units: 4)",
    'dense(units: 2, activation: "softmax")',
  ],
});

describe("show NET", () => {
  it("prints a Keras-style summary: names as trained, type, output shape, parameters, total", async () => {
    const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": PIPELINE });
    assert.equal((await rig.rnnp(["run", "p.rnnp"])).code, 0);
    const r = await rig.rnnp(["show", "net", "p.rnnp"]);
    assert.equal(r.code, 0, r.stderr);
    const table = r.stdout.slice(r.stdout.indexOf("  Layer (type)"));
    const vocabulary =
      Number(/embedding_1 \(embedding\(4\)\) +\S+ \S+ \S+ +(\d+)/.exec(table)?.[1]) / 4;
    assert.ok(Number.isInteger(vocabulary) && vocabulary > 5, table);
    const lstm1 = 4 * (8 * (4 + 8) + 8);
    const lstm2 = 4 * (4 * (8 + 4) + 4);
    const total = vocabulary * 4 + lstm1 + lstm2 + 10;
    assert.equal(
      table,
      [
        "  Layer (type)                Output shape      Params",
        `  embedding_1 (embedding(4))  [batch, time, 4]  ${String(vocabulary * 4).padStart(6)}`,
        `  lstm_2 (lstm(8))            [batch, time, 8]  ${String(lstm1).padStart(6)}`,
        `  lstm_3 (lstm(4))            [batch, 4]        ${String(lstm2).padStart(6)}`,
        "  dense_4 (dense(2))          [batch, 2]            10",
        `  Total: ${total} parameters`,
        "",
      ].join("\n"),
    );
    // The total agrees with the built model's own count.
    assert.match(
      r.stdout,
      new RegExp(`model, ${total} parameters: embedding\\(4\\) -> lstm\\(8\\)`),
    );
  });
});

const DATA_PIPELINE = csvClassifier({
  train: "validation: seqs.val, epochs: 3",
  after: [EVALUATE],
});
const TRICKY_CSV = 'name,label,score\n"a, ""b""",x,0.30000000000000004\nc,y,1e-7\nd,x,\n';

describe("show --format csv|jsonl|json", () => {
  const rig = new Rig().write({ "d.csv": NAMES_CSV, "p.rnnp": DATA_PIPELINE });
  const ready = rig.rnnp(["run", "p.rnnp"]);
  const show = async (...args: string[]) => {
    assert.equal((await ready).code, 0, (await ready).stderr);
    return rig.rnnp(["show", ...args]);
  };

  it("a table whole, full precision, CSV quoted only where needed; NaN as an empty cell / null", async () => {
    const t = new Rig().write({
      "d.csv": TRICKY_CSV,
      "t.rnnp":
        'pipeline t {\n  stage raw = load.csv(path: "d.csv", text: "name", label: "label")\n}\n',
    });
    assert.equal((await t.rnnp(["run", "t.rnnp"])).code, 0);
    const csv = await t.rnnp(["show", "raw", "t.rnnp", "--format", "csv"]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(
      csv.stdout,
      'name,label,score\n"a, ""b""",x,0.30000000000000004\nc,y,1e-7\nd,x,\n',
    );
    const jsonl = await t.rnnp(["show", "raw", "t.rnnp", "--format", "jsonl"]);
    assert.deepEqual(
      jsonl.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
      [
        { name: 'a, "b"', label: "x", score: 0.30000000000000004 },
        { name: "c", label: "y", score: 1e-7 },
        { name: "d", label: "x", score: null },
      ],
    );
    const json = await t.rnnp(["show", "raw", "t.rnnp", "--format", "json"]);
    assert.deepEqual(
      JSON.parse(json.stdout),
      jsonl.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    );
  });

  it("a stage of several outputs: STAGE.OUTPUT names one; without it CSV refuses and JSON gives all", async () => {
    const bad = await show("parts", "p.rnnp", "--format", "csv");
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /`parts` has 3 outputs \(train, val, test\): name one, e\.g\. `rnnp show parts\.train --format csv`/,
    );
    const train = await show("parts.train", "p.rnnp", "--format", "jsonl");
    assert.equal(train.code, 0, train.stderr);
    const rows = train.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { name: string });
    const all = JSON.parse((await show("parts", "p.rnnp", "--format", "json")).stdout) as Record<
      string,
      { name: string }[]
    >;
    assert.deepEqual(Object.keys(all), ["train", "val", "test"]);
    assert.deepEqual(all.train, rows);
    assert.equal(all.train!.length + all.val!.length + all.test!.length, 10);
    const wrong = await show("parts.tset", "p.rnnp", "--format", "csv");
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /`parts` has no output `tset` \(it has train, val, test\)/);
  });

  it("sequences decoded: the text as tokens read back, its ids, the label", async () => {
    const parts = JSON.parse((await show("parts", "p.rnnp", "--format", "json")).stdout) as Record<
      string,
      { name: string; label: string }[]
    >;
    const seqs = await show("seqs.train", "p.rnnp", "--format", "jsonl");
    assert.equal(seqs.code, 0, seqs.stderr);
    const rows = seqs.stdout
      .trimEnd()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            example: number;
            length: number;
            input: string;
            ids: number[];
            target: string;
          },
      );
    // The vocabulary is fitted on train, so every training character is known: the text reads back.
    assert.deepEqual(
      rows.map((r) => [r.example, r.input, r.target, r.ids.length === r.length]),
      parts.train!.map((p, i) => [i, p.name.toLowerCase().slice(0, 6), p.label, true]),
    );
  });

  it("a training history, one row per epoch, and show --json carries it too", async () => {
    const csv = await show("fit", "p.rnnp", "--format", "csv");
    assert.equal(csv.code, 0, csv.stderr);
    const [head, ...lines] = csv.stdout.trimEnd().split("\n");
    assert.equal(
      head,
      "epoch,loss,accuracy,val_loss,val_accuracy,lr,grad_norm,lstm_2 horizon,lstm_2 growth,best",
    );
    assert.deepEqual(
      lines.map((l) => l.split(",")[0]),
      ["1", "2", "3"],
    );
    const json = JSON.parse((await show("fit", "p.rnnp", "--json")).stdout) as {
      outputs: { out: { training: { history: { epoch: number; loss: number }[] } } };
    };
    const history = json.outputs.out.training.history;
    assert.deepEqual(
      history.map((e) => e.epoch),
      [1, 2, 3],
    );
    assert.deepEqual(
      lines.map((l) => Number(l.split(",")[1])),
      history.map((e) => e.loss),
    );
  });

  it("a report: metrics beside the baselines in long form (CSV), whole in JSON", async () => {
    const csv = await show("report", "p.rnnp", "--format", "csv");
    assert.equal(csv.code, 0, csv.stderr);
    const whole = JSON.parse((await show("report", "p.rnnp", "--json")).stdout) as {
      outputs: {
        out: {
          report: {
            metrics: Record<string, number>;
            baselines: { name: string; metrics: Record<string, number> }[];
          };
        };
      };
    };
    const report = whole.outputs.out.report;
    const lines = csv.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "of,name,metric,value");
    const model = Object.entries(report.metrics).map(([m, v]) => `model,,${m},${v}`);
    assert.deepEqual(lines.slice(1, 1 + model.length), model);
    const baselines = report.baselines.flatMap((b) =>
      Object.entries(b.metrics).map(([m, v]) => `baseline,${b.name},${m},${v}`),
    );
    assert.ok(baselines.length > 0);
    assert.deepEqual(lines.slice(1 + model.length, 1 + model.length + baselines.length), baselines);
    const json = JSON.parse((await show("report", "p.rnnp", "--format", "json")).stdout) as unknown;
    assert.deepEqual(json, report);
    // --json and --format are one choice.
    assert.equal((await show("report", "p.rnnp", "--json", "--format", "csv")).code, 2);
  });

  it("a model has no rows: csv refuses with the way out; json describes it without weights", async () => {
    const csv = await show("net", "p.rnnp", "--format", "csv");
    assert.equal(csv.code, 2);
    assert.match(csv.stderr, /net\.out is a model, which has no rows: use --format json/);
    const json = JSON.parse((await show("net", "p.rnnp", "--format", "json")).stdout) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(json).sort(), [
      "input",
      "output",
      "params",
      "summary",
      "topology",
      "type",
      "weightSpecs",
    ]);
  });
});

describe("show --format streams", () => {
  it("writes a large table in bounded chunks, never as one string", async () => {
    const n = 30_000;
    const lines = ["name,label,score"];
    for (let i = 0; i < n; i++) lines.push(`n${i},${i % 2 ? "a" : "b"},${i / 7}`);
    const rig = new Rig().write({
      "d.csv": `${lines.join("\n")}\n`,
      "t.rnnp":
        'pipeline t {\n  stage raw = load.csv(path: "d.csv", text: "name", label: "label")\n}\n',
    });
    assert.equal((await rig.rnnp(["run", "t.rnnp"])).code, 0);
    const chunks: string[] = [];
    const stdout = { isTTY: false, write: (c: string) => chunks.push(c) > 0 };
    const sink = { isTTY: false, write: () => true };
    const stdin = new PassThrough();
    stdin.end();
    const code = await main(["show", "raw", "t.rnnp", "--format", "csv"], {
      stdout,
      stderr: sink,
      stdin,
      env: cleanEnv(),
      cwd: rig.dir,
    });
    assert.equal(code, 0);
    assert.ok(chunks.length > 10, `${chunks.length} chunks`);
    assert.ok(Math.max(...chunks.map((c) => c.length)) < 70_000);
    const text = chunks.join("");
    const rows = text.trimEnd().split("\n");
    assert.equal(rows.length, n + 1);
    assert.equal(rows[n], `n${n - 1},${(n - 1) % 2 ? "a" : "b"},${(n - 1) / 7}`);
  });
});

describe("rows of artifacts", () => {
  it("float32 values print as the shortest decimal that reads back to the same float32", () => {
    assert.equal(f32(Math.fround(0.1)), 0.1);
    assert.equal(f32(Math.fround(1 / 3)), 0.33333334);
    assert.equal(f32(Number.NaN), null);
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (v) => {
        const d = f32(v)!;
        assert.ok(Math.fround(d) === v, `${v} -> ${d}`); // -0 reads as 0, as JSON writes it
        assert.ok(String(d).length <= String(v).length);
      }),
    );
  });

  it("a column called __proto__ is a column like any other", () => {
    const rows = artifactRows({
      type: "table",
      columns: [{ name: "__proto__", dtype: "string", values: ["x"] }],
      roles: {},
    });
    const [row] = [...rows!.rows];
    assert.deepEqual(Object.keys(row!), ["__proto__"]);
    assert.equal(JSON.stringify(row), '{"__proto__":"x"}');
  });
});
