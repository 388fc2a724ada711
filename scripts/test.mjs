// `npm test`'s last step: every spec of grammar/ and every test file under test/ (not the stress
// suite: `npm run stress`), each file in a process of its own under Node's test runner.
//
// Files run side by side, as many as the machine has cores. Node's default is one less (the
// runner's own process), which on a 2-core machine runs the suite one file at a time, while most
// files spend much of their time waiting: on child processes they spawn (the CLI, workers, Redis,
// nginx, Slurm, Python), on the disk, on timers. Arguments are passed on to node (e.g. `npm test --
// --test-name-pattern=lease`).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const files = [
  ...readdirSync(join(root, "grammar"))
    .filter((f) => f.endsWith(".spec.ts"))
    .map((f) => `grammar/${f}`),
  ...readdirSync(join(root, "test"), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== "stress")
    .flatMap((d) =>
      readdirSync(join(root, "test", d.name))
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => `test/${d.name}/${f}`),
    ),
].sort();

const r = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${Math.max(2, availableParallelism())}`,
    "--test-reporter=spec",
    ...process.argv.slice(2),
    ...files,
  ],
  { cwd: root, stdio: "inherit" },
);
process.exit(r.status ?? 1);
