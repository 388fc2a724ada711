import { Command, CommanderError, Option } from "commander";
import { BACKENDS, KERNELS } from "../runtime/descriptor.js";
import { RNNP_VERSION } from "../core/version.js";
import { DiagnosticError, UserError } from "../core/diagnostic.js";
import { mark } from "../core/timing.js";
import { collect, count, EXIT, Exit } from "./exit.js";
import { type Io, processIo, setVerbosity, stderr, stdout, withIo } from "./io.js";
import { printDiagnostics } from "./print.js";

/**
 * The rnnp command line. Command modules are imported when their command runs, so `rnnp --help`
 * loads neither the parser nor LMDB, and nothing here ever loads TensorFlow.js by itself.
 *
 * `main(argv, io)` runs one command against the given streams, environment and working directory and
 * returns its exit code: the installed `rnnp` (bin/rnnp.js) calls it with this process's, tests with
 * their own, in-process.
 */
/** The moments of this process so far (see src/core/timing.ts): bin/rnnp.js prints them. */
export { marks } from "../core/timing.js";

export async function main(argv: readonly string[], given?: Io): Promise<number> {
  mark("main");
  // Without a given Io this is the process's one command (bin/rnnp.js): its Io is process-wide.
  return withIo(
    given ?? processIo(),
    async () => {
      const exit = { code: EXIT.ok as number };
      try {
        const args = oldSpellings(argv);
        await createProgram(exit, verbOf(args)).parseAsync(args, { from: "user" });
      } catch (e) {
        exit.code = reportFailure(e);
      }
      return exit.code;
    },
    { processWide: given === undefined },
  );
}

/**
 * Spellings older rnnp versions took, rewritten to today's: `--force=STAGES` (when `-f` took an
 * optional value, `rnnp run -f FILE` read FILE as a stage) is `--force-stage STAGES`.
 */
function oldSpellings(argv: readonly string[]): string[] {
  return argv.flatMap((a) => (a.startsWith("--force=") ? ["--force-stage", a.slice(8)] : [a]));
}

/** How a command that threw ends: its message rendered for the user, and the exit code. */
function reportFailure(e: unknown): number {
  const err = stderr();
  if (e instanceof CommanderError) {
    // --help and --version succeed; help shown because no subcommand was given (`rnnp`, `rnnp cache`)
    // is a usage error, so a script that forgot its verb fails.
    return e.code === "commander.helpDisplayed" || e.code === "commander.version"
      ? EXIT.ok
      : e.code === "commander.help"
        ? e.exitCode === 0
          ? EXIT.ok
          : EXIT.invalid
        : EXIT.invalid;
  }
  if (e instanceof Exit) {
    if (e.message) err.write(`${err.c.red("error")}: ${e.message}\n`);
    return e.code;
  }
  if (e instanceof DiagnosticError) {
    printDiagnostics(e.diagnostics);
    return EXIT.failed;
  }
  if (e instanceof UserError) {
    printDiagnostics([e.toDiagnostic()]);
    return EXIT.failed;
  }
  err.write(
    `${err.c.red("internal error")}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n` +
      "this is a bug in rnnp: please report it with the lines above\n",
  );
  return EXIT.failed;
}

const withCache = (c: Command) =>
  c.option(
    "--cache <dir>",
    "cache directory (default: $RNNP_CACHE, else `cache` in rnnp.config.json, else cache/ at the project root)",
  );
const withRemote = (c: Command) =>
  c
    .option(
      "--remote <url>",
      "remote cache: fetch local misses over HTTP (default: $RNNP_REMOTE, or rnnp.config.json)",
    )
    .option(
      "--remote-write",
      "also upload what runs here to the remote cache (or RNNP_REMOTE_MODE=readwrite)",
    );
const withParams = (c: Command) =>
  c
    .option("-P, --param <name=value>", "override a pipeline param (repeatable)", collect)
    .addOption(
      new Option(
        "--backend <name>",
        "numeric backend (default: the pipeline's `backend`, else wasm)",
      ).choices(BACKENDS),
    )
    .addOption(
      new Option(
        "--kernels <which>",
        "recurrent layers on rnnp's fused kernels or TF.js's cells (default: the pipeline's `kernels`, else fused)",
      ).choices(KERNELS),
    );

