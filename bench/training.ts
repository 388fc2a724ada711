import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { Row } from "./measure.js";

const ROOT = resolve(import.meta.dirname, "..");

interface Measured {
  train: number;
  infer: number;
  tensors?: number[];
  peakRssMB?: number;
}

function rnnp(
  backend: string,
  kernels: string,
  samples: number,
  epochs: number,
  cell: string,
  threads = 2,
): Measured {
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "bench/train-worker.ts"),
      backend,
      String(samples),
      String(epochs),
      cell,
      kernels,
    ],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, RNNP_THREADS: String(threads) } },
  );
  if (r.status !== 0)
    throw new Error(`training bench (${backend}, ${kernels}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Measured;
}

/** Debian's python3-torch, when installed (it is Python 3.11's, not a pyenv one's). */
function torch(
  cell: string,
  threads: number,
  samples: number,
  epochs: number,
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
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads) } },
    );
    if (r.status === 0) return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Measured;
  }
  return undefined;
}

/**
 * The run with the median training throughput of three: the fast paths finish in seconds, where
 * one run can be off by 5-10% on a shared machine, and the rows compared with each other are these.
 */
function median3(measure: () => Measured | undefined): Measured | undefined {
  const runs = [measure(), measure(), measure()];
  if (runs.some((m) => !m)) return undefined;
  return (runs as Measured[]).sort((a, b) => a.train - b.train)[1];
}

/**
 * The reference workload (batch 64, length 50, 16 features, one recurrent layer of 128 units,
 * softmax over 10 classes, Adam 1e-3): training samples/s over the epochs after the first, and
 * inference samples/s, with TF.js's layers on the wasm backend as the baseline. rnnp's fused kernels
 * run the full 4,096 samples, on 2 threads (the default) and on 1 (TF.js itself is single-threaded
 * in Node), each the median of three runs, as is PyTorch on one thread; TF.js's slow paths run fewer
 * samples (throughput does not depend on the count).
 * PyTorch (Debian's python3-torch, `bench/torch_reference.py`) runs the same workload when installed.
 */
export function trainingBench(): Row[] {
  const rows: Row[] = [];
  for (const cell of ["lstm", "gru"]) {
    const base = rnnp("wasm", "tfjs", 640, 2, cell);
    const paths: [string, Measured | undefined][] = [
      ["TF.js layers, cpu backend", rnnp("cpu", "tfjs", 192, 2, cell)],
      [
        "rnnp fused kernels, wasm backend, 2 threads (default)",
        median3(() => rnnp("wasm", "fused", 4096, 3, cell)),
      ],
      [
        "rnnp fused kernels, wasm backend, 1 thread",
        median3(() => rnnp("wasm", "fused", 4096, 3, cell, 1)),
      ],
      ["rnnp fused kernels, cpu backend, 2 threads", rnnp("cpu", "fused", 1024, 3, cell)],
      ["PyTorch 1 thread", median3(() => torch(cell, 1, 4096, 3))],
      ["PyTorch 2 threads", torch(cell, 2, 4096, 3)],
    ];
    for (const mode of ["train", "infer"] as const) {
      const per = (m: Measured) => `${m[mode].toFixed(0)} samples/s`;
      rows.push({
        suite: mode,
        measure: `${cell}(128), length 50: TF.js layers, wasm backend`,
        value: per(base),
        baseline: "(baseline)",
        ratio: "1.0x",
      });
      for (const [name, m] of paths) {
        rows.push(
          m
            ? {
                suite: mode,
                measure: `${cell}(128), length 50: ${name}`,
                value: per(m),
                baseline: `TF.js wasm: ${per(base)}`,
                ratio: `${(m[mode] / base[mode]).toFixed(1)}x`,
              }
            : {
                suite: mode,
                measure: `${cell}(128), length 50: ${name}`,
                value: "skipped",
                baseline:
                  "python3-torch is not installed (apt-get install python3-torch libopenblas0-pthread)",
                ratio: "",
              },
        );
      }
    }
    const fused = paths[1]![1]!;
    rows.push({
      suite: "memory",
      measure: `${cell}(128) training on the fused kernels, 4,096 samples`,
      value: `peak RSS ${fused.peakRssMB!.toFixed(0)} MB; tensors after each epoch ${fused.tensors!.join(", ")}`,
      baseline: `TF.js wasm: peak RSS ${base.peakRssMB!.toFixed(0)} MB; tensors ${base.tensors!.join(", ")}`,
      ratio: "",
    });
  }
  return rows;
}
