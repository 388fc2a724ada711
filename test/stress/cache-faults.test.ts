import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { concurrentRuns, flipCaches, killRuns } from "../cache/faults.js";
import { failures, together } from "../cache/processes.js";
import { CacheStore } from "../../src/cache/store.js";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, tempDir } from "../helpers.js";
import { missingTool } from "../rig.js";

/** Runs a script of test/cache in a process; its exit and stdout. */
function script(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../cache", name), ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...cleanEnv(), ...env } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fault injection, the long versions (issue 10): the figures are printed as test diagnostics. The
 * seed of each random scenario is printed too: a failure can be replayed with it.
 */
const seed = String(Date.now());

describe("the cache under faults", () => {
  it("SIGKILL at 100 random moments of training runs: every rerun, frozen run and verify passes", async (t) => {
    const stats = await killRuns(100, seedrandom(`kills ${seed}`));
    t.diagnostic(`seed ${seed}: ${stats.kills} kills in ${stats.attempts} runs`);
    t.diagnostic(
      `stages the rerun executed after a kill -> kills: ${JSON.stringify(stats.rerunExecuted)}`,
    );
    assert.deepEqual(stats.failures, []);
    assert.equal(stats.kills, 100);
  });

  it("random byte flips in 300 copies of an LMDB file: no crash, no wrong byte served", async (t) => {
    const stats = await flipCaches(300, seedrandom(`flips ${seed}`));
    t.diagnostic(
      `seed ${seed}: ${stats.trials} copies, ${stats.flips} flipped bytes; verify found nothing in ${stats.verify.clean}, dropped damage in ${stats.verify.dropped}, sent ${stats.verify.unreadable} to repair; ${stats.recomputed} stages recomputed; processes killed by a signal: ${JSON.stringify(stats.signals)}; runs stopped by cache-corrupt after a clean verify: ${stats.corruptAfterCleanVerify}`,
    );
    assert.deepEqual(stats.failures, []);
    assert.deepEqual(stats.signals, {});
    assert.equal(stats.corruptAfterCleanVerify, 0);
  });

  it("8 runs at once on one empty cache, 10 rounds writing the lock and 10 not", async (t) => {
    for (const withLock of [true, false]) {
      const stats = await concurrentRuns(8, 10, withLock);
      t.diagnostic(
        `${stats.processes} runs in ${stats.rounds} rounds, with${withLock ? "" : "out"} the lock`,
      );
      assert.deepEqual(stats.failures, []);
    }
  });

  // LMDB sets lock.mdb's transaction counter from the meta page it read when it started opening; a
  // commit by another process in between moved it back, and a later commit overwrote a newer one.
  // slow-open.c (LD_PRELOAD) holds the opener 300 ms right after that read, while a writer commits
  // every 15 ms: without the cache lock around writes about half of the trials broke the writer
  // (MDB_PROBLEM) or lost records.
  it("a process opening the cache while another commits (its header read held 300 ms), 30 trials", {
    skip: missingTool("gcc") ?? false,
  }, async (t) => {
    const shim = join(tempDir(), "slow-open.so");
    const cc = spawnSync(
      "gcc",
      ["-O2", "-shared", "-fPIC", "-o", shim, join(import.meta.dirname, "slow-open.c"), "-ldl"],
      { encoding: "utf8" },
    );
    assert.equal(cc.status, 0, cc.stderr);
    const problems: string[] = [];
    let commits = 0;
    let slowed = 0;
    for (let trial = 0; trial < 30; trial++) {
      const dir = join(tempDir(), "cache");
      await CacheStore.open(dir).close(); // an existing cache: its tables are there
      const writer = script("committer.ts", [dir, "writer"]);
      while (!existsSync(`${dir}.started`)) await sleep(10);
      const started = Date.now();
      const opener = await script("committer.ts", [dir, "opener"], {
        LD_PRELOAD: shim,
        SLOW_OPEN_MS: "300",
      });
      if (Date.now() - started >= 300) slowed++;
      await sleep(200);
      writeFileSync(`${dir}.stop`, "");
      const w = await writer;
      for (const [who, end] of [
        ["writer", w],
        ["opener", opener],
      ] as const)
        if (end.code !== 0)
          problems.push(
            `trial ${trial}: the ${who} exited ${end.code}: ${end.stderr
              .split("\n")
              .filter((l) => /Error|MDB/.test(l))
              .slice(0, 2)
              .join(" | ")}`,
          );
      const count = await script("committer.ts", [dir, "count"]);
      commits += Number(w.stdout);
      if (w.code === 0 && Number(count.stdout) !== Number(w.stdout))
        problems.push(`trial ${trial}: ${count.stdout} records of ${w.stdout} committed`);
    }
    t.diagnostic(
      `30 opens during commits (${slowed} held 300 ms after reading the meta page); ${commits} commits`,
    );
    assert.equal(slowed, 30, "the shim held every open");
    assert.deepEqual(problems, []);
  });

  it("8 processes opening one fresh cache at the same moment, 60 rounds", async (t) => {
    let opened = 0;
    for (let round = 0; round < 60; round++) {
      const dir = join(tempDir(), "cache");
      // All 8 open at one moment, once started and loaded (a fresh data file LMDB initialised in
      // several processes at once lost a record about once in 30 rounds like these).
      const start = String(Date.now() + 2500);
      const ends = await together("opener.ts", 8, (i) => [dir, String(i), start]);
      assert.deepEqual(failures(ends), [], `round ${round}`);
      opened += ends.length;
      const store = CacheStore.open(dir);
      assert.equal(store.recordCount(), 8, `round ${round}`);
      await store.close();
    }
    t.diagnostic(`${opened} opens of a fresh cache, 8 at a time`);
  });
});
