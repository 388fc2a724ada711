// `npm test` after the build: the type check (tsc over sources, tests and bench), the formatter and
// linter (Biome), and every spec of grammar/ and test file under test/ (not the stress suite: `npm
// run stress`), each test file in a process of its own under Node's test runner.
//
// All of it runs at once, test files side by side, one more than the machine has cores. Node's
// default is one less (the runner's own process): on 2 cores it ran the suite one file at a time,
// while most files spend much of their time waiting on child processes they spawn (the CLI,
// workers, Redis, nginx, Slurm, Python), on the disk or on timers; the type check and the linter
// fill what the tests leave idle. Their output is printed when they finish; any failure fails the
// whole. Arguments go to node's test runner (e.g. `npm test -- --test-name-pattern=lease`).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

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

/** A child whose output is kept and printed, under a heading, once it has finished. */
function quietly(title, command, args) {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => {
      if (code !== 0 || output.trim()) process.stdout.write(`\n── ${title} ──\n${output}`);
      done({ title, code: code ?? 1 });
    });
  });
}

/** Node's test runner, printing as it goes. */
function tests() {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--test",
        `--test-concurrency=${availableParallelism() + 1}`,
        "--test-reporter=spec",
        ...process.argv.slice(2),
        ...files,
      ],
      { cwd: root, stdio: "inherit" },
    );
    child.on("close", (code) => done({ title: "tests", code: code ?? 1 }));
  });
}

const results = await Promise.all([
  quietly("typecheck (tsc -p tsconfig.test.json)", bin("tsc"), [
    "-p",
    "tsconfig.test.json",
    "--noEmit",
  ]),
  quietly("format and lint (biome check .)", bin("biome"), ["check", "."]),
  tests(),
]);
const failed = results.filter((r) => r.code !== 0);
for (const r of failed) process.stderr.write(`npm test: ${r.title} failed (exit ${r.code})\n`);
process.exit(failed.length ? 1 : 0);
