// `npm test` after the build: the type check (tsc over sources, tests and bench), the formatter and
// linter (Biome), and every spec of grammar/ and test file under test/ (not the stress suite: `npm
// run stress`) under Node's test runner: the slowest files each in a process of their own, the
// light ones a dozen to a process (see `entries`).
//
// All of it runs at once, test files side by side, one more than the machine has cores. Node's
// default is one less (the runner's own process): on 2 cores it ran the suite one file at a time,
// while most files spend much of their time waiting on child processes they spawn (the CLI,
// workers, Redis, nginx, Slurm, Python), on the disk or on timers; the type check and the linter
// fill what the tests leave idle. Their output is printed when they finish; any failure fails the
// whole. `npm test -- --test-name-pattern=lease` runs the tests whose names match (all files).
//
// The tests run on JavaScript transpiled ahead of time (see `transpile`), not under tsx: tsx's
// loader cost each test process about half a second of CPU, paid by every one of the hundred test
// files and by every TypeScript script they start as a process. The slowest files start first, so
// that the run does not end on one long file alone on one core.
import { spawn } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { stop, transform } from "esbuild";

const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
/** Where the transpiled tree goes (test/helpers.ts knows it too: COMPILED). */
const compiled = join(root, "node_modules", ".cache", "rnnp-tests");

/**
 * The files that take longest, started first (most of them CPU-bound; Slurm's and BullMQ's wait on
 * their daemons too). An order only: the files not named here follow, in name order.
 */
const SLOWEST = [
  "test/cli/pipelines.test.ts",
  "test/cli/bullmq.test.ts",
  "test/cli/onnx.test.ts",
  "test/cli/slurm.test.ts",
  "test/bench/scale.test.ts",
  "test/cli/resume.test.ts",
  "test/cache/faults.test.ts",
  "test/cli/check.test.ts",
  "test/lang/hostile.test.ts",
  "test/numerics/native.test.ts",
  "test/report/report.test.ts",
  "test/cli/sweep.test.ts",
  "test/cli/rnn.test.ts",
  "test/cli/output.test.ts",
  "test/numerics/train-native.test.ts",
  "test/cache/concurrency.test.ts",
  "test/numerics/onnx.test.ts",
  "test/cli/health.test.ts",
];

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
].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));

function rank(file) {
  const i = SLOWEST.indexOf(file);
  return i < 0 ? SLOWEST.length : i;
}

/**
 * src/, grammar/, test/ and bench/ as JavaScript, one module per file, beside each other as in the
 * repository, so that relative imports resolve among them. The modules of src/ are where they are,
 * as under dist/ (with the files beside them, such as onnx.proto): they start their own workers
 * (cache verify's and repair's) transpiled, as the installed command does. Those of test/, bench/
 * and grammar/ keep where their source is: `import.meta.url`, `dirname` and `filename` name the .ts
 * file, as under tsx, so the fixtures, example pipelines, scripts and sources they read are found
 * where they are. Source maps (with `--enable-source-maps`) make stack traces and failing tests'
 * locations name the .ts lines.
 */
async function transpile() {
  rmSync(compiled, { recursive: true, force: true });
  const sources = ["src", "grammar", "test", "bench"].flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true })
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
      .map((f) => join(dir, f)),
  );
  const tsconfigRaw = readFileSync(join(root, "tsconfig.json"), "utf8");
  await Promise.all(
    sources.map(async (file) => {
      const source = join(root, file);
      const js = join(compiled, file.replace(/\.ts$/, ".js"));
      const out = await transform(readFileSync(source, "utf8"), {
        loader: "ts",
        format: "esm",
        platform: "node",
        target: "node20",
        sourcemap: "external",
        sourcefile: relative(dirname(js), source),
        sourcesContent: false,
        tsconfigRaw,
        define: file.startsWith(`src${sep}`)
          ? {}
          : {
              "import.meta.url": JSON.stringify(pathToFileURL(source).href),
              "import.meta.dirname": JSON.stringify(dirname(source)),
              "import.meta.filename": JSON.stringify(source),
            },
      });
      mkdirSync(dirname(js), { recursive: true });
      const name = js.slice(dirname(js).length + 1);
      writeFileSync(js, `${out.code}//# sourceMappingURL=${name}.map\n`);
      writeFileSync(`${js}.map`, out.map);
    }),
  );
  cpSync(join(root, "src"), join(compiled, "src"), {
    recursive: true,
    filter: (f) => statSync(f).isDirectory() || !f.endsWith(".ts"),
  });
  // scripts/ is JavaScript already (a test imports the build's bundle.mjs): a link to the folder
  // itself, which Node resolves to the real files, so their import.meta names where they are.
  symlinkSync(join(root, "scripts"), join(compiled, "scripts"), "dir");
  await stop();
}

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

