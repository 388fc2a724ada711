import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { Row } from "./measure.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

const BIN = join(resolve(import.meta.dirname, ".."), "bin", "rnnp.js");

/** 8,000 made-up names of two classes: enough that epochs, not start-up, take the time. */
function data(): string {
  const stems = ["ann", "eve", "bob", "max", "lea", "tom", "ida", "leo", "zoe", "kai"];
  const rows = Array.from({ length: 8000 }, (_, i) => {
    const name = `${stems[i % 10]}${stems[(i * 7) % 10]!.slice(0, 1 + (i % 3))}${i % 13}`;
    return `${name},${(i * 31) % 7 < 3 ? "a" : "b"}`;
  });
  return `name,label\n${rows.join("\n")}\n`;
}

const pipeline = (epochs: number) => `pipeline bench {
  seed 9
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage vocab = vocabulary(raw, level: "char")
  stage seqs = encode(raw, vocab, maxLen: 8)
  stage net = model(seqs) {
    embedding(dim: 8, mask: true)
    lstm(units: 16)
    dense(units: 2, activation: "softmax")
  }
  stage fit = train(net, seqs, epochs: ${epochs}, batchSize: 32)
}
`;

/** One `rnnp run` of the pipeline with `epochs`, in `dir` against `cache`: its wall time and fit's digest. */
function run(dir: string, cache: string, epochs: number): { ms: number; digest: string } {
  writeFileSync(join(dir, "p.rnnp"), pipeline(epochs));
  const t = performance.now();
  const r = spawnSync(process.execPath, [...NODE_FLAGS, BIN, "run", "p.rnnp", "--cache", cache], {
    cwd: dir,
    encoding: "utf8",
  });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`rnnp run exited ${r.status}: ${r.stderr}`);
  const lock = JSON.parse(readFileSync(join(dir, "p.lock"), "utf8")) as {
    stages: { fit: { outputs: { out: string } } };
  };
  return { ms, digest: lock.stages.fit.outputs.out };
}

/**
 * Training that resumes (issue 13 part 3): raising `epochs` from 20 to 30 against training 30 from
 * scratch, alternating, best of `rounds`; the two must give the same bytes (else the bench fails).
 */
export function resumeBench(rounds = 3): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "rnnp-bench-resume-"));
  try {
    writeFileSync(join(dir, "d.csv"), data());
    let resumed = Infinity;
    let scratch = Infinity;
    for (let i = 0; i < rounds; i++) {
      run(dir, join(dir, `a${i}`), 20);
      const more = run(dir, join(dir, `a${i}`), 30);
      const whole = run(dir, join(dir, `b${i}`), 30);
      if (more.digest !== whole.digest)
        throw new Error(`resumed ${more.digest} and uninterrupted ${whole.digest} differ`);
      resumed = Math.min(resumed, more.ms);
      scratch = Math.min(scratch, whole.ms);
    }
    return [
      {
        suite: "resume",
        measure: "epochs 20 -> 30, resumed at 20 (same bytes)",
        value: `${(resumed / 1000).toFixed(2)} s`,
        baseline: `30 from scratch ${(scratch / 1000).toFixed(2)} s`,
        ratio: `${(resumed / scratch).toFixed(2)} (ideal 0.33)`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
