// rnnp's native kernels (native/, the add-on `npm install` builds when a compiler is there) against
// the WebAssembly kernels they port: the same bytes for every kernel, shape, option and thread count,
// on every instruction set this machine runs. Skipped, with the reason, where the add-on is not
// built (CI builds it: `node native/install.js --check` fails its run otherwise).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { kernelCall } from "../../src/numerics/fused/abi.js";
import {
  backward,
  CELLS,
  type CellKind,
  forward,
  type SequenceInputs,
} from "../../src/numerics/fused/cells.js";
import { Kernels } from "../../src/numerics/fused/kernels.js";
import { kernelsDigest } from "../../src/runtime/kernels-build.js";
import { addonPath, checkExtents, loadAddon } from "../../src/numerics/fused/native.js";
import { ROOT } from "../helpers.js";
import { addon, skip } from "./native-addon.js";

const isas = "reason" in addon ? [] : addon.isas;

interface Case {
  kind: CellKind;
  B: number;
  T: number;
  F: number;
  H: number;
  masked: boolean;
  reverse: boolean;
  sequences: boolean;
  dropout: boolean;
  /** Record the gradient flow (every step's state gradient, and the gates' saturation). */
  flow: boolean;
  /** How the inputs are drawn: ordinary values, or ones that reach exp's clamps, denormals and zeros. */
  values: "plain" | "extreme";
  seed: number;
}

/** A value drawn for `values`: extreme draws mix ±0, huge, denormal and ordinary numbers. */
function drawer(c: Case): (scale: number) => number {
  const random = seedrandom(`native:${c.seed}`);
  const special = [0, -0, 1e-40, -3e-39, 200, -200, 1e30, -1e30, 88.5, -87.5];
  return (scale) => {
    const r = random();
    if (c.values === "extreme" && r < 0.3) return special[Math.floor(random() * special.length)]!;
    return (random() * 2 - 1) * scale;
  };
}

/** A case's inputs: drawn once, then given to every build (drawing costs more than the kernels). */
interface Drawn {
  inputs: SequenceInputs;
  dout: Float32Array;
  dstates: Float32Array[];
}

function draw(c: Case): Drawn {
  const G = CELLS[c.kind].gates * c.H;
  const value = drawer(c);
  const arr = (n: number, scale = 1) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = value(scale);
    return a;
  };
  const inputs = {
    x: arr(c.B * c.T * c.F, 2),
    w: arr(c.F * G, 0.5),
    u: arr(c.H * G, 0.5),
    b: arr(G),
    init: CELLS[c.kind].states.map(() => arr(c.B * c.H)),
    ...(c.masked
      ? { mask: Float32Array.from({ length: c.B * c.T }, (_, i) => ((i * 7) % 5 === 2 ? 0 : 1)) }
      : {}),
    ...(c.dropout
      ? {
          recurrentDropout: Float32Array.from({ length: c.B * c.H }, (_, i) =>
            i % 3 === 1 ? 0 : 1.25,
          ),
        }
      : {}),
    reverse: c.reverse,
    sequences: c.sequences,
  };
  const dout = arr(c.sequences ? c.B * c.T * c.H : c.B * c.H);
  const dstates = CELLS[c.kind].states.map(() => arr(c.B * c.H));
  return { inputs, dout, dstates };
}

/**
 * Forward (with its tape) then backward on one build: every array that comes out, the input's
 * gradient last (absent without `inputGradient`: the native kernels skip its product then). The
 * build gets copies of the drawn arrays, so that one that wrote into its inputs could not pass them on.
 */
function run(k: Kernels, c: Case, drawn: Drawn, inputGradient = true): Float32Array[] {
  const d = { B: c.B, T: c.T, F: c.F, H: c.H };
  const { inputs: i } = drawn;
  const inputs: SequenceInputs = {
    ...i,
    x: i.x.slice(),
    w: i.w.slice(),
    u: i.u.slice(),
    b: i.b.slice(),
    init: i.init.map((a) => a.slice()),
    ...(i.mask ? { mask: i.mask.slice() } : {}),
    ...(i.recurrentDropout ? { recurrentDropout: i.recurrentDropout.slice() } : {}),
  };
  const f = forward(k, c.kind, d, inputs, true);
  const g = backward(
    k,
    f.saved!,
    drawn.dout.slice(),
    drawn.dstates.map((a) => a.slice()),
    { flow: c.flow, inputGradient },
  );
  // The flow's norms are doubles, compared as their bytes; its counts as floats (exact below 2^24).
  const flow = g.flow
    ? [new Float32Array(g.flow.norms.buffer), Float32Array.from(Object.values(g.flow.saturation!))]
    : [];
  return [f.output, ...f.states, g.dw, g.du, g.db, ...g.dinit, ...flow, ...(g.dx ? [g.dx] : [])];
}

