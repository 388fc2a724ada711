// Fault injection against real rnnp processes: SIGKILL at random moments of real runs, random byte
// flips in a copy of the LMDB file, many runs at once. The reference runs on an empty cache and the
// verifies of undamaged caches (which read in a child of their own) run in this process. Each scenario returns its figures and every
// failure it saw; test/cache/faults.test.ts runs a few cases of each, test/stress the long versions.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NAMES_CSV } from "../helpers.js";
import { Rig, type CliResult } from "../rig.js";
import { csvParts, loadNames } from "../fixtures/pipelines.js";

/**
 * A run that trains (`names` names, an LSTM, 3 epochs, and an export): with 1,500 (TRAINING), about
 * 5 s on 2 cores.
 */
export const training = (names: number) => `pipeline k {
  seed 7
  params { epochs = 3 }
  stage raw = ${loadNames()}
  stage few = sample(raw, n: ${names})
  stage names = clean(few, lowercase: true, dedupe: true, conflicts: "drop")
  stage parts = split(names, train: 0.7, val: 0.15, test: 0.15, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: 10)
  stage net = model(seqs.train) {
    embedding(dim: 8, mask: true)
    lstm(units: 16)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs.train, validation: seqs.val, epochs: params.epochs, batchSize: 32)
  stage report = evaluate(fit, seqs.test)
  stage exported = export(fit, dir: "out/model")
}
`;
export const TRAINING = training(1500);

/** Data stages only (no TensorFlow.js): quick to recompute, several artifact types. */
export const DATA = csvParts({
  name: "d",
  settings: ["seed 5"],
  after: [
    'stage vocab = vocabulary(parts.train, level: "char")',
    "stage seqs = encode(parts, vocab, maxLen: 6)",
    "stage few = head(parts, n: 2)",
  ],
});

type Stages = { name: string; status: string }[];
const stagesOf = (r: CliResult): Stages => {
  try {
    return (JSON.parse(r.stdout) as { stages: Stages }).stages;
  } catch {
    return [];
  }
};

