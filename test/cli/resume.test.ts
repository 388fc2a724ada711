import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rig } from "../rig.js";

/**
 * Issue 13 part 3: training that resumes. The state after epoch n is the stage with `epochs: n`, so
 * raising `epochs` resumes from the last checkpoint and must give the bytes of a training that never
 * stopped; lowering it is served from a checkpoint; a killed run resumes where it died.
 */
const names = Array.from({ length: 72 }, (_, i) => {
  const stem = ["ann", "eve", "bob", "max", "lea", "tom"][i % 6]!;
  return `${stem}${"xyz"[i % 3]}${i % 7},${i % 6 < 3 ? "f" : "m"}`;
}).join("\n");

interface Setup {
  settings?: string;
  train?: string;
  /** Run as real processes (TF.js runs one backend per process; the in-process rig's is wasm). */
  spawn?: boolean;
}
const pipeline = (epochs: number, o: Setup = {}) => `pipeline p {
  seed 3
${o.settings ?? ""}
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.7, val: 0.3, test: 0)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 6)
  stage net = model(seqs.train) {
    embedding(dim: 4, mask: true)
    lstm(units: 5, dropout: 0.2)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, epochs: ${epochs}, batchSize: 8${o.train ?? ""})
}
`;

function rigAt(epochs: number, o: Setup = {}): Rig {
  return new Rig().write({ "d.csv": `name,label\n${names}\n`, "p.rnnp": pipeline(epochs, o) });
}

const fitDigest = (rig: Rig): string =>
  (JSON.parse(rig.read("p.lock")) as { stages: { fit: { outputs: { out: string } } } }).stages.fit
    .outputs.out;

async function run(rig: Rig, epochs: number, o: Setup = {}, extra: string[] = []) {
  rig.write({ "p.rnnp": pipeline(epochs, o) });
  const args = ["run", "p.rnnp", "--json", ...extra];
  const r = o.spawn ? rig.spawnSync(args) : await rig.rnnp(args);
  assert.equal(r.code, 0, r.stderr);
  const fit = (
    JSON.parse(r.stdout) as { stages: { name: string; status: string; resumedFrom?: number }[] }
  ).stages.find((s) => s.name === "fit")!;
  return { ...r, fit, digest: fitDigest(rig) };
}

/**
 * The fit digest of an uninterrupted training of `epochs` from an empty cache, computed once per
 * file for each (epochs, setup): the references several tests compare against are the same runs.
 */
const scratchRuns = new Map<string, Promise<string>>();
function scratch(epochs: number, o: Setup = {}): Promise<string> {
  const id = pipeline(epochs, o);
  if (!scratchRuns.has(id)) {
    const fresh = run(rigAt(epochs, o), epochs, o).then((r) => {
      assert.equal(r.fit.resumedFrom, undefined);
      return r.digest;
    });
    scratchRuns.set(id, fresh);
  }
  return scratchRuns.get(id)!;
}

const SETUPS: [string, Setup][] = [
  ["fused kernels (wasm backend)", {}],
  [
    "TF.js's own cells (cpu backend)",
    { settings: '  backend "cpu"\n  kernels "tfjs"', spawn: true },
  ],
  [
    "early stopping with restoreBest",
    { train: ', validation: seqs.val, patience: 2, minDelta: 0.05, monitor: "val_loss"' },
  ],
  ["sgd with momentum", { train: ", optimizer: sgd(lr: 0.1, momentum: 0.9)" }],
  ["rmsprop with momentum", { train: ", optimizer: rmsprop(lr: 0.01, momentum: 0.5)" }],
  [
    "adagrad, warm-up and a step schedule",
    { train: ", optimizer: adagrad(lr: 0.05), warmup: 2, schedule: step(every: 3)" },
  ],
];

