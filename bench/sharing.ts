import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { exportBundle, importBundle } from "../src/cache/bundle.js";
import { RemoteCache } from "../src/cache/remote.js";
import { CacheStore } from "../src/cache/store.js";
import { encode } from "../src/core/codec.js";
import { digestOf, type StageKey } from "../src/core/digest.js";
import { nginxBinary, startNginx } from "../test/fixtures/nginx.js";
import { timeProcess, type Row } from "./measure.js";
import { NODE_FLAGS } from "../src/core/node-flags.js";

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "rnnp.js");
const MB = 100;

/** Moving cached stages: bundles and the remote cache, against plain copies measured in the same run. */
export async function sharingBench(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "rnnp-bench-share-"));
  const rows: Row[] = [];
  try {
    const payload = new Float32Array((MB * 1024 * 1024) / 4);
    new Uint8Array(payload.buffer).set(randomBytes(payload.byteLength));
    for (let i = 0; i < payload.length; i++) if (Number.isNaN(payload[i])) payload[i] = 0;
    const bytes = encode({ type: "bench", data: payload });
    const digest = digestOf(bytes);
    const key = digestOf(Buffer.from("bench-record")) as string as StageKey;
    const record = {
      key,
      kind: "bench",
      outputs: { out: { digest, size: bytes.length, type: "bench", summary: "" } },
      manifest: {},
      inputsFrom: {},
      provenance: {
        pipeline: "b",
        file: "b",
        stage: "b",
        createdAt: new Date().toISOString(),
        durationMs: 0,
        rnnpVersion: "",
      },
    };
    const a = CacheStore.open(join(dir, "a"));
    a.commit(record, new Map([[digest, bytes]]), { pipeline: "b", stage: "b" });

    writeFileSync(join(dir, "raw.bin"), bytes);
    let t = performance.now();
    copyFileSync(join(dir, "raw.bin"), join(dir, "copy.bin"));
    const copy = MB / ((performance.now() - t) / 1000);
    const mbs = (x: number) => `${x.toFixed(0)} MB/s`;

    t = performance.now();
    await exportBundle(a, [record], join(dir, "b.tar"), {});
    const exp = MB / ((performance.now() - t) / 1000);
    const b = CacheStore.open(join(dir, "b"));
    t = performance.now();
    await importBundle(b, join(dir, "b.tar"));
    const imp = MB / ((performance.now() - t) / 1000);
    rows.push(
      {
        suite: "share",
        measure: `cache export of a ${MB} MB artifact (tar)`,
        value: mbs(exp),
        baseline: `file copy: ${mbs(copy)}`,
        ratio: `${(exp / copy).toFixed(2)}x`,
      },
      {
        suite: "share",
        measure: "cache import of it (verify, then commit)",
        value: mbs(imp),
        baseline: `file copy: ${mbs(copy)}`,
        ratio: `${(imp / copy).toFixed(2)}x`,
      },
    );
    void b.close();

    if (!nginxBinary()) {
      rows.push({
        suite: "remote",
        measure: "(skipped: nginx is not installed; apt-get install nginx)",
        value: "-",
        baseline: "-",
        ratio: "-",
      });
      return rows;
    }
    const server = await startNginx();
    try {
      const remote = new RemoteCache({ url: server.url, mode: "readwrite" });
      t = performance.now();
      await remote.push(record, new Map([[digest, bytes]]));
      const up = MB / ((performance.now() - t) / 1000);
      // Best of three each, alternating, after a warm-up GET: the server's page cache is warm for both.
      await (await fetch(`${server.url}/blobs/${digest}`)).arrayBuffer();
      let raw = 0;
      let down = 0;
      for (let i = 0; i < 3; i++) {
        t = performance.now();
        await (await fetch(`${server.url}/blobs/${digest}`)).arrayBuffer();
        raw = Math.max(raw, MB / ((performance.now() - t) / 1000));
        t = performance.now();
        if (!(await remote.fetchStage(key, () => false))) throw new Error("remote fetch failed");
        down = Math.max(down, MB / ((performance.now() - t) / 1000));
      }
      rows.push(
        {
          suite: "remote",
          measure: `remote hit: fetch + verify a ${MB} MB artifact (nginx, loopback)`,
          value: mbs(down),
          baseline: `plain GET: ${mbs(raw)}`,
          ratio: `${(down / raw).toFixed(2)}x`,
        },
        {
          suite: "remote",
          measure: "upload it (PUT)",
          value: mbs(up),
          baseline: `plain GET: ${mbs(raw)}`,
          ratio: `${(up / raw).toFixed(2)}x`,
        },
      );

      // A whole example pipeline served from the remote, against the same run served locally.
      const csv = join(ROOT, "node_modules/vega-datasets/data/seattle-weather.csv");
      const pipeline = `pipeline weather {\n  seed 42\n  stage raw = load.csv(path: ${JSON.stringify(csv)}, label: "weather")\n  stage known = clean(raw, dropMissing: true, dropLabels: ["drizzle"])\n  stage parts = split(known, train: 0.7, val: 0.15, test: 0.15, stratify: true)\n  stage scaled = clean(parts, scale: "zscore", fit: "train")\n  stage preview = head(scaled, n: 5)\n}\n`;
      writeFileSync(join(dir, "weather.rnnp"), pipeline);
      const node = process.execPath;
      timeProcess(
        [
          node,
          ...NODE_FLAGS,
          BIN,
          "run",
          "weather.rnnp",
          "--no-lock",
          "--cache",
          "push",
          "--remote",
          server.url,
          "--remote-write",
        ],
        dir,
        0,
      );
      const remoteRun = timeProcess(
        (i) => [
          node,
          ...NODE_FLAGS,
          BIN,
          "run",
          "weather.rnnp",
          "--no-lock",
          "--cache",
          `fresh${i}`,
          "--remote",
          server.url,
        ],
        dir,
        8,
      );
      const localRun = timeProcess(
        [node, ...NODE_FLAGS, BIN, "run", "weather.rnnp", "--no-lock", "--cache", "push"],
        dir,
        8,
      );
      rows.push({
        suite: "remote",
        measure: "`rnnp run` weather.rnnp, empty local cache, all from the remote",
        value: `${remoteRun.median.toFixed(0)} ms`,
        baseline: `all local hits: ${localRun.median.toFixed(0)} ms`,
        ratio: `${(remoteRun.median / localRun.median).toFixed(1)}x`,
      });
    } finally {
      await server.stop();
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
