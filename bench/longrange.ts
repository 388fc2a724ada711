// The demonstration table of the README (issue 15): runs pipelines/longrange.rnnp (or reads it from
// the cache when it is built) and prints, for every task, length and cell, how far back the
// recurrent layer's gradient reached at the first and the last epoch, its growth per step, and the
// test result beside its baseline.
//
//   node --import tsx bench/longrange.ts [--cache DIR] [-P name=value]...
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { LayerFlow } from "../src/artifacts/model.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

const ROOT = resolve(import.meta.dirname, "..");
const PIPELINE = join(ROOT, "pipelines", "longrange.rnnp");
const args = process.argv.slice(2);
const at = args.indexOf("--cache");
const cache = at >= 0 ? args[at + 1]! : join(ROOT, "cache");
const params = args.flatMap((a, i) => (args[i - 1] === "-P" ? ["-P", a] : []));

function rnnp(argv: string[]): string {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("RNNP_") && k !== "CI"),
  );
  const r = spawnSync(
    process.execPath,
    [...NODE_FLAGS, join(ROOT, "bin", "rnnp.js"), ...argv, "--cache", cache, ...params],
    { cwd: ROOT, encoding: "utf8", env, stdio: ["ignore", "pipe", "inherit"] },
  );
  if (r.status !== 0) throw new Error(`rnnp ${argv.join(" ")} exited ${r.status}`);
  return r.stdout;
}

interface Shown {
  outputs: {
    out: {
      training?: { history: { epoch: number; flow?: LayerFlow[] }[]; warnings: string[] };
      report?: { metrics: Record<string, number> };
    };
  };
}
const show = (stage: string) => JSON.parse(rnnp(["show", stage, PIPELINE, "--json"])) as Shown;

/** A warning's kind, in a word or two (health.ts words them). */
function kindOf(text: string): string {
  const kinds: [RegExp, string][] = [
    [/ sees \d+ of \d+ steps back/, "vanishing"],
    [/ explodes;/, "exploding"],
    [/ are (saturated|shut)/, "saturated"],
    [/ constant prediction/, "no better than constant"],
    [/^training stalled/, "stall"],
    [/ rose for /, "rising loss"],
    [/ is above epoch 1's/, "diverged"],
    [/ parted from /, "overfitting"],
  ];
  return kinds.find(([re]) => re.test(text))?.[1] ?? text;
}

rnnp(["run", PIPELINE, "--no-lock"]);
const lengths = [20, 50, 100];
const cells = [
  ["rnn", "SimpleRNN"],
  ["gru", "GRU"],
  ["lstm", "LSTM"],
] as const;
const rows = [
  "| task | length | cell | horizon, epoch 1 | horizon, last epoch | growth per step | test result (baseline) | warnings |",
  "|---|---|---|---|---|---|---|---|",
];
for (const task of ["add", "copy"] as const)
  for (const length of lengths)
    for (const [cell, name] of cells) {
      const variant = `[length=${length}]`;
      const fit = show(`fit_${task}_${cell}${variant}`).outputs.out.training!;
      const report = show(`report_${task}_${cell}${variant}`).outputs.out.report!;
      const flow = (e: number) => fit.history[e]!.flow![0]!;
      const [first, last] = [flow(0), flow(fit.history.length - 1)];
      const horizon = (l: LayerFlow) => `${l.horizon} of ${l.norms.length}`;
      const result =
        task === "add"
          ? `MSE ${(report.metrics.rmse! ** 2).toFixed(4)} (0.1667)`
          : `token accuracy ${(100 * report.metrics.tokenAccuracy!).toFixed(1)}% (12.5%)`;
      const warned = fit.warnings.map(kindOf).join(", ") || "none";
      rows.push(
        `| ${task === "add" ? "adding" : "copy"} | ${length} | ${name} | ${horizon(first)} | ${horizon(last)} | x${last.growth ?? "-"} | ${result} | ${warned} |`,
      );
    }
process.stdout.write(`${rows.join("\n")}\n`);