describe("training that resumes (issue 13 part 3)", () => {
  for (const [what, setup] of SETUPS)
    it(`epochs 4 -> 6 resumes at 4, byte-identical to 6 from scratch: ${what}`, async () => {
      const resumed = rigAt(4, setup);
      const first = await run(resumed, 4, setup);
      assert.equal(first.fit.status, "ran");
      assert.equal(first.fit.resumedFrom, undefined);
      const more = await run(resumed, 6, setup);
      assert.equal(more.fit.status, "ran");
      assert.equal(more.fit.resumedFrom, 4);
      assert.match(more.stderr, /\[fit\] resumed from epoch 4/);
      const six = await scratch(6, setup);
      assert.equal(more.digest, six, "resumed and uninterrupted give the same bytes");
      assert.notEqual(first.digest, six);
    });

  it("lowering epochs is served from a checkpoint; the policy keeps every k-th and the last", async () => {
    const rig = rigAt(7);
    await run(rig, 7, {}, ["--checkpoints", "2"]);
    // 2, 4 and 6 are kept: lowering to 6 trains nothing, and gives the bytes of 6 from scratch.
    const six = await run(rig, 6);
    assert.equal(six.fit.status, "cached");
    assert.equal(six.digest, await scratch(6));
    // 5 was the last completed epoch once, then gave way to 6: lowering to 5 resumes from 4.
    const five = await run(rig, 5);
    assert.equal(five.fit.status, "ran");
    assert.equal(five.fit.resumedFrom, 4);
    assert.equal(five.digest, await scratch(5));
    // With the default policy (every 5th), a 7-epoch run leaves 5 behind: 3 starts over.
    const other = rigAt(7);
    await run(other, 7);
    assert.equal((await run(other, 5)).fit.status, "cached");
    other.write({ "p.rnnp": pipeline(3) });
    const why = await other.rnnp(["why", "fit", "p.rnnp"]);
    assert.match(
      why.stdout,
      /no checkpoint of this training below epoch 3 is cached: it starts from the first/,
    );
    const three = await run(other, 3);
    assert.equal(three.fit.status, "ran");
    assert.equal(three.fit.resumedFrom, undefined);
    // off: no checkpoint at all.
    const none = rigAt(7);
    await run(none, 7, {}, ["--checkpoints", "off"]);
    assert.equal((await run(none, 5)).fit.resumedFrom, undefined);
  });

  it("--checkpoints takes N, N,nolast or off; anything else is refused before anything runs", async () => {
    const rig = rigAt(2);
    const r = await rig.rnnp(["run", "p.rnnp", "--checkpoints", "every 5"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--checkpoints every 5: expected N \(every Nth epoch and the last completed\), N,nolast, or off/,
    );
  });

  it("why names the checkpoint a run will resume from, or why it cannot", async () => {
    const rig = rigAt(4);
    await run(rig, 4);
    rig.write({ "p.rnnp": pipeline(6) });
    const why = await rig.rnnp(["why", "fit", "p.rnnp"]);
    assert.match(why.stdout, /will resume from epoch 4: a checkpoint of this training is cached/);
    const cosine = { train: ", schedule: cosine()" };
    await run(rig, 4, cosine);
    rig.write({ "p.rnnp": pipeline(6, cosine) });
    const blocked = await rig.rnnp(["why", "fit", "p.rnnp"]);
    assert.match(blocked.stdout, /cannot resume from a checkpoint: its cosine schedule spans all/);
    const ran = await run(rig, 6, cosine);
    assert.equal(ran.fit.resumedFrom, undefined);
  });

  for (const signal of ["SIGKILL", "SIGINT"] as const)
    it(`a run stopped by ${signal} during training resumes from the last completed epoch, byte-identical`, async () => {
      const rig = rigAt(10);
      const child = rig.spawn(["run", "p.rnnp", "--checkpoints", "1"]);
      // Kill it once epoch 4 is logged: epoch 3's checkpoint landed before epoch 4 began (the line of
      // an epoch is printed just before its checkpoint is committed).
      await new Promise<void>((resolve, reject) => {
        let seen = "";
        child.child.stderr!.on("data", (d) => {
          seen += String(d);
          if (/epoch 4\/10/.test(seen)) {
            child.child.kill(signal);
            resolve();
          }
        });
        child.child.on("close", () => reject(new Error(`finished before epoch 4: ${seen}`)));
      });
      const killed = await child;
      if (signal === "SIGKILL") assert.equal(killed.code, -1, "it was killed");
      else assert.notEqual(killed.code, 0, `Ctrl-C stops the run: ${killed.stderr}`);
      // The process is the point only where it dies: the next run may be any run (this one is
      // in-process), and the uninterrupted reference is shared by both signals.
      const again = await run(rig, 10);
      const { resumedFrom } = again.fit;
      assert.ok(
        resumedFrom !== undefined && resumedFrom >= 3 && resumedFrom < 10,
        `resumed from ${resumedFrom}`,
      );
      assert.equal(again.digest, await scratch(10));
    });
});
