// The test files of `npm test` under Node's test runner, each in a process of its own, started in
// the order given (scripts/test.mjs puts the slowest first); `node --test` would sort them by name.
// scripts/test.mjs starts this with --enable-source-maps, which the test processes inherit.
//
//   node --enable-source-maps scripts/test-files.mjs CONCURRENCY [--test-name-pattern=RE ...] FILE...
import { run } from "node:test";
import { spec } from "node:test/reporters";

const [concurrency, ...rest] = process.argv.slice(2);
const testNamePatterns = [];
const files = [];
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i];
  if (arg === "--test-name-pattern") testNamePatterns.push(rest[++i]);
  else if (arg.startsWith("--test-name-pattern=")) testNamePatterns.push(arg.split("=", 2)[1]);
  else if (arg.startsWith("-")) {
    process.stderr.write(`npm test: unknown option ${arg} (it takes --test-name-pattern=RE)\n`);
    process.exit(2);
  } else files.push(arg);
}

let failed = 0;
const stream = run({
  files,
  concurrency: Number(concurrency),
  ...(testNamePatterns.length ? { testNamePatterns } : {}),
});
// As `node --test` counts them: a failing test marked todo does not fail the run.
stream.on("test:fail", (t) => {
  if (t.todo === undefined || t.todo === false) failed++;
});
stream.compose(spec).pipe(process.stdout);
process.on("exit", () => {
  if (failed) process.exitCode = 1;
});