/** The verbs, as `rnnp <verb>` names them. */
const VERBS = [
  "run",
  "worker",
  "status",
  "why",
  "dag",
  "report",
  "validate",
  "fmt",
  "lsp",
  "show",
  "predict",
  "compare",
  "check",
  "rebuild-stage",
  "cache",
  "help",
  "init",
  "kinds",
] as const;

/**
 * The verb ARGV runs, when only that verb needs declaring: the first word not an option (the
 * global options, the only ones allowed before it, take no value). Undefined (every verb) for
 * `help`, no verb, or a word that is none: usage and suggestions list them all.
 */
function verbOf(argv: readonly string[]): string | undefined {
  const at = argv.findIndex((a) => !a.startsWith("-"));
  // Only -q and -v may come first: `rnnp --help run` shows the overview, `--` ends the options.
  if (at < 0 || argv[at] === "help" || !argv.slice(0, at).every(isVerbosity)) return undefined;
  return (VERBS as readonly string[]).includes(argv[at]!) ? argv[at] : undefined;
}

const isVerbosity = (arg: string) =>
  /^-[qv]+$/.test(arg) || arg === "--quiet" || arg === "--verbose";

/**
 * The program, declaring only `verb` when given: commander builds every option of every verb it
 * is given (about 2 ms of every command, for 17 verbs it will not run).
 */
