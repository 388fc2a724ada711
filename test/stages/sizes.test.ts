// Issue 10, defect 8: models and data too large for rnnp are refused before anything runs, with the
// number and what to change; slow initialisation reports progress.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../../src/core/diagnostic.js";
import { encodeIds } from "../../src/kinds/encode.js";
import { checkSource } from "../../src/lang/load.js";
import { type InitRule, initialWeights, orthogonalCost } from "../../src/numerics/init.js";

const pipeline = (o: {
  params?: string;
  encode?: string;
  layers: string;
  train?: string;
}) => `pipeline m {
  params { ${o.params ?? "units = 8"} }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, ${o.encode ?? "maxLen: 8"})
  stage net = model(seqs.train) {
${o.layers}
  }
  stage fit = train(net, seqs.train, epochs: 1${o.train ? `, ${o.train}` : ""})
}
`;

/** Errors as `code line:column message [hint]`. */
function errors(source: string): string[] {
  return checkSource(source, "m.rnnp")
    .diagnostics.filter((d) => d.severity === "error")
    .map(
      (d) =>
        `${d.code} ${d.span?.start.line}:${d.span?.start.column} ${d.message}${d.hint ? ` [${d.hint}]` : ""}`,
    );
}

const classifier = (recurrent: string, embedding = "embedding(dim: 16)") =>
  `    ${embedding}\n    ${recurrent}\n    dense(units: 2, activation: "softmax")`;

const TOO_MANY_HINT =
  "use fewer units or a smaller dim: training keeps about 24 bytes per parameter (weights, gradients, optimizer state) in WebAssembly's 4 GiB";

describe("sizes beyond rnnp's limits are refused by the checker", () => {
  it("units = 10000: 400 million parameters, at the lstm, with the count", () => {
    assert.deepEqual(
      errors(
        pipeline({ params: "units = 10000", layers: classifier("lstm(units: params.units)") }),
      ),
      [
        `too-large 9:5 this model has 400,700,002 parameters or more (lstm_2: 400,680,000), more than rnnp's limit of 100,000,000 [${TOO_MANY_HINT}]`,
      ],
    );
    // At the limit's edge: lstm(4000) has 64 million parameters and passes.
    assert.deepEqual(
      errors(pipeline({ params: "units = 4000", layers: classifier("lstm(units: params.units)") })),
      [],
    );
  });

  it("units 1e5 and 1.2e29, dim 1000000, inputDim 1e9: integers beyond their declared maxima", () => {
    assert.deepEqual(errors(pipeline({ layers: classifier("gru(units: 1e5)") })), [
      "param-type 9:16 `units` must be <= 65536, not 1e5",
    ]);
    assert.deepEqual(errors(pipeline({ layers: classifier("lstm(units: 1.2e29)") })), [
      "param-type 9:17 `units` must be <= 65536, not 1.2e29",
    ]);
    assert.deepEqual(
      errors(pipeline({ layers: classifier("lstm(units: 8)", "embedding(dim: 1000000)") })),
      ["param-type 8:20 `dim` must be <= 65536, not 1000000"],
    );
    assert.deepEqual(
      errors(
        pipeline({ layers: classifier("lstm(units: 8)", "embedding(dim: 8, inputDim: 1e9)") }),
      ),
      ["param-type 8:33 `inputDim` must be <= 16777216, not 1e9"],
    );
  });

  it("maxLen 1e9: beyond the longest sequence rnnp encodes", () => {
    assert.deepEqual(
      errors(pipeline({ encode: "maxLen: 1e9", layers: classifier("lstm(units: 8)") })),
      ["param-type 6:45 `maxLen` must be <= 1048576, not 1e9"],
    );
  });

  it("an integer without a declared maximum is still refused beyond 2^31 - 1", () => {
    assert.deepEqual(
      errors(pipeline({ layers: classifier("lstm(units: 8)"), train: "batchSize: 1e12" })),
      ["param-type 12:60 `batchSize` must be <= 2147483647, not 1e12"],
    );
  });

  it("one example whose layer outputs exceed a batch's limit, at the largest layer", () => {
    assert.deepEqual(
      errors(
        pipeline({
          encode: "maxLen: 1000000",
          layers:
            '    embedding(dim: 64)\n    lstm(units: 300, returnSequences: true)\n    gru(units: 4)\n    dense(units: 2, activation: "softmax")',
        }),
      ),
      [
        "too-large 9:5 one example's layer outputs take 1.4 GiB (lstm_2: 300,000,000 values), more than rnnp's limit of 1.0 GiB for a whole batch [use shorter sequences (maxLen) or smaller layers]",
      ],
    );
  });

  it("a training batch too large for its model's layer outputs, at batchSize, with one that fits", () => {
    const source = (batch: number) =>
      pipeline({
        encode: "maxLen: 100000",
        layers: classifier("lstm(units: 64)"),
        train: `batchSize: ${batch}`,
      });
    assert.deepEqual(errors(source(256)), [
      "too-large 12:60 a batch of 256 examples takes 1.5 GiB of layer outputs (6.1 MiB each), more than rnnp's limit of 1.0 GiB [batchSize: 167 or less, or shorter sequences]",
    ]);
    assert.deepEqual(errors(source(167)), []);
  });

  it("a seq2seq model with too many parameters", () => {
    const source = `pipeline m {
  stage raw = load.csv(path: "d.csv", text: "word", label: "phones")
  stage parts = split(raw)
  stage letters = vocabulary(parts.train, level: "char")
  stage phones = vocabulary(parts.train, column: "phones", level: "word", bos: true, eos: true)
  stage pairs = encode(parts, letters, targetVocab: phones, target: "phones", aligned: false)
  stage net = seq2seq(pairs.train) {
    encoder { embedding(dim: 32) bidirectional(lstm(units: 5000)) }
    decoder { embedding(dim: 32) lstm(units: 10000) }
  }
}
`;
    const found = errors(source);
    assert.equal(found.length, 1, found.join("\n"));
    assert.match(
      found[0]!,
      /^too-large 9:34 this model has 602,640,000 parameters or more \(dec_lstm: 401,320,000\), more than rnnp's limit of 100,000,000/,
    );
  });
});

