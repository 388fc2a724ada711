import { cpus } from "node:os";
import { engineBench } from "./engine.js";
import { sharingBench } from "./sharing.js";
import { trainingBench } from "./training.js";
import { printTable, type Row } from "./measure.js";

/**
 * `npm run bench`: every figure beside a baseline measured in the same run on the same machine, so
 * ratios stay meaningful across machines. Not part of `npm test`.
 */
const rows: Row[] = [];
process.stdout.write(
  `rnnp benchmarks on ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}\n\n`,
);
rows.push(...engineBench());
rows.push(...(await sharingBench()));
if (!process.argv.includes("--no-train")) rows.push(...trainingBench());
printTable(rows);