function createProgram(exit: { code: number }, verb?: string): Command {
  const wants = (name: (typeof VERBS)[number]) => verb === undefined || verb === name;
  const program = new Command("rnnp")
    .description("Declarative, cached, reproducible pipelines for recurrent neural networks.")
    .version(RNNP_VERSION)
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    // Global options, declared once: every verb takes them, before or after its name.
    .addOption(
      new Option(
        "-q, --quiet",
        "print only errors and the final verdict or summary (no progress, logs or per-stage lines); `status -q` also exits 1 when stale",
      ).conflicts("verbose"),
    )
    .addOption(
      new Option(
        "-v, --verbose",
        "also print each stage's key, timing and cache decision; progress lines of long cache tasks when stderr is not a terminal",
      ),
    )
    .configureOutput({
      writeOut: (s) => stdout().write(s),
      writeErr: (s) => stderr().write(s),
      outputError: (s, write) => write(stderr().c.red(s)),
    });

  // Each action gets its options with the global ones merged in (`opts.quiet`), and the command
  // runs at the verbosity they ask for.
  const action =
    <A extends unknown[]>(load: () => Promise<(...args: A) => number | Promise<number>>) =>
    async (...args: A) => {
      const cmd = args[args.length - 1] as Command;
      const opts = cmd.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>();
      setVerbosity(opts.quiet ? "quiet" : opts.verbose ? "verbose" : "normal");
      args[args.length - 2] = opts;
      const command = await load();
      mark("command loaded");
      exit.code = await command(...args);
    };
  if (wants("run")) {
    withRemote(
      withParams(
        withCache(
          program
            .command("run")
            .argument("[file]", "pipeline file (default: the only .rnnp file here)"),
        ),
      ),
    )
      .description("run the stale stages of a pipeline")
      .option(
        "-s, --stage <name>",
        "run only this stage and what it needs (repeatable, or comma-separated)",
        collect,
      )
      .addOption(
        new Option("-f, --force", "execute every stage that runs even if cached").conflicts(
          "forceStage",
        ),
      )
      .option(
        "--force-stage <name>",
        "execute this stage even if cached (repeatable, or comma-separated; `--force=NAME` is the old spelling)",
        collect,
      )
      .addOption(
        new Option("-n, --dry-run", "show what would run, and why, without running").conflicts([
          "frozen",
          "report",
        ]),
      )
      .option(
        "--frozen",
        "CI mode: fail (exit 3) if a stage's key or output bytes differ from the lockfile",
      )
      .option(
        "-j, --jobs <n>",
        "run up to n stages at once, each in its own worker process",
        count,
        1,
      )
      .option(
        "--executor <name>",
        "where stages execute: local, bullmq (a Redis queue of `rnnp worker`s) or slurm (sbatch jobs) (default: $RNNP_EXECUTOR, rnnp.config.json, else local)",
      )
      .option("--queue <url>", "bullmq: the Redis queue, redis://HOST:PORT (default: $RNNP_QUEUE)")
      .option("--queue-name <name>", "bullmq: the queue's name (default: rnnp)")
      .option("--partition <name>", "slurm: the partition to submit to")
      .addOption(new Option("--job <json>", "run one job made by a coordinator").hideHelp())
      .option("--no-lock", "do not write <pipeline>.lock")
      .option(
        "--checkpoints <policy>",
        "which checkpoints training keeps in the cache: N (every Nth epoch and the last completed; default 5), N,nolast, or off",
      )
      .addOption(
        new Option(
          "--report <file>",
          "then write the run's HTML report (as `rnnp report`) to this file",
        ).conflicts("json"),
      )
      .option("--json", "print a JSON report on stdout")
      .action(action(async () => (await import("./commands/run.js")).runCommand));
  }

  if (wants("worker")) {
    withRemote(withCache(program.command("worker")))
      .description(
        "take stage jobs from a BullMQ queue in Redis (`run --executor bullmq`), sharing the remote cache",
      )
      .option("--queue <url>", "the Redis queue, redis://HOST:PORT (default: $RNNP_QUEUE)")
      .option("--queue-name <name>", "the queue's name (default: rnnp)")
      .option("--concurrency <n>", "jobs at once, each in its own process", count, 1)
      .option(
        "--lease <seconds>",
        "how long a worker that stops answering keeps its job before another takes it",
        count,
        30,
      )
      .action(action(async () => (await import("./commands/worker.js")).workerCommand));
  }

  if (wants("status")) {
    withRemote(withParams(withCache(program.command("status").argument("[file]", "pipeline file"))))
      .description(
        "show which stages are fresh and why the others are stale, without running anything",
      )
      .option("--json", "print JSON")
      .option("--exit-code", "exit 1 when any stage is stale (for scripts; -q implies it)")
      .action(action(async () => (await import("./commands/status.js")).statusCommand));
  }

  if (wants("why")) {
    withParams(
      withCache(
        program
          .command("why")
          .argument("[stage]", "stage name (or -s)")
          .argument("[file]", "pipeline file"),
      ),
    )
      .description("explain what changed since a stage last ran")
      .option("-s, --stage <name>", "the stage to explain (or give it before the file)")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/why.js")).whyCommand));
  }

  if (wants("dag")) {
    withParams(withCache(program.command("dag").argument("[file]", "pipeline file")))
      .description("print the stage graph with each stage's status")
      .addOption(
        new Option("--format <format>", "output format")
          .choices(["text", "dot", "mermaid", "svg"])
          .default("text")
          .conflicts("json"),
      )
      .option("--json", "print JSON: stages (kind, status, upstream) and edges")
      .action(action(async () => (await import("./commands/dag.js")).dagCommand));
  }

  if (wants("report")) {
    withRemote(withParams(withCache(program.command("report").argument("[file]", "pipeline file"))))
      .description(
        "write one self-contained HTML report (DAG, training curves, evaluations against baselines, sweeps, data) that opens offline",
      )
      .option("-o, --output <file>", "the HTML file to write", "report.html")
      .option("--open", "open it in the default browser")
      .option("--no-samples", "leave out forecasts and decoded samples (they re-run the models)")
      .action(action(async () => (await import("./commands/report.js")).reportCommand));
  }

  if (wants("validate")) {
    withParams(program.command("validate").argument("<files...>", "pipeline files"))
      .description(
        "check pipelines (syntax, kinds, parameters, references, cycles) without running them; exit 2 on errors",
      )
      .option("--json", "print JSON: each file's validity and diagnostics (-q: nothing when valid)")
      .action(action(async () => (await import("./commands/validate.js")).validateCommand));
  }

  if (wants("fmt")) {
    program
      .command("fmt")
      .argument("<files...>", "pipeline files")
      .description("print pipelines in canonical format (comments kept)")
      .addOption(new Option("-w, --write", "rewrite the files in place").conflicts("check"))
      .option("--check", "list files that are not formatted; exit 1 if any")
      .option(
        "--json",
        "print JSON: each file, whether it is formatted (and its text without --write or --check)",
      )
      .action(action(async () => (await import("./commands/fmt.js")).fmtCommand));
  }

  if (wants("lsp")) {
    program
      .command("lsp")
      .description("language server for editors (Language Server Protocol on stdin and stdout)")
      .option("--stdio", "talk on stdin and stdout (the default; editors pass it)")
      .option("--cache <dir>", "the cache hover reads stage status from (never written)")
      .action(action(async () => (await import("./commands/lsp.js")).lspCommand));
  }

  if (wants("show")) {
    withParams(
      withCache(
        program
          .command("show")
          .argument("[stage]", "stage name, or STAGE.OUTPUT (or -s)")
          .argument("[file]", "pipeline file"),
      ),
    )
      .description(
        "show a built stage's outputs, or their data as CSV, JSON Lines or JSON (STAGE.OUTPUT for one of several)",
      )
      .option("-s, --stage <name>", "the stage to show (or give it before the file)")
      .option("--rows <n>", "table rows to print", count, 10)
      .option("--json", "print JSON: output references, reports whole, a trained model's history")
      .addOption(
        new Option(
          "--format <format>",
          "text: a preview; csv, jsonl, json: the data whole (table rows, sequences decoded, training history, report metrics beside their baselines), full precision, streamed",
        )
          .choices(["text", "csv", "jsonl", "json"])
          .default("text")
          .conflicts("json"),
      )
      .action(action(async () => (await import("./commands/show.js")).showCommand));
  }

  if (wants("predict")) {
    withParams(withCache(program.command("predict").argument("[file]", "pipeline file")))
      .description(
        "run a built model on new input: text (--input, or --file with one text per line), or a CSV of rows for window models",
      )
      .requiredOption("-s, --stage <name>", "the train stage whose model to use")
      .addOption(
        new Option("-i, --input <text>", "text to classify (repeatable)")
          .argParser(collect)
          .conflicts("file"),
      )
      .option("--file <path>", "a file of inputs")
      .option("--top <n>", "classes to show per input", count, 3)
      .option("--beam <n>", "encoder-decoders: beam width (default 1: greedy)", count)
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/predict.js")).predictCommand));
  }

  if (wants("compare")) {
    withParams(withCache(program.command("compare").argument("[file]", "pipeline file")))
      .description(
        "compare the variants of a sweep and the runs made with -P by their evaluation metrics, from the cache (like dvc exp show); or diff metrics and params against the lockfile",
      )
      .option("--sort <metric>", "sort by a metric or swept param (descending)")
      .option("--asc", "sort ascending")
      .option(
        "--select <metric>",
        "choose the variant by this validation metric (default val_loss)",
      )
      .addOption(new Option("--json", "print JSON").conflicts("csv"))
      .option("--csv", "print CSV")
      .addOption(
        new Option(
          "--against <ref>",
          "diff each evaluate stage's metrics and every stage's params with the committed lockfile (like dvc metrics diff / params diff); exit 0, 2 without a lockfile",
        )
          .choices(["lock"])
          .conflicts(["csv", "sort", "select"]),
      )
      .option("--exit-code", "with --against: exit 1 when a metric or param differs")
      .action(action(async () => (await import("./commands/compare.js")).compareCommand));
  }

  if (wants("check")) {
    withParams(withCache(program.command("check").argument("[file]", "pipeline file")))
      .description(
        "determinism check: rebuild stages in fresh processes and compare their bytes with the cache and the lockfile (exit 104 if any differ)",
      )
      .option(
        "-s, --stage <name>",
        "check only these stages (repeatable, or comma-separated; default: all)",
        collect,
      )
      .option("--runs <n>", "fresh processes per stage", count, 1)
      .option("--threads <counts>", "thread counts to try, e.g. 1,2 (backends with thread pools)")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/check.js")).checkCommand));
  }

  if (wants("rebuild-stage")) {
    withParams(withCache(program.command("rebuild-stage", { hidden: true }).argument("<file>")))
      .requiredOption("--stage <name>")
      .requiredOption("--out <dir>")
      .action(
        action(async () => (await import("./commands/rebuild-stage.js")).rebuildStageCommand),
      );
  }

  if (wants("cache")) {
    const cache = program.command("cache").description("inspect and maintain the stage cache");
    withCache(cache.command("ls"))
      .description("list cached stage records")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheLs));
    withCache(cache.command("show").argument("<key>", "a record key or a unique prefix of one"))
      .description("show one record: outputs, provenance and the manifest its key hashes")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheShow));
    withCache(cache.command("path"))
      .description("print the cache directory")
      .option("--json", "print JSON: the directory and whether a cache is there yet")
      .action(action(async () => (await import("./commands/cache.js")).cachePath));
    withCache(cache.command("verify"))
      .description(
        "check every blob against its digest and every record against its key; drop damaged ones, the records naming them and unnamed blobs (exit 1 if any)",
      )
      .option("--deep", "also decode every artifact and compare it with its record")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheVerify));
    withCache(cache.command("repair"))
      .description(
        "copy what LMDB can still read of a damaged cache into a new environment, verified, in its place",
      )
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheRepair));
    withParams(
      withCache(
        cache
          .command("export")
          .argument(
            "[files...]",
            "pipelines (or lockfiles) whose stages to export; all records when none",
          ),
      ),
    )
      .description(
        "write records and blobs to a bundle (a tar archive) for another machine; signed when RNNP_CACHE_KEY is set",
      )
      .requiredOption("-o, --output <bundle>", "the bundle to write")
      .option("-z, --gzip", "compress the bundle")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheExport));
    withRemote(
      withParams(
        withCache(
          cache
            .command("push")
            .argument("[files...]", "pipelines (or lockfiles) whose stages to upload"),
        ),
      ),
    )
      .description("upload to the remote cache what pipelines (or lockfiles) use from this cache")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/remote.js")).cachePush));
    withRemote(
      withParams(
        withCache(
          cache
            .command("pull")
            .argument("[files...]", "pipelines (or lockfiles) whose stages to fetch"),
        ),
      ),
    )
      .description("fetch from the remote cache what pipelines (or lockfiles) use, verified")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/remote.js")).cachePull));
    withCache(cache.command("import").argument("<bundle>", "a bundle made by `rnnp cache export`"))
      .description("verify a bundle completely, then add its records and blobs in one transaction")
      .option("--max-entry-size <size>", "refuse entries larger than this (default and most: 2GB)")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheImport));
    withParams(
      withCache(
        cache.command("gc").argument("[files...]", "pipelines (or lockfiles) whose stages to keep"),
      ),
    )
      .description(
        "remove records the given pipelines do not use (or, with caps, those beyond them) and unreferenced blobs",
      )
      .option("--max-age <duration>", "with caps: remove unkept records older than this (e.g. 30d)")
      .option(
        "--max-size <size>",
        "with caps: remove unkept records, oldest first, until the cache is at most this (e.g. 2GB)",
      )
      .option("-n, --dry-run", "report without removing")
      .option("--json", "print JSON")
      .action(action(async () => (await import("./commands/cache.js")).cacheGc));
  }

  if (wants("help")) {
    program
      .command("help")
      .argument("[topic]", "a command, stage kind, layer, optimizer or schedule")
      .description(
        "show a command's usage, or the reference of a stage kind, layer, optimizer or schedule",
      )
      .action(async (topic?: string) => {
        exit.code = (await import("./commands/help.js")).helpCommand(program)(topic);
      });
  }

  if (wants("init")) {
    program
      .command("init")
      .description(
        "make this folder an rnnp project: rnnp.config.json, a starter pipeline for a CSV of yours, cache/ in .gitignore",
      )
      .option("--data <csv>", "your CSV: the starter pipeline reads its columns and classes")
      .option("--text <column>", "the column holding the text (default: the longest text column)")
      .option(
        "--label <column>",
        "the column holding the label (default: label/class/target, else the last)",
      )
      .option("--name <name>", "the pipeline's name and file (default: pipeline)")
      .option("--force", "overwrite rnnp.config.json and the pipeline if they exist")
      .action(action(async () => (await import("./commands/init.js")).initCommand));
  }

  if (wants("kinds")) {
    program
      .command("kinds")
      .description(
        "list the stage kinds, layers, optimizers and schedules (`rnnp help NAME` for one)",
      )
      .option("--json", "print JSON: every parameter's type, default and doc")
      .action(action(async () => (await import("./commands/kinds.js")).kindsCommand));
  }

  return program;
}
