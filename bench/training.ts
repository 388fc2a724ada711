import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { Row } from "./measure.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

const ROOT = resolve(import.meta.dirname, "..");

interface Measured {
  train: number;
  infer: number;
  tensors?: number[];
  peakRssMB?: number;
  /** The kernels that ran ("native avx512, 2 threads"), for rnnp's fused rows. */
  kernels?: string;
}

/** The caller's environment without rnnp's settings: each run says its own. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("RNNP_") && !k.startsWith("OMP_")),
  );
}

/** One run of rnnp's training loop on the reference workload (bench/worker.ts train). */
function rnnp(
  backend: string,
  kernels: string,
  samples: number,
  epochs: number,
  cell: string,
  threads = 2,
  impl = "auto",
): Measured {
  const options = { backend, kernels, samples, epochs, cell };
  const r = spawnSync(
    process.execPath,
    [
      ...NODE_FLAGS,
      "--import",
      "tsx",
      join(ROOT, "bench/worker.ts"),
      "train",
      ...Object.entries(options).map(([k, v]) => `${k}=${v}`),
    ],
    {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...cleanEnv(), RNNP_THREADS: String(threads), RNNP_KERNELS_IMPL: impl },
    },
  );
  if (r.status !== 0)
    throw new Error(`training bench (${backend}, ${kernels}, ${impl}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Measured;
}

/** Debian's python3-torch, when installed (it is Python 3.11's, not a pyenv one's). */
function torch(
  cell: string,
  threads: number,
  samples: number,
  epochs: number,
  env: Record<string, string> = {},
): Measured | undefined {
  for (const python of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(
      python,
      [
        join(ROOT, "bench/torch_reference.py"),
        cell,
        String(threads),
        String(samples),
        String(epochs),
      ],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...cleanEnv(), OMP_NUM_THREADS: String(threads), ...env },
      },
    );
    if (r.status === 0) return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Measured;
  }
  return undefined;
}

/** A configuration measured in alternation with the others: every run's figures. */
interface Series {
  name: string;
  /** rnnp's own, or the reference it is compared with. */
  side: "rnnp" | "PyTorch";
  measure: () => Measured | undefined;
  runs: Measured[];
  missing?: boolean;
}

const SAMPLES = 4096;
const EPOCHS = 3;

/** The configurations compared, run one after another in each round. */
function series(cell: string): Series[] {
  const make = (name: string, side: Series["side"], measure: () => Measured | undefined) => ({
    name,
    side,
    measure,
    runs: [],
  });
  return [
    make("rnnp fused kernels, native, 2 threads (default)", "rnnp", () =>
      rnnp("wasm", "fused", SAMPLES, EPOCHS, cell, 2, "native"),
    ),
    make("rnnp fused kernels, native, 1 thread", "rnnp", () =>
      rnnp("wasm", "fused", SAMPLES, EPOCHS, cell, 1, "native"),
    ),
    make("rnnp fused kernels, wasm, 2 threads", "rnnp", () =>
      rnnp("wasm", "fused", SAMPLES, EPOCHS, cell, 2, "wasm"),
    ),
    make("rnnp fused kernels, wasm, 1 thread", "rnnp", () =>
      rnnp("wasm", "fused", SAMPLES, EPOCHS, cell, 1, "wasm"),
    ),
    make("PyTorch 1 thread", "PyTorch", () => torch(cell, 1, SAMPLES, EPOCHS)),
    // Spinning OpenMP threads are slow (and far slower on a busy machine): a quarter of the samples.
    make("PyTorch 2 threads", "PyTorch", () => torch(cell, 2, SAMPLES / 4, EPOCHS)),
    make("PyTorch 2 threads, OMP_WAIT_POLICY=PASSIVE", "PyTorch", () =>
      torch(cell, 2, SAMPLES, EPOCHS, { OMP_WAIT_POLICY: "PASSIVE" }),
    ),
  ];
}

type Mode = "train" | "infer";
const best = (s: Series, mode: Mode) => Math.max(...s.runs.map((m) => m[mode]));
const worst = (s: Series, mode: Mode) => Math.min(...s.runs.map((m) => m[mode]));
const perSecond = (v: number) => `${v.toFixed(0)} samples/s`;

/**
 * The reference workload (batch 64, length 50, 16 features, one recurrent layer of 128 units,
 * softmax over 10 classes, Adam 1e-3): training samples/s over the epochs after the first, and
 * inference samples/s.
 *
 * rnnp's fused kernels (native and wasm builds, on 2 threads and 1) and PyTorch (Debian's
 * python3-torch, `bench/torch_reference.py`: 1 thread, 2 threads, and 2 threads with OpenMP's
 * passive waiting) run the full 4,096 samples in `rounds` alternating rounds (each configuration
 * once per round, in turn; PyTorch's default 2 threads, which spin, on a quarter of the samples),
 * so that a noisy moment on a shared machine hits every side alike; each
 * row gives its best run and the spread of all. rnnp's best is compared with PyTorch's best
 * configuration. TF.js's own layers on its wasm backend are the baseline of the other rows (one run
 * each, fewer samples: their throughput does not depend on the count).
 */
export function trainingBench(rounds = 5, cells: readonly string[] = ["lstm", "gru"]): Row[] {
  const rows: Row[] = [];
  for (const cell of cells) {
    const base = rnnp("wasm", "tfjs", 640, 2, cell);
    const slow: [string, Measured][] = [
      ["TF.js layers, cpu backend", rnnp("cpu", "tfjs", 192, 2, cell)],
      ["rnnp fused kernels, native, cpu backend, 2 threads", rnnp("cpu", "fused", 1024, 3, cell)],
    ];
    const compared = series(cell);
    for (let round = 0; round < rounds; round++)
      for (const s of compared) {
        if (s.missing) continue;
        const m = s.measure();
        if (m) s.runs.push(m);
        else s.missing = true;
        process.stderr.write(
          `  ${cell} round ${round + 1}/${rounds}: ${s.name}: ${m ? perSecond(m.train) : "skipped"}\n`,
        );
      }
    for (const mode of ["train", "infer"] as const) {
      const label = (name: string) => `${cell}(128), length 50: ${name}`;
      const vsBase = (v: number) => `${(v / base[mode]).toFixed(1)}x`;
      rows.push({
        suite: mode,
        measure: label("TF.js layers, wasm backend"),
        value: perSecond(base[mode]),
        baseline: "(baseline)",
        ratio: "1.0x",
      });
      for (const [name, m] of slow)
        rows.push({
          suite: mode,
          measure: label(name),
          value: perSecond(m[mode]),
          baseline: `TF.js wasm: ${perSecond(base[mode])}`,
          ratio: vsBase(m[mode]),
        });
      for (const s of compared)
        rows.push(
          s.missing
            ? {
                suite: mode,
                measure: label(s.name),
                value: "skipped",
                baseline:
                  "python3-torch is not installed (apt-get install python3-torch libopenblas0-pthread)",
                ratio: "",
              }
            : {
                suite: mode,
                measure: label(s.name),
                value: `best ${perSecond(best(s, mode))} (${s.runs.length} runs: ${worst(s, mode).toFixed(0)}-${best(s, mode).toFixed(0)})`,
                baseline: `TF.js wasm: ${perSecond(base[mode])}`,
                ratio: vsBase(best(s, mode)),
              },
        );
      const sides = (side: Series["side"]) =>
        compared
          .filter((s) => s.side === side && !s.missing)
          .sort((a, b) => best(b, mode) - best(a, mode));
      const [ours, theirs] = [sides("rnnp")[0], sides("PyTorch")[0]];
      if (ours && theirs)
        rows.push({
          suite: mode,
          measure: label(`rnnp's best (${ours.name.replace("rnnp fused kernels, ", "")})`),
          value: perSecond(best(ours, mode)),
          baseline: `PyTorch's best (${theirs.name.replace("PyTorch ", "")}): ${perSecond(best(theirs, mode))}`,
          ratio: `${(best(ours, mode) / best(theirs, mode)).toFixed(2)}x`,
        });
    }
    const fused = compared[0]!.runs[0]!;
    rows.push({
      suite: "memory",
      measure: `${cell}(128) training on the fused kernels (${fused.kernels}), 4,096 samples`,
      value: `peak RSS ${fused.peakRssMB!.toFixed(0)} MB; tensors after each epoch ${fused.tensors!.join(", ")}`,
      baseline: `TF.js wasm: peak RSS ${base.peakRssMB!.toFixed(0)} MB; tensors ${base.tensors!.join(", ")}`,
      ratio: "",
    });
  }
  return rows;
}