describe("sizes known only when a stage runs", () => {
  it("encoding refuses sequences too large for one array before allocating them", () => {
    const encoding = {
      level: "char" as const,
      lowercase: false,
      punctuation: "split" as const,
      tokens: Array.from({ length: 3000 }, (_, i) => `t${i}`),
      reserved: { pad: 0, unk: 1 },
      maxLen: 2 ** 20,
      pad: "pre" as const,
      truncate: "post" as const,
      bos: false,
      eos: false,
      oneHot: true,
    };
    assert.throws(
      () =>
        encodeIds(
          { ids: Int32Array.of(2, 3, 4, 5), starts: Int32Array.of(0, 1, 3, 4) },
          encoding,
          encoding,
        ),
      (e: unknown) =>
        e instanceof UserError &&
        e.code === "too-large" &&
        /^3 sequences of 1048576 steps of 3000 one-hot features would take 35\.2 GiB \(9,437,184,000 values\), more than rnnp's limit of 2\.0 GiB for one array$/.test(
          e.message,
        ) &&
        /oneHot: false/.test(e.hint ?? ""),
    );
  });
});

describe("slow initialisation", () => {
  /** A rule that takes `steps` busy slices of 120 ms, each a quarter of its cost. */
  const slow = (steps: number): InitRule => ({
    name: "slow",
    cost: () => 4e9,
    *make(shape) {
      for (let s = 1; s <= steps; s++) {
        const until = performance.now() + 120;
        while (performance.now() < until);
        yield (s * 4e9) / steps;
      }
      return new Float32Array(shape.reduce((a, b) => a * b, 1));
    },
  });

  it("is announced, reports its progress, and lets the event loop run between steps", async () => {
    const progress: [number, number, string][] = [];
    const logs: string[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      const [w] = await initialWeights(
        [{ name: "lstm_2/recurrent_kernel", shape: [2, 3], init: slow(4) }],
        1,
        {
          progress: (d, t, u) => progress.push([d, t, u]),
          log: (m) => logs.push(m),
        },
      );
      assert.equal(w!.length, 6);
    } finally {
      clearInterval(timer);
    }
    assert.deepEqual(logs, [
      "initialising weights: slow lstm_2/recurrent_kernel [2, 3]: about 4.0e+9 operations in float64",
    ]);
    assert.deepEqual(
      progress.map(([d, t]) => [d, t]),
      [
        [1e9, 4e9],
        [2e9, 4e9],
        [3e9, 4e9],
        [4e9, 4e9],
        [4e9, 4e9],
      ],
    );
    assert.ok(progress.every(([, , unit]) => unit === "operations (initialisation)"));
    assert.ok(ticks >= 3, `timers ran ${ticks} times during initialisation`);
  });

  it("stops when the stage is interrupted", async () => {
    const stop = new AbortController();
    await assert.rejects(
      initialWeights([{ name: "w", shape: [1], init: slow(10) }], 1, {
        progress: (done) => done >= 2e9 && stop.abort(),
        signal: stop.signal,
      }),
      /interrupted/,
    );
  });

  it("the QR's cost is what its steps report: 4 (n - k)(m - k) multiply-adds per reflection, twice", () => {
    const direct = (rows: number, cols: number) => {
      const [n, m] = [Math.max(rows, cols), Math.min(rows, cols)];
      let s = 0;
      for (let k = 0; k < m; k++) s += 8 * (n - k) * (m - k);
      return s;
    };
    for (const [r, c] of [
      [10000, 40000],
      [32, 128],
      [7, 3],
      [1, 1],
    ] as const)
      assert.equal(orthogonalCost(r, c), direct(r, c), `${r}x${c}`);
  });
});