/** What a process did that it must never do: die by a signal, or print a stack trace. */
function misbehaved(what: string, r: CliResult & { signal?: string | null }): string | undefined {
  if (r.code === -1 || r.signal) return `${what}: died (${r.signal ?? "signal"})`;
  if (/internal error|\n\s+at [\w.<]+ \(/.test(r.stderr))
    return `${what}: internal error: ${r.stderr.slice(0, 400)}`;
  return undefined;
}

export interface KillStats {
  kills: number;
  attempts: number;
  /** Where the kills landed, by how many stages the run after it had to execute. */
  rerunExecuted: Record<number, number>;
  failures: string[];
}

/**
 * SIGKILL at `n` random moments of a training run (`pipeline`) on an empty cache (a run that
 * finished first does not count); after each: a rerun must succeed, a frozen run must match the
 * lock of an undisturbed run, `cache verify` must find nothing, and the lock must be whole.
 */
export async function killRuns(
  n: number,
  random = Math.random,
  pipeline = TRAINING,
): Promise<KillStats> {
  const rig = new Rig("rnnp-kills-").write({ "k.rnnp": pipeline });
  const started = Date.now();
  const ref = rig.spawnSync(["run", "k.rnnp", "--cache", "ref"]);
  if (ref.code !== 0) throw new Error(`the reference run failed: ${ref.stderr}`);
  const span = Date.now() - started;
  const lock = rig.read("k.lock");
  const stats: KillStats = { kills: 0, attempts: 0, rerunExecuted: {}, failures: [] };
  while (stats.kills < n && stats.attempts < n * 3) {
    stats.attempts++;
    const cache = rig.path(`c${stats.attempts}`);
    const run = rig.spawn(["run", "k.rnnp", "--cache", cache]);
    const at = random() * span * 1.05;
    const timer = setTimeout(() => run.child.kill("SIGKILL"), at);
    await run;
    clearTimeout(timer);
    if (run.child.signalCode !== "SIGKILL") continue;
    stats.kills++;
    const fail = (what: string) =>
      stats.failures.push(`kill ${stats.kills} at ${Math.round(at)} ms: ${what}`);
    const rerun = rig.spawnSync(["run", "k.rnnp", "--cache", cache, "--json"]);
    const bad = misbehaved("rerun", rerun);
    if (bad || rerun.code !== 0)
      fail(bad ?? `rerun exited ${rerun.code}: ${rerun.stderr.slice(0, 400)}`);
    const executed = stagesOf(rerun).filter((s) => s.status === "ran").length;
    stats.rerunExecuted[executed] = (stats.rerunExecuted[executed] ?? 0) + 1;
    const frozen = rig.spawnSync(["run", "k.rnnp", "--cache", cache, "--frozen"]);
    if (frozen.code !== 0) fail(`--frozen exited ${frozen.code}: ${frozen.stderr.slice(0, 400)}`);
    // In this process: verify reads the cache in a child of its own.
    const verify = await rig.rnnp(["cache", "verify", "--cache", cache]);
    if (verify.code !== 0) fail(`verify exited ${verify.code}: ${verify.stdout}${verify.stderr}`);
    if (rig.read("k.lock") !== lock) fail("the lock differs from the undisturbed run's");
    const leftovers = readdirSync(rig.dir).filter((f) => f.endsWith(".tmp"));
    if (leftovers.length) fail(`temporary files left: ${leftovers.join(", ")}`);
    rmSync(cache, { recursive: true, force: true });
  }
  return stats;
}

export interface FlipStats {
  trials: number;
  flips: number;
  /** What verify said: nothing found, damage dropped, or unreadable (then repair ran). */
  verify: { clean: number; dropped: number; unreadable: number };
  /** Stages the run after verify (and repair) recomputed. */
  recomputed: number;
  /** Processes (verify, repair, run) that died by a signal (SIGBUS, SIGSEGV...), by signal. */
  signals: Record<string, number>;
  /** Runs that stopped with a cache-corrupt error although verify had found the cache clean. */
  corruptAfterCleanVerify: number;
  failures: string[];
}

/**
 * Random byte flips in a copy of a built cache's LMDB file, `trials` times: `cache verify` must not
 * crash (nor print a stack trace); if it says the file is beyond LMDB, `cache repair` must not crash
 * either; and then a frozen run must pass: no stage may be served with other bytes than the lock's.
 */
export async function flipCaches(trials: number, random = Math.random): Promise<FlipStats> {
  const rig = new Rig("rnnp-flips-").write({ "d.csv": NAMES_CSV, "d.rnnp": DATA });
  const ref = await rig.rnnp(["run", "d.rnnp", "--cache", "ref"]);
  if (ref.code !== 0) throw new Error(`the reference run failed: ${ref.stderr}`);
  const data = readFileSync(rig.path("ref", "data.mdb"));
  const stats: FlipStats = {
    trials: 0,
    flips: 0,
    verify: { clean: 0, dropped: 0, unreadable: 0 },
    recomputed: 0,
    signals: {},
    corruptAfterCleanVerify: 0,
    failures: [],
  };
  for (let t = 1; t <= trials; t++) {
    stats.trials++;
    const cache = rig.path(`t${t}`);
    mkdirSync(cache);
    const bytes = Buffer.from(data);
    const count = 1 + Math.floor(random() * 4);
    const where: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = Math.floor(random() * bytes.length);
      bytes[at]! ^= 1 + Math.floor(random() * 255);
      where.push(at);
    }
    stats.flips += count;
    writeFileSync(join(cache, "data.mdb"), bytes);
    const fail = (what: string) =>
      stats.failures.push(`trial ${t} (flips at ${where.join(", ")}): ${what}`);
    // Which command died, where the flips were, and its last words: enough to look into it.
    const died = (command: string, r: { signal: string | null; stderr: string }) => {
      if (!r.signal) return;
      stats.signals[r.signal] = (stats.signals[r.signal] ?? 0) + 1;
      fail(`${command} killed by ${r.signal}: ${r.stderr.slice(-300)}`);
    };
    const verify = await spawnResult(rig, ["cache", "verify", "--cache", cache]);
    const vbad = misbehaved("verify", verify);
    if (vbad) fail(vbad);
    died("verify", verify);
    if (verify.code === 0) stats.verify.clean++;
    else if (/rnnp cache repair/.test(verify.stderr)) {
      stats.verify.unreadable++;
      const repair = await spawnResult(rig, ["cache", "repair", "--cache", cache]);
      const rbad = misbehaved("repair", repair);
      died("repair", repair);
      if (rbad || repair.code !== 0)
        fail(rbad ?? `repair exited ${repair.code}: ${repair.stdout}${repair.stderr}`);
    } else stats.verify.dropped++;
    const run = await spawnResult(rig, ["run", "d.rnnp", "--cache", cache, "--frozen", "--json"]);
    const bad = misbehaved("run", run);
    died("run", run);
    if (verify.code === 0 && run.code !== 0 && /cache-corrupt/.test(run.stderr))
      stats.corruptAfterCleanVerify++;
    if (bad) fail(bad);
    else if (run.code !== 0) fail(`run --frozen exited ${run.code}: ${run.stderr.slice(0, 500)}`);
    stats.recomputed += stagesOf(run).filter((s) => s.status === "ran").length;
    rmSync(cache, { recursive: true, force: true });
  }
  return stats;
}

