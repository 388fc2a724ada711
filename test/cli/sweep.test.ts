import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workerThreads } from "../../src/cli/commands/run.js";
import { checkSource } from "../../src/lang/load.js";
import { type CliResult, Rig } from "../rig.js";
import { loadNames } from "../fixtures/pipelines.js";

const PIPELINE = `pipeline sweepy {
  seed 3
  backend "cpu"
  params { units = 4, lr = 0.01, n = 300 }
  sweep {units: [4, 8], lr: [0.01, 0.03]}

  stage raw = ${loadNames("f", "m")}
  stage few = sample(raw, n: params.n)
  stage parts = split(few, train: 0.6, val: 0.2, test: 0.2, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 8)
  stage net = model(seqs.train) {
    embedding(dim: 4)
    gru(units: params.units)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: 1, batchSize: 32, optimizer: adam(lr: params.lr))
  stage report = evaluate(fit, seqs.test)
}
`;

interface Row {
  name: string;
  key: string;
  status: string;
}
const rows = (stdout: string) => (JSON.parse(stdout) as { stages: Row[] }).stages;

describe("sweeps", () => {
  // The sweep built once, in this process, for the tests that read it (the first one adds nothing
  // to its cache: every later run there is all cache hits).
  const rig = new Rig().write({ "s.rnnp": PIPELINE });
  let building: Promise<CliResult> | undefined;
  const built = () => (building ??= rig.rnnp(["run", "s.rnnp", "--json"]));

  it("fan out only the stages that depend on swept params; shared stages are computed once", async () => {
    const r = await built();
    assert.equal(r.code, 0, r.stderr);
    const names = rows(r.stdout).map((s) => s.name);
    assert.deepEqual(names.slice(0, 5), ["raw", "few", "parts", "vocab", "seqs"]);
    assert.deepEqual(
      names.filter((n) => n.startsWith("net")),
      ["net@units=4", "net@units=8"],
    );
    assert.deepEqual(
      names.filter((n) => n.startsWith("fit")),
      ["fit@units=4+lr=0.01", "fit@units=4+lr=0.03", "fit@units=8+lr=0.01", "fit@units=8+lr=0.03"],
    );
    assert.equal(names.filter((n) => n.startsWith("report")).length, 4);
    // Shared stages have the keys they would have without the sweep.
    rig.write({ "plain.rnnp": PIPELINE.replace(/ {2}sweep .*\n/, "") });
    const plain = rows((await rig.rnnp(["run", "plain.rnnp", "--json"])).stdout);
    const swept = rows(r.stdout);
    for (const n of ["raw", "few", "parts", "vocab", "seqs"])
      assert.equal(plain.find((s) => s.name === n)!.key, swept.find((s) => s.name === n)!.key, n);
    assert.equal(
      plain.find((s) => s.name === "fit")!.key,
      swept.find((s) => s.name === "fit@units=4+lr=0.01")!.key,
      "the default variant is the unswept stage",
    );
    assert.deepEqual(
      plain.map((s) => [s.name, s.status]),
      ["raw", "few", "parts", "vocab", "seqs", "net", "fit", "report"].map((n) => [n, "cached"]),
      "so the unswept run is all cache hits",
    );

    // rnnp compare: variants x metrics, sortable, as a table, JSON and CSV.
    const table = await rig.rnnp(["compare", "s.rnnp", "--sort", "accuracy"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^stage +units +lr +accuracy +macroF1 +macroPrecision +macroRecall +microF1 +baseline +skill\n(report +\d +0\.0\d +[\d.]+.* majority 0\.55 +-?[\d.]+\n){4}no variant chosen: the trained models have no val_loss/,
    );
    const json = JSON.parse(
      (await rig.rnnp(["compare", "s.rnnp", "--json", "--sort", "accuracy"])).stdout,
    ) as {
      sweep: Record<string, number[]>;
      rows: { variant: Record<string, number>; metrics: Record<string, number> }[];
    };
    assert.deepEqual(json.sweep, { units: [4, 8], lr: [0.01, 0.03] });
    const acc = json.rows.map((x) => x.metrics.accuracy!);
    assert.deepEqual(
      acc,
      [...acc].sort((a, b) => b - a),
    );
    const csv = (await rig.rnnp(["compare", "s.rnnp", "--csv"])).stdout.trim().split("\n");
    assert.equal(
      csv[0],
      "stage,units,lr,accuracy,macroF1,macroPrecision,macroRecall,microF1,baseline,skill",
    );
    assert.equal(csv.length, 5);

    // -P pins a swept param; --stage takes a base name for all its variants.
    const pinned = rows(
      (await rig.rnnp(["run", "s.rnnp", "--json", "-P", "units=8", "--stage", "fit"])).stdout,
    );
    assert.deepEqual(
      pinned.filter((s) => s.name.startsWith("fit")).map((s) => [s.name, s.status]),
      [
        ["fit@lr=0.01", "cached"],
        ["fit@lr=0.03", "cached"],
      ],
    );
    assert.match(
      (await rig.rnnp(["show", "fit", "s.rnnp"])).stderr,
      /`fit` is swept: name one of its variants \(fit@units=4\+lr=0\.01, /,
    );
    assert.equal((await rig.rnnp(["show", "report@units=8+lr=0.03", "s.rnnp"])).code, 0);
  });

  it("--jobs 2 runs variants in worker processes and gives the same bytes as --jobs 1", async () => {
    const two = new Rig().write({ "s.rnnp": PIPELINE });
    // A real process: --jobs forks workers (one per stage), and the two builds must not share a
    // process's state (the --jobs 1 build is this process's). lr pinned: the two units variants
    // still run side by side, in 11 workers instead of 15.
    const pin = ["-P", "lr=0.03"];
    const [a, b] = await Promise.all([
      built(),
      two.spawn(["run", "s.rnnp", "--json", "--jobs", "2", ...pin]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    // Each stage has the key of its variant in the whole sweep, and its bytes.
    const byKey = new Map(rows(a.stdout).map((s) => [s.key, s]));
    const mine = rows(b.stdout);
    const same = mine.map((s) => byKey.get(s.key));
    assert.deepEqual(
      same.map((s) => s?.name),
      [
        ...["raw", "few", "parts", "vocab", "seqs", "net@units=4", "net@units=8"],
        ...["fit@units=4+lr=0.03", "fit@units=8+lr=0.03"],
        ...["report@units=4+lr=0.03", "report@units=8+lr=0.03"],
      ],
    );
    assert.deepEqual(
      Object.values(await two.digests(mine)),
      Object.values(await rig.digests(same as Row[])),
    );
    const rerun = rows((await two.rnnp(["run", "s.rnnp", "--jobs", "2", "--json", ...pin])).stdout);
    assert.deepEqual(
      rerun.map((s) => [s.name, s.status]),
      mine.map((s) => [s.name, "cached"]),
      "a rerun is fully cached",
    );
  });

  it("--jobs shares the cores out among the workers' kernel threads, unless RNNP_THREADS is set", async () => {
    assert.deepEqual(
      [1, 2, 3].map((jobs) => workerThreads(jobs, 2, undefined)),
      ["2", "1", "1"],
    );
    assert.equal(workerThreads(2, 8, undefined), "4");
    assert.equal(workerThreads(2, 2, "2"), "2");
  });

  it("diagnostics: unknown params, values that are not lists", async () => {
    const diags = (sweep: string) =>
      checkSource(PIPELINE.replace(/sweep \{.*\}/, sweep), "s.rnnp")
        .diagnostics.filter((d) => d.severity === "error")
        .map((d) => `${d.message}${d.hint ? ` [${d.hint}]` : ""}`);
    assert.deepEqual(diags("sweep {unit: [4, 8]}"), [
      "cannot sweep `unit`: it is not a param [did you mean `units`?]",
    ]);
    assert.deepEqual(diags("sweep {units: 4}"), [
      "the values of `units` to sweep must be a non-empty list [units: [4, ...]]",
    ]);
    assert.deepEqual(diags("sweep {units: [4, 2.5]}"), [
      "`units` must be an integer, not 2.5 (from params.units) (in sweep variant net@units=2.5)",
    ]);
  });
});
