import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { Row } from "./measure.js";

const ROOT = resolve(import.meta.dirname, "..");

function throughput(backend: string, samples: number, epochs: number, cell: string): number {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/train-worker.ts"), backend, String(samples), String(epochs), cell], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`training bench on ${backend} failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { samplesPerSecond: number }).samplesPerSecond;
}

/**
 * Training throughput of the reference workload (batch 64, length 50, 16 features, one recurrent
 * layer of 128 units, softmax over 10 classes, Adam 1e-3) with rnnp's training loop, per backend;
 * the pure-JavaScript `cpu` backend is the baseline. Sample counts are cut to what each backend
 * gets through in reasonable time; throughput is measured after the first epoch.
 */
export function trainingBench(): Row[] {
  const rows: Row[] = [];
  for (const cell of ["lstm", "gru"]) {
    const cpu = throughput("cpu", 192, 2, cell);
    const wasm = throughput("wasm", 640, 2, cell);
    rows.push(
      { suite: "train", measure: `${cell}(128), length 50: cpu backend`, value: `${cpu.toFixed(1)} samples/s`, baseline: "(baseline)", ratio: "1.0x" },
      { suite: "train", measure: `${cell}(128), length 50: wasm backend (SIMD)`, value: `${wasm.toFixed(1)} samples/s`, baseline: `cpu: ${cpu.toFixed(1)} samples/s`, ratio: `${(wasm / cpu).toFixed(1)}x` },
    );
  }
  return rows;
}