/** A real process's result, with the signal that killed it, if one did. */
async function spawnResult(
  rig: Rig,
  args: string[],
): Promise<CliResult & { signal: string | null }> {
  const p = rig.spawn(args);
  const r = await p;
  return { ...r, signal: p.child.signalCode };
}

export interface ConcurrencyStats {
  rounds: number;
  processes: number;
  failures: string[];
}

/**
 * `n` runs of one pipeline on one empty cache at once, `rounds` times, writing the lock or not: all
 * must succeed, every stage must be computed exactly once in a round, the lock must be the one an
 * undisturbed run writes, and the cache must verify.
 */
export async function concurrentRuns(
  n: number,
  rounds: number,
  withLock: boolean,
): Promise<ConcurrencyStats> {
  const rig = new Rig("rnnp-together-").write({ "d.csv": NAMES_CSV, "d.rnnp": DATA });
  const ref = await rig.rnnp(["run", "d.rnnp", "--cache", "ref"]);
  if (ref.code !== 0) throw new Error(`the reference run failed: ${ref.stderr}`);
  const lock = rig.read("d.lock");
  const stats: ConcurrencyStats = { rounds: 0, processes: 0, failures: [] };
  for (let round = 1; round <= rounds; round++) {
    stats.rounds++;
    const cache = rig.path(`r${round}`);
    const runs = Array.from({ length: n }, () =>
      rig.spawn(["run", "d.rnnp", "--cache", cache, "--json", ...(withLock ? [] : ["--no-lock"])]),
    );
    const ends = await Promise.all(runs);
    stats.processes += n;
    const fail = (what: string) => stats.failures.push(`round ${round}: ${what}`);
    ends.forEach((r, i) => {
      const bad = misbehaved(`run ${i}`, { ...r, signal: runs[i]!.child.signalCode });
      if (bad || r.code !== 0) fail(bad ?? `run ${i} exited ${r.code}: ${r.stderr.slice(0, 300)}`);
    });
    const ran = ends.flatMap((r) =>
      stagesOf(r)
        .filter((s) => s.status === "ran")
        .map((s) => s.name),
    );
    const stages = stagesOf(ends[0]!).map((s) => s.name);
    if (ran.length !== stages.length || new Set(ran).size !== stages.length)
      fail(`stages computed: ${ran.sort().join(", ")} (each of ${stages.length} once expected)`);
    if (rig.read("d.lock") !== lock) fail("the lock differs from an undisturbed run's");
    const leftovers = readdirSync(rig.dir).filter((f) => f.endsWith(".tmp"));
    if (leftovers.length) fail(`temporary files left: ${leftovers.join(", ")}`);
    const verify = await rig.rnnp(["cache", "verify", "--cache", cache]);
    if (verify.code !== 0) fail(`verify: ${verify.stdout}${verify.stderr}`);
    rmSync(cache, { recursive: true, force: true });
  }
  return stats;
}
