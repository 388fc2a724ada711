import { type Measured, rnnp } from "./training.js";
import type { Row } from "./measure.js";

/**
 * What the gradient-flow monitor costs (train's gradientFlow, on by default): training throughput
 * with it and without it, on the reference workload (batch 64, length 50, 16 features, 128 units),
 * for each cell, on the fused kernels (native, 2 threads) and on TF.js's cells (the probe; fewer
 * samples, its throughput does not depend on their count). The two settings alternate within each
 * round, so a busy moment on a shared machine hits both; each row gives both best runs and the
 * spread, and the cost as the share of training time the monitor adds (best against best).
 * Target: under 3% on the fused kernels.
 */
export function flowBench(rounds = 5): Row[] {
  const rows: Row[] = [];
  const configs = [
    ...(["lstm", "gru", "simpleRNN"] as const).map((cell) => ({
      cell,
      kernels: "fused",
      samples: 4096,
      label: `${cell}(128), length 50, fused kernels (native, 2 threads)`,
    })),
    { cell: "lstm", kernels: "tfjs", samples: 384, label: "lstm(128), length 50, TF.js's cells" },
  ];
  for (const c of configs) {
    const runs: Record<"on" | "off", Measured[]> = { on: [], off: [] };
    for (let round = 0; round < rounds; round++)
      for (const flow of round % 2 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const m = rnnp("wasm", c.kernels, c.samples, 3, c.cell, 2, "auto", ["0", flow]);
        runs[flow].push(m);
        process.stderr.write(
          `  gradient flow ${flow}, ${c.label}, round ${round + 1}/${rounds}: ${m.train.toFixed(0)} samples/s\n`,
        );
      }
    const best = (ms: Measured[]) => Math.max(...ms.map((m) => m.train));
    const worst = (ms: Measured[]) => Math.min(...ms.map((m) => m.train));
    const [on, off] = [best(runs.on), best(runs.off)];
    rows.push({
      suite: "gradient flow",
      measure: `${c.label}: training with gradientFlow (default)`,
      value: `best ${on.toFixed(0)} samples/s (${rounds} runs: ${worst(runs.on).toFixed(0)}-${on.toFixed(0)})`,
      baseline: `gradientFlow: false: best ${off.toFixed(0)} samples/s (${worst(runs.off).toFixed(0)}-${off.toFixed(0)})`,
      // Time per sample with the monitor over time without, minus one: the share it adds.
      ratio: `${(100 * (off / on - 1)).toFixed(1)}% of training time`,
    });
  }
  return rows;
}
