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
 * monitor adds: on / off − 1 of the median pair, in CPU seconds (the process's every thread: on a
 * machine shared with other work the steadier measure) and in wall seconds; with the pairs' spread.
 * On a busy machine the epochs' pairs scatter by tens of percent; the monitor's own work is also
 * measured apart (bench/flow-worker.ts: the backward pass with and without it, alternating) and
 * given as a share of the epoch's CPU time. Target: under 3% on the fused kernels (else
 * `gradientFlow: false` by default).
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
    const m = JSON.parse(r.stdout) as {
      on: Epoch[];
      off: Epoch[];
      kernels?: string;
      backward?: { on: number[]; off: number[] };
    };
    const share = (key: keyof Epoch) => {
      const mean = (es: Epoch[]) => es.reduce((a, e) => a + e[key], 0) / es.length;
      const each = m.on.map((e, i) => e[key] / m.off[i]![key] - 1).sort((a, b) => a - b);
      const pct = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}%`;
      // The median pair: one pair slowed by a neighbour's burst moves it little.
      const median = (each[(each.length - 1) >> 1]! + each[each.length >> 1]!) / 2;
      return {
        text: `${pct(median)} (median pair; pairs ${pct(each[0]!)} to ${pct(each.at(-1)!)})`,
        on: mean(m.on),
        off: mean(m.off),
      };
    };
    const [cpu, wall] = [share("cpu"), share("wall")];
    // The monitor's own work per batch (the backward pass's CPU with it, minus without: medians of
    // alternating calls), times the epoch's batches, over the epoch's CPU time without it.
    const median = (v: number[]) => {
      const s = [...v].sort((a, b) => a - b);
      return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
    };
    const own = m.backward
      ? ((median(m.backward.on) - median(m.backward.off)) * Math.ceil(c.samples / 64)) / cpu.off
      : undefined;
    process.stderr.write(`  gradient flow, ${c.label}: ${JSON.stringify(m)}\n`);
    return {
      suite: "gradient flow",
      measure: `${c.label}${m.kernels ? ` (${m.kernels})` : ""}: an epoch of ${c.samples} with gradientFlow (default), ${pairs} pairs`,
      value: `CPU ${cpu.on.toFixed(2)} s, wall ${wall.on.toFixed(2)} s per epoch`,
      baseline: `gradientFlow: false: CPU ${cpu.off.toFixed(2)} s, wall ${wall.off.toFixed(2)} s`,
      ratio: `${own !== undefined ? `${own >= 0 ? "+" : ""}${(100 * own).toFixed(1)}% of training CPU time (its work in the backward pass, ${m.backward!.on.length} alternating calls); ` : ""}epochs: ${cpu.text} CPU time, ${wall.text} wall time`,
    };
  });
}
