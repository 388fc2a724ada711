import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import type { Row } from "./measure.js";

const ROOT = resolve(import.meta.dirname, "..");

interface Epoch {
  wall: number;
  cpu: number;
}

/**
 * What the gradient-flow monitor costs (train's gradientFlow, on by default), on the reference
 * workload (batch 64, length 50, 16 features, 128 units): for each cell on the fused kernels, and
 * for an LSTM on TF.js's cells (the probe), one process trains epoch after epoch with the monitor on
 * and off in alternating pairs (bench/flow-worker.ts). The cost is the share of training time the
 * monitor adds: Σ on / Σ off − 1 over the pairs, in CPU seconds (the process's every thread: on a
 * machine shared with other work the steadier measure) and in wall seconds; with the pairs' spread.
 * Target: under 3% on the fused kernels (else `gradientFlow: false` by default).
 */
export function flowBench(rounds = 5): Row[] {
  const pairs = Math.max(2, rounds + 1);
  const configs = [
    ...(["lstm", "gru", "simpleRNN"] as const).map((cell) => ({
      cell,
      kernels: "fused",
      samples: 1024,
      label: `${cell}(128), length 50, fused kernels`,
    })),
    { cell: "lstm", kernels: "tfjs", samples: 256, label: "lstm(128), length 50, TF.js's cells" },
  ];
  return configs.map((c) => {
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        resolve(ROOT, "bench/flow-worker.ts"),
        c.cell,
        c.kernels,
        String(c.samples),
        String(pairs),
      ],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !k.startsWith("RNNP_") && k !== "CI"),
        ),
      },
    );
    if (r.status !== 0) throw new Error(`bench/flow-worker.ts failed: ${r.stderr}`);
    const m = JSON.parse(r.stdout) as { on: Epoch[]; off: Epoch[]; kernels?: string };
    const share = (key: keyof Epoch) => {
      const sum = (es: Epoch[]) => es.reduce((a, e) => a + e[key], 0);
      const each = m.on.map((e, i) => e[key] / m.off[i]![key] - 1);
      const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
      return {
        total: sum(m.on) / sum(m.off) - 1,
        text: `${pct(sum(m.on) / sum(m.off) - 1)} (pairs ${pct(Math.min(...each))} to ${pct(Math.max(...each))})`,
        on: sum(m.on) / m.on.length,
        off: sum(m.off) / m.off.length,
      };
    };
    const [cpu, wall] = [share("cpu"), share("wall")];
    process.stderr.write(`  gradient flow, ${c.label}: ${JSON.stringify(m)}\n`);
    return {
      suite: "gradient flow",
      measure: `${c.label}${m.kernels ? ` (${m.kernels})` : ""}: an epoch of ${c.samples} with gradientFlow (default), ${pairs} pairs`,
      value: `CPU ${cpu.on.toFixed(2)} s, wall ${wall.on.toFixed(2)} s per epoch`,
      baseline: `gradientFlow: false: CPU ${cpu.off.toFixed(2)} s, wall ${wall.off.toFixed(2)} s`,
      ratio: `+${cpu.text} CPU time, +${wall.text} wall time`,
    };
  });
}
