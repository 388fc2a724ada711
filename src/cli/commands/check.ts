import { sinceStart } from "../../core/clock.js";
import { rnnpChild } from "../child.js";
import { fromCwd, stderr, stdout, verbosity } from "../io.js";
import { Live } from "../progress.js";
import { formatDuration } from "../print.js";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../../core/codec.js";
import { short, type Digest } from "../../core/digest.js";
import { lockPathOf, readLockfile } from "../../plan/lockfile.js";
import { firstDifference, type Difference } from "../../run/diff.js";
import { computeArgs, EXIT, Exit, openPlan, printJson, type CommonOptions } from "../context.js";
import { checkNames, splitList } from "../stages.js";

/**
 * `rnnp check`: the determinism check, as `nix build --rebuild`. Each chosen stage is executed again
 * in fresh processes (its inputs from the cache, its own cached result ignored), and the bytes are
 * compared with the cached ones and the lockfile's. Differences are located down to the field and
 * element. The result is remembered in the cache (`rnnp cache ls` shows it). Exit 104 when a stage
 * is not deterministic.
 */
export interface CheckOptions extends CommonOptions {
  stage?: string[];
  runs?: number;
  threads?: string;
  json?: boolean;
}

interface OutputCheck {
  output: string;
  /** What the rebuilt bytes were compared with: the cached record, and the lockfile when it has this key. */
  against: "cache" | "lockfile";
  expected: Digest;
  got: Digest;
  run: number;
  threads?: number;
  difference?: Difference;
}