/**
 * Files that keep a process of their own besides the slowest: rig.test sets the environment for a
 * while, startup.test looks at what a fresh process loads, and test/numerics trains on several
 * runtimes (see CPU_BACKEND).
 */
const OWN_PROCESS = new Set(["test/cli/rig.test.ts", "test/cli/startup.test.ts"]);
const ownProcess = (file) =>
  SLOWEST.includes(file) || OWN_PROCESS.has(file) || file.startsWith("test/numerics/");

/**
 * TF.js runs one runtime (backend and kernels) per process (rnnp refuses to switch: "cannot switch
 * ... in one process"), so files whose pipelines train on the cpu backend in-process share
 * processes only with each other; the others train on the default. A file that trains in-process
 * on any other runtime (other kernels: all of test/numerics does) needs a process of its own.
 * A file is of the cpu backend's when its source names it ("cpu": a pipeline's `backend "cpu"`, a
 * `--backend cpu`, a runtime described), uses a fixture that does, or runs kinds through
 * test/stages/helpers.ts (whose context is on cpu); one that names it without training on it
 * in-process passes beside those that do.
 */
const CPU_BACKEND = /"cpu"|sweep-project|all-kinds|from "\.\/helpers\.js"/;

/**
 * Files per shared process, at most: fewer processes save more CPU, but a long one left last runs
 * alone on a core.
 */
const GROUP_SIZE = 12;

/** `list` dealt into as few groups of at most GROUP_SIZE as hold it. */
function dealt(list) {
  const n = Math.ceil(list.length / GROUP_SIZE);
  return Array.from({ length: n }, (_, g) => list.filter((_, i) => i % n === g));
}

/**
 * The files to start, as transpiled: the slowest and those of OWN_PROCESS alone, the others
 * imported a few at a time by one module each (`group-N.test.js`, in `compiled`). Most test files
 * spend more CPU loading rnnp's modules (about 200 of them, then lmdb, Chevrotain) than running
 * their tests: 0.5-1 s of CPU per process, 70 s of the suite's. Their tests still run one at a
 * time, as in a file of their own (the root test runs its subtests in turn); what they share is
 * what modules hold between calls. A failure names its test and, in its stack, its .ts line.
 */
function entries() {
  const js = (f) => join(compiled, f.replace(/\.ts$/, ".js"));
  const alone = files.filter(ownProcess);
  const shared = files.filter((f) => !ownProcess(f));
  const onCpu = (f) => CPU_BACKEND.test(readFileSync(join(root, f), "utf8"));
  const groups = [...dealt(shared.filter(onCpu)), ...dealt(shared.filter((f) => !onCpu(f)))];
  const made = groups.map((group, i) => {
    const entry = join(compiled, `group-${i + 1}.test.js`);
    const imports = group.map((f) => `import ${JSON.stringify(pathToFileURL(js(f)).href)};\n`);
    writeFileSync(entry, imports.join(""));
    return entry;
  });
  return [...alone.map(js), ...made];
}

/** Node's test runner, printing as it goes (scripts/test-files.mjs: in this order). */
function tests() {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [
        "--enable-source-maps",
        join(root, "scripts", "test-files.mjs"),
        String(availableParallelism() + 1),
        ...process.argv.slice(2),
        ...entries(),
      ],
      { cwd: root, stdio: "inherit", env: testEnv() },
    );
    child.on("close", (code) => done({ title: "tests", code: code ?? 1 }));
  });
}

/**
 * The runner's environment, which every test process and every process a test starts inherits,
 * without NODE_EXTRA_CA_CERTS: no test speaks TLS, and where it is set (as on machines behind a
 * proxy) each Node process parses the certificate bundle at start-up, 40-50 ms of CPU, for each of
 * the suite's hundreds of processes. test/helpers.ts `cleanEnv` drops it too, for a file run alone.
 */
function testEnv() {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

await transpile();
const results = await Promise.all([
  // Incremental: tsc keeps what it learnt of unchanged files (under node_modules/.cache), so a
  // second `npm test` checks only what changed since the first (about 5 s of CPU instead of 19).
  quietly("typecheck (tsc -p tsconfig.test.json)", bin("tsc"), [
    "-p",
    "tsconfig.test.json",
    "--noEmit",
    "--incremental",
    "--tsBuildInfoFile",
    join(root, "node_modules", ".cache", "rnnp-tsc", "test.tsbuildinfo"),
  ]),
  quietly("format and lint (biome check .)", bin("biome"), ["check", "."]),
  tests(),
]);
const failed = results.filter((r) => r.code !== 0);
for (const r of failed) process.stderr.write(`npm test: ${r.title} failed (exit ${r.code})\n`);
process.exit(failed.length ? 1 : 0);