/**
 * Equal bytes, array by array, with the first difference named; NaN matches NaN whatever its sign
 * and payload, which WebAssembly leaves to the engine (they differ between wasm engines and CPUs:
 * x86's default NaN is negative, ARM's positive), so no build can promise them.
 */
function assertSameBytes(actual: Float32Array[], expected: Float32Array[], what: string): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => {
    const a = actual[i]!;
    const ab = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const eb = new Uint32Array(e.buffer, e.byteOffset, e.length);
    const j = eb.findIndex((v, n) => ab[n] !== v && !(Number.isNaN(a[n]) && Number.isNaN(e[n])));
    assert.ok(
      a.length === e.length && j < 0,
      `${what}: array ${i} differs at ${j}: ${a[j]} (0x${ab[j]?.toString(16)}) vs ${e[j]} (0x${eb[j]?.toString(16)})`,
    );
  });
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  kind: fc.constantFrom<CellKind>("lstm", "gru", "simpleRNN"),
  B: fc.integer({ min: 1, max: 40 }),
  T: fc.integer({ min: 1, max: 9 }),
  // Up to 300 features: products over F then run in two passes of 256, as over G in backward.
  F: fc.oneof(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 250, max: 300 })),
  H: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 60, max: 90 })),
  masked: fc.boolean(),
  reverse: fc.boolean(),
  sequences: fc.boolean(),
  dropout: fc.boolean(),
  flow: fc.boolean(),
  values: fc.constantFrom<Case["values"]>("plain", "extreme"),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