export async function checkCommand(file: string | undefined, opts: CheckOptions): Promise<number> {
  const planner = await openPlan(file, opts, { create: true });
  const names = opts.stage?.length
    ? checkNames(planner, opts.stage.flatMap(splitList), "--stage")
    : planner.order.map((s) => s.name);
  const runs = opts.runs ?? 1;
  const threads = opts.threads ? opts.threads.split(",").map(Number) : [undefined];
  if (threads.some((t) => t !== undefined && (!Number.isInteger(t) || t < 1)))
    throw new Exit(EXIT.invalid, `--threads ${opts.threads}: expected counts such as 1,2`);
  const rt = planner.runtime;
  // Thread pools: rnnp's fused kernels (RNNP_THREADS) and native TensorFlow's; TF.js's wasm and cpu backends have none in Node.js.
  const threaded =
    rt && !(rt instanceof Error) && (rt.kernels !== undefined || rt.backend === "tensorflow");
  if (opts.threads && !threaded && !opts.json && verbosity() !== "quiet") {
    stderr().write(
      stderr().c.dim(
        `note: the ${rt && !(rt instanceof Error) ? rt.backend : "configured"} backend runs single-threaded in Node.js and the fused kernels are off; --threads has nothing to vary\n`,
      ),
    );
  }
  const lock = readLockfile(lockPathOf(fromCwd(planner.ir.file)));
  for (const s of planner.closure(names)) planner.resolve(s.name);

  const work = mkdtempSync(join(tmpdir(), "rnnp-check-"));
  // The rebuilds' own lines (training's epochs, warnings), live and prefixed by their stage; on a
  // terminal a footer says which stage is being rebuilt and for how long.
  const live = new Live({ concurrent: true });
  const report: {
    stage: string;
    key: string;
    identical: boolean;
    /** The stage's rebuilds, in integer milliseconds (the one duration field of every --json). */
    durationMs: number;
    checks: OutputCheck[];
  }[] = [];
  try {
    for (const name of planner.order.map((s) => s.name).filter((n) => names.includes(n))) {
      const res = planner.resolve(name);
      if (res.state !== "keyed" || !res.record)
        throw new Exit(
          EXIT.failed,
          `\`${name}\` is not built: run \`rnnp run ${planner.ir.file}\` before checking it`,
        );
      const expected = Object.fromEntries(
        Object.entries(res.record.outputs).map(([o, r]) => [o, r.digest]),
      );
      const entry = lock && Object.hasOwn(lock.stages, name) ? lock.stages[name] : undefined;
      const locked = entry?.key === res.key ? entry.outputs : undefined;
      const checks: OutputCheck[] = [];
      const started = sinceStart();
      live.start(name);
      for (let run = 1; run <= runs; run++) {
        for (const t of threaded ? threads : [undefined]) {
          const out = join(work, `${name}-${run}-${t ?? 0}`);
          mkdirSync(out);
          const got = await rebuildInFreshProcess(
            planner.ir.file,
            name,
            out,
            opts,
            t,
            live.mode === "off" ? undefined : (line) => live.log(name, line),
          );
          for (const [o, digest] of Object.entries(got)) {
            const references = [
              ["cache", expected[o]],
              ...(locked && locked[o] !== expected[o] ? [["lockfile", locked[o]]] : []),
            ] as ["cache" | "lockfile", Digest][];
            for (const [against, want] of references) {
              const c: OutputCheck = {
                output: o,
                against,
                expected: want,
                got: digest,
                run,
                ...(t ? { threads: t } : {}),
              };
              if (digest !== want) {
                const reference = planner.store.getBlob(want);
                const rebuilt = readFileSync(join(out, `${o}.bin`));
                c.difference = reference
                  ? (firstDifference(decode(reference), decode(rebuilt)) ?? {
                      path: "$",
                      detail: "same value, other bytes",
                    })
                  : {
                      path: "$",
                      detail: `the ${against}'s blob ${short(want)} is not in this cache`,
                    };
              }
              checks.push(c);
            }
          }
        }
      }
      live.end(name);
      const identical = checks.every((c) => !c.difference);
      planner.store.recordCheck(res.key, {
        checkedAt: new Date().toISOString(),
        runs: runs * (threaded ? threads.length : 1),
        identical,
        differing: [...new Set(checks.filter((c) => c.difference).map((c) => c.output))],
      });
      const durationMs = Math.round(sinceStart() - started);
      report.push({ stage: name, key: res.key, identical, durationMs, checks });
      if (!opts.json && (!identical || verbosity() !== "quiet"))
        printStage(
          name.padEnd(Math.max(...names.map((n) => n.length))),
          identical,
          checks,
          locked !== undefined,
          verbosity() === "verbose" ? ` ${short(res.key)}, ${formatDuration(durationMs)}` : "",
        );
    }
  } finally {
    live.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const bad = report.filter((r) => !r.identical);
  if (opts.json)
    printJson({ pipeline: planner.ir.name, deterministic: bad.length === 0, stages: report });
  else
    stdout().write(
      bad.length
        ? stdout().c.red(`${bad.length} of ${report.length} stages are not deterministic\n`)
        : stdout().c.green(`all ${report.length} stages rebuilt bit-identical\n`),
    );
  return bad.length ? EXIT.nondeterministic : EXIT.ok;
}

function printStage(
  name: string,
  identical: boolean,
  checks: OutputCheck[],
  againstLock: boolean,
  /** --verbose: the key and how long the rebuilds took. */
  detail: string,
): void {
  const runs = new Set(checks.map((c) => `${c.run}:${c.threads ?? 0}`)).size;
  if (identical) {
    stdout().write(
      `${stdout().c.green("✔")} ${name}  bit-identical (${runs} fresh process${runs === 1 ? "" : "es"}, against the cache${againstLock ? " and the lockfile" : ""}${detail})\n`,
    );
    return;
  }
  stdout().write(`${stdout().c.red("✖")} ${name}  not deterministic\n`);
  for (const c of checks.filter((x) => x.difference)) {
    const d = c.difference!;
    const stats =
      d.differing !== undefined
        ? `; ${d.differing} elements differ, max |difference| ${d.maxAbsDiff}`
        : "";
    stdout().write(
      `    ${name.trimEnd()}.${c.output} (run ${c.run}${c.threads ? `, ${c.threads} threads` : ""}): ${short(c.got)} instead of the ${c.against}'s ${short(c.expected)}; first difference at ${d.path}: ${d.detail}${stats}\n`,
    );
  }
}

/** Runs the hidden `rebuild-stage` command in a new Node.js process; returns output name -> digest. */
async function rebuildInFreshProcess(
  file: string,
  stage: string,
  out: string,
  opts: CommonOptions,
  threads: number | undefined,
  /** Each line the rebuild writes to stderr, as it comes; undefined: shown only if it fails. */
  onLine: ((line: string) => void) | undefined,
): Promise<Record<string, Digest>> {
  const args = [
    "rebuild-stage",
    file,
    "--stage",
    stage,
    "--out",
    out,
    ...(opts.cache ? ["--cache", opts.cache] : []),
    ...computeArgs(opts),
  ];
  const child = await rnnpChild(
    args,
    threads
      ? {
          RNNP_THREADS: String(threads),
          TF_NUM_INTRAOP_THREADS: String(threads),
          TF_NUM_INTEROP_THREADS: String(threads),
        }
      : {},
    onLine &&
      ((line) => {
        if (line.trim()) onLine(line);
      }),
  );
  if (child.code !== 0)
    throw new Exit(
      EXIT.failed,
      `rebuilding \`${stage}\` failed${onLine ? " (its output is above)" : `:\n${child.stderr}`}`,
    );
  return JSON.parse(child.stdout) as Record<string, Digest>;
}
