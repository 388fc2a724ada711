import { cpus } from "node:os";
import { engineBench } from "./engine.js";
import { flowBench } from "./flow.js";
import { executorsBench } from "./executors.js";
import { languageBench } from "./language.js";
import { sharingBench } from "./sharing.js";
import { trainingBench } from "./training.js";
import { printTable, type Row } from "./measure.js";
import { resumeBench } from "./resume.js";
import { startupBench } from "./startup.js";
import type { Suite } from "./scale.js";

/**
 * `npm run bench`: every figure beside a baseline measured in the same run on the same machine, so
 * ratios stay meaningful across machines. Not part of `npm test`.
 */
const rows: Row[] = [];
process.stdout.write(
  `rnnp benchmarks on ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}\n\n`,
);
const args = process.argv.slice(2);
// --train: the training suites only; --flow: the gradient-flow suite only; --rounds N: their
// alternating rounds (default 5).
const at = args.indexOf("--rounds");
const rounds = at >= 0 ? Number(args[at + 1]) : 5;
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error("--rounds: a whole number, at least 1");
// --cells lstm,gru: the training suite's cells (default both).
const cellsAt = args.indexOf("--cells");
const cells = cellsAt >= 0 ? (args[cellsAt + 1] ?? "").split(",") : ["lstm", "gru"];
if (cells.some((c) => c !== "lstm" && c !== "gru"))
  throw new Error("--cells: a comma-separated list of lstm and gru");
// --scale: how cost grows (bench/scale.ts); --full adds the big sizes; --out DIR for the curves.
if (args.includes("--scale")) {
  const { DEFAULT_SCALE, FULL_SCALE, SUITES, scaleBench, scaleTable } = await import("./scale.js");
  const out = args.indexOf("--out");
  // --stages, --rows, --records: comma-separated sizes instead of the defaults.
  const sizes = (flag: string) => {
    const i = args.indexOf(flag);
    if (i < 0) return {};
    const xs = (args[i + 1] ?? "").split(",").map(Number);
    if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 2))
      throw new Error(`${flag}: comma-separated whole numbers, at least 2`);
    return { [flag.slice(2)]: xs };
  };
  // --suite pipelines|data|cache (repeatable): only those parts.
  const suites = args.flatMap((a, i) => (args[i - 1] === "--suite" ? [a as Suite] : []));
  if (suites.some((x) => !SUITES.includes(x)))
    throw new Error(`--suite: one of ${SUITES.join(", ")}`);
  const results = await scaleBench({
    ...(args.includes("--full") ? FULL_SCALE : DEFAULT_SCALE),
    ...(suites.length ? { suites } : {}),
    ...sizes("--stages"),
    ...sizes("--rows"),
    ...sizes("--records"),
    ...(at >= 0 ? { rounds } : {}),
    out: out >= 0 ? args[out + 1]! : new URL("./scale", import.meta.url).pathname,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(scaleTable(results));
  process.exit(0);
}
// --executors: the executor suite only (it starts redis-server, nginx and a single-node Slurm).
if (args.includes("--executors")) {
  rows.push(...(await executorsBench(rounds === 5 ? 2 : rounds)));
  printTable(rows);
  process.exit(0);
}
// --startup: the start-up suite only (rnnp against Turborepo, fully cached); --before DIR adds
// another built checkout's `rnnp run` (e.g. main's worktree) to the alternation.
if (args.includes("--startup")) {
  const before = args.indexOf("--before");
  rows.push(...startupBench(15, before >= 0 ? args[before + 1] : undefined));
  printTable(rows);
  process.exit(0);
}
const only = args.includes("--flow");
if (!args.includes("--train") && !only) {
  rows.push(...startupBench());
  rows.push(...engineBench());
  rows.push(...languageBench());
  rows.push(...(await sharingBench()));
  rows.push(...(await executorsBench()));
}
if (!args.includes("--no-train")) {
  if (!only) rows.push(...trainingBench(rounds, cells));
  if (!only) rows.push(...resumeBench(Math.min(rounds, 3)));
  rows.push(...flowBench(rounds));
}
printTable(rows);
