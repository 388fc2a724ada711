import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { checkSource } from "../../src/lang/load.js";
import { initialWeights, orthogonal, weightInits } from "../../src/numerics/init.js";
import { layer } from "../../src/numerics/layers/index.js";
import { walk } from "../../src/numerics/layers/sequential.js";

const FILE = "m.rnnp";
const pipeline = (layers: string, encodeArgs = "maxLen: 8") => `pipeline m {
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, ${encodeArgs})
  stage net = model(seqs.train) {
${layers}
  }
}
`;

function errors(layers: string, encodeArgs?: string) {
  return checkSource(pipeline(layers, encodeArgs), FILE)
    .diagnostics.filter((d) => d.severity === "error")
    .map(
      (d) =>
        `${d.span?.start.line}:${d.span?.start.column} ${d.message}${d.hint ? ` [${d.hint}]` : ""}`,
    );
}

describe("model block: checked before anything runs", () => {
  it("a well-formed model has no errors", () => {
    assert.deepEqual(
      errors(`    embedding(dim: 8, mask: true)
    bidirectional(lstm(units: 8, returnSequences: true), merge: "sum")
    gru(units: 4)
    dropout(rate: 0.2)
    layerNormalization()
    dense(units: 2, activation: "softmax")`),
      [],
    );
  });

  it("unknown layers and layer parameters are named, with suggestions", () => {
    assert.deepEqual(
      errors(
        '    embedding(dim: 8)\n    lstn(units: 4)\n    dense(units: 2, activation: "softmax")',
      ),
      ["8:5 unknown layer `lstn` [did you mean `lstm`?]"],
    );
    assert.deepEqual(
      errors(
        '    embedding(dim: 8)\n    lstm(unit: 4)\n    dense(units: 2, activation: "softmax")',
      ),
      [
        "8:5 lstm needs `units` [Size of the hidden state.]",
        "8:10 lstm has no parameter `unit` [did you mean `units`?]",
      ],
    );
  });

  it("token ids need an embedding first", () => {
    assert.deepEqual(errors('    lstm(units: 4)\n    dense(units: 2, activation: "softmax")'), [
      "7:5 lstm cannot take token ids [start the model with embedding(dim: ...), or encode with oneHot: true]",
    ]);
  });

  it("a recurrent layer after a vector input says which layer and how to fix it", () => {
    assert.deepEqual(
      errors(
        '    embedding(dim: 8)\n    lstm(units: 4)\n    gru(units: 4)\n    dense(units: 2, activation: "softmax")',
      ),
      [
        "9:5 gru reads a sequence, but its input is a vector [batch, 4] [set returnSequences: true on the recurrent layer before it]",
      ],
    );
  });

  it("a classifier must end with one probability vector per example", () => {
    assert.deepEqual(
      errors(
        '    embedding(dim: 8)\n    lstm(units: 4, returnSequences: true)\n    timeDistributed(dense(units: 2, activation: "softmax"))',
      ),
      [
        "9:5 a classifier must give one vector per example, but this model ends with a sequence [batch, time, 2] [set returnSequences: false on the last recurrent layer]",
      ],
    );
    assert.deepEqual(errors("    embedding(dim: 8)\n    lstm(units: 4)\n    dense(units: 2)"), [
      '9:5 a classifier must end with class probabilities [end with dense(units: <classes>, activation: "softmax")]',
    ]);
  });

  it("an embedding on features, wrappers around the wrong layer, and a missing block", () => {
    assert.deepEqual(
      errors(
        '    embedding(dim: 8)\n    lstm(units: 4)\n    dense(units: 2, activation: "softmax")',
        "maxLen: 8, oneHot: true",
      ),
      [
        "7:5 embedding takes token ids, but its input is a sequence [batch, time, features] [the data holds features already: drop the embedding]",
      ],
    );
    assert.match(
      errors(
        '    embedding(dim: 8)\n    bidirectional(dense(units: 4))\n    dense(units: 2, activation: "softmax")',
      )[0]!,
      /8:19 `layer`: unknown dense\(\.\.\.\) \[did you mean `gru`\?\]|unknown dense/,
    );
    const noBlock = checkSource(
      `pipeline m {\n  stage raw = load.csv(path: "d.csv")\n  stage net = model(raw)\n}`,
      FILE,
    ).diagnostics.map((d) => d.code);
    assert.ok(noBlock.includes("missing-block"));
    assert.ok(noBlock.includes("input-type"), "model takes sequences, not a table");
  });
});

describe("initial weights", () => {
  it("orthogonal: orthonormal rows (wide) or columns (tall), as Keras makes them", () => {
    const check = (rows: number, cols: number) => {
      const q = orthogonal([rows, cols], seedrandom.alea("x"));
      const [n, m, at] =
        rows <= cols
          ? [rows, cols, (i: number, k: number) => q[i * cols + k]!]
          : [cols, rows, (i: number, k: number) => q[k * cols + i]!];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let d = 0;
          for (let k = 0; k < m; k++) d += at(i, k) * at(j, k);
          assert.ok(Math.abs(d - (i === j ? 1 : 0)) < 1e-5, `${rows}x${cols} (${i},${j}) = ${d}`);
        }
    };
    check(4, 16);
    check(16, 4);
    check(5, 5);
  });

  it("follow each layer's declared rules, and are a function of the seed and the weight's name", async () => {
    const { steps } = walk(
      [layer("embedding", { dim: 3 }), layer("lstm", { units: 2 }), layer("layerNormalization")],
      { rank: 2, ids: true, vocabulary: 5 },
    );
    const specs = steps.flatMap((s) =>
      s.weights.map((w) => ({
        name: `${s.name}/${w.role}`,
        shape: w.shape as number[],
        init: w.init,
      })),
    );
    assert.deepEqual(
      specs.map((w) => `${w.name} [${w.shape.join(", ")}] ${w.init.name}`),
      [
        "embedding_1/embeddings [5, 3] random_uniform(-0.05, 0.05)",
        "lstm_2/kernel [3, 8] glorot_uniform",
        "lstm_2/recurrent_kernel [2, 8] orthogonal",
        "lstm_2/bias [8] unit_forget_bias",
        "layerNormalization_3/gamma [2] ones",
        "layerNormalization_3/beta [2] zeros",
      ],
    );
    const a = await initialWeights(specs, 7);
    assert.deepEqual(await initialWeights(specs, 7), a);
    assert.notDeepEqual((await initialWeights(specs, 8))[1], a[1]);
    const renamed = specs.map((w, i) => (i === 1 ? { ...w, name: "lstm_9/kernel" } : w));
    assert.notDeepEqual((await initialWeights(renamed, 7))[1], a[1], "the name seeds the stream");
    assert.ok(a[0]!.every((v) => Math.abs(v) <= 0.05) && a[0]!.some((v) => v !== 0));
    const limit = Math.sqrt(6 / (3 + 8));
    assert.ok(a[1]!.every((v) => Math.abs(v) <= limit) && a[1]!.some((v) => Math.abs(v) > 0.05));
    assert.deepEqual(Array.from(a[3]!), [0, 0, 1, 1, 0, 0, 0, 0], "unit forget bias");
    assert.deepEqual(Array.from(a[4]!), [1, 1]);
    assert.deepEqual(Array.from(a[5]!), [0, 0]);
    assert.throws(
      () => weightInits([{ name: "x/odd", shape: [1] }], new Map()),
      /no initialisation rule for weight x\/odd/,
    );
  });
});