describe("native kernels give the wasm kernels' bytes", { skip }, () => {
  const wasm = Kernels.load(2, undefined, "wasm");
  const natives = isas.flatMap((isa) =>
    [1, 2, 3].map((threads) => Kernels.load(threads, undefined, `native-${isa}`)),
  );

  it("runs every instruction set this machine has, on 1 to 3 threads", () => {
    assert.ok(isas.includes("scalar"), "the portable build is always there");
    assert.deepEqual(
      natives.map((k) => k.describe()),
      isas.flatMap((isa) => [1, 2, 3].map((t) => `native ${isa}, ${t} thread${t > 1 ? "s" : ""}`)),
    );
    assert.equal(wasm.describe(), "wasm simd, 2 threads");
  });

  it("for every kernel, shape and option (property: 60 random cases, extreme values among them)", () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), (c, withoutDx) => {
        const drawn = draw(c);
        const expected = run(wasm, c, drawn);
        for (const k of natives)
          assertSameBytes(run(k, c, drawn), expected, `${k.describe()} ${JSON.stringify(c)}`);
        // Without the input's gradient (data): every other array the same, on every build.
        if (withoutDx)
          for (const k of [wasm, ...natives])
            assertSameBytes(
              run(k, c, drawn, false),
              expected.slice(0, -1),
              `${k.describe()} without dx ${JSON.stringify(c)}`,
            );
      }),
      { numRuns: 60, seed: 17 },
    );
  });

  for (const kind of ["lstm", "gru", "simpleRNN"] as const)
    it(`${kind}: the reference workload's shape (64 x 50 steps, 16 features, 128 units)`, () => {
      const c: Case = {
        kind,
        B: 64,
        T: 50,
        F: 16,
        H: 128,
        masked: true,
        reverse: false,
        sequences: false,
        dropout: true,
        flow: true,
        values: "plain",
        seed: 1,
      };
      const drawn = draw(c);
      const expected = run(wasm, c, drawn);
      for (const k of natives.filter((n) => n.pool.threads === 2)) {
        assertSameBytes(run(k, c, drawn), expected, k.describe());
        assertSameBytes(run(k, c, drawn, false), expected.slice(0, -1), `${k.describe()}, no dx`);
      }
    });

  it("products of 256 columns or more, in every way rnn.h cuts them into panels", () => {
    // AVX-512 runs products of N >= 256 columns in 4 x 6-vector tiles, the rest of the columns in
    // one narrower panel, except a rest of 1 or 2 vectors: then the last 6-vector panel and the
    // rest run as 4 + 3 or 4 vectors. Columns are 4H or 3H (gates) and F (the input's gradient):
    // 4 x 64 = 256 (6 + 6 + 4 vectors), 4 x 76 = 304 (a 1-vector rest), 4 x 77 = 308 (the same, a
    // partial vector last), 4 x 80 = 320 (a 2-vector rest); F = 290 (a 2-lane rest), 3 x 86 = 258.
    const shapes: [CellKind, number, number][] = [
      ["lstm", 64, 16],
      ["lstm", 76, 290],
      ["lstm", 77, 3],
      ["lstm", 80, 16],
      ["gru", 86, 290],
    ];
    for (const [kind, H, F] of shapes) {
      const c: Case = {
        kind,
        B: 18,
        T: 3,
        F,
        H,
        masked: false,
        reverse: false,
        sequences: true,
        dropout: false,
        flow: false,
        values: "plain",
        seed: H,
      };
      const drawn = draw(c);
      const expected = run(wasm, c, drawn);
      for (const k of natives.filter((n) => n.pool.threads === 2))
        assertSameBytes(run(k, c, drawn), expected, `${k.describe()} ${JSON.stringify(c)}`);
    }
  });

  it("refuses a call whose buffers reach outside the kernels' memory, before running it", () => {
    const k = natives[0]!;
    const bytes = k.view(0, 0).buffer.byteLength;
    const named = {
      B: 2,
      T: 3,
      F: 4,
      H: 5,
      x: 16,
      w: 16,
      u: 16,
      bias: 16,
      mask: 0,
      rev: false,
      rdrop: 0,
      hm: 0,
      xw: 16,
      z: 16,
      hs: bytes - 64,
      out: 0,
      seq: false,
    };
    const call = kernelCall("simpleForward", named);
    assert.throws(() => checkExtents(call, bytes), /simpleForward: buffer hs .* outside/);
    assert.throws(() => k.pool.run([call]), /buffer hs .* outside/);
    checkExtents(kernelCall("simpleForward", { ...named, hs: 16 }), bytes);
  });

  it("holds no fused multiply-add instruction (its rounding differs from a product then a sum)", (t) => {
    const dump = spawnSync("objdump", ["-d", addonPath(ROOT)], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    if (dump.error) return t.skip("objdump is not installed");
    assert.equal(dump.status, 0);
    assert.ok(dump.stdout.length > 10_000, "objdump disassembled the add-on");
    assert.match(dump.stdout, /vmulps/);
    assert.doesNotMatch(dump.stdout, /\bv?f(n)?m(add|sub)(sub|add)?(132|213|231)?[ps][sd]\b/);
  });
});

describe("choosing the kernels' build (RNNP_KERNELS_IMPL)", () => {
  it("wasm is always there; native names its instruction set", { skip }, () => {
    assert.match(Kernels.load(1, undefined, "wasm").describe(), /^wasm simd, 1 thread$/);
    assert.equal(Kernels.load(2, undefined, "native").describe(), `native ${isas[0]}, 2 threads`);
    assert.equal(Kernels.load(2, undefined, "auto").describe(), `native ${isas[0]}, 2 threads`);
    assert.throws(
      () => Kernels.load(1, undefined, "native-sse9"),
      /RNNP_KERNELS_IMPL=native-sse9: this machine cannot run that build/,
    );
  });

  it("an add-on that is missing or ports other kernels is not used, and says why", () => {
    const empty = mkdtempSync(join(tmpdir(), "rnnp-native-"));
    try {
      assert.deepEqual(loadAddon(empty, kernelsDigest()), {
        reason: "not built: npm run native builds them",
      });
    } finally {
      rmSync(empty, { recursive: true });
    }
    if (skip) return;
    const other = loadAddon(ROOT, "0123456789abcdef");
    assert.ok("reason" in other);
    assert.match(
      other.reason,
      /a port of other kernels, \w+ where these are 0123456789abcdef: npm run native/,
    );
  });

  it("an unknown choice is an error that lists the choices", () => {
    const before = process.env.RNNP_KERNELS_IMPL;
    process.env.RNNP_KERNELS_IMPL = "gpu";
    try {
      assert.throws(() => Kernels.load(1), /RNNP_KERNELS_IMPL=gpu: no such build of the kernels/);
    } finally {
      if (before === undefined) delete process.env.RNNP_KERNELS_IMPL;
      else process.env.RNNP_KERNELS_IMPL = before;
    }
  });
});
