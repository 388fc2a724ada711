import { fromCwd, io, stdout } from "../io.js";
import bytes from "bytes";
import ms from "ms";
import { short, type StageKey } from "../../core/digest.js";
import { gc, verify } from "../../cache/maintenance.js";
import type { StageRecord } from "../../cache/record.js";
import type { CacheStore } from "../../cache/store.js";
import { BundleError, exportBundle, importBundle } from "../../cache/bundle.js";
import { cacheKeyFromEnv, SignatureError } from "../../cache/signing.js";
import { readLockfile } from "../../plan/lockfile.js";
import { Planner } from "../../plan/planner.js";
import {
  cacheDir,
  EXIT,
  Exit,
  formatBytes,
  openCache,
  openPipeline,
  printJson,
  runtimeFor,
  table,
  type CommonOptions,
} from "../context.js";

const recordSize = (r: StageRecord<unknown>) =>
  Object.values(r.outputs).reduce((a, o) => a + o.size, 0);

function age(iso: string): string {
  const d = Date.now() - Date.parse(iso);
  return d < 60_000 ? "just now" : `${ms(d)} ago`;
}

export function cacheLs(opts: CommonOptions & { json?: boolean }): number {
  const store = openCache(opts);
  const records = [...store.allRecords()].sort((a, b) =>
    b.provenance.createdAt.localeCompare(a.provenance.createdAt),
  );
  if (opts.json) {
    printJson({
      records: records.map((r) => {
        const check = store.getCheck(r.key);
        return {
          key: r.key,
          kind: r.kind,
          pipeline: r.provenance.pipeline,
          stage: r.provenance.stage,
          size: recordSize(r),
          createdAt: r.provenance.createdAt,
          durationMs: r.provenance.durationMs,
          checked: check ?? null,
        };
      }),
    });
    return EXIT.ok;
  }
  if (!records.length) {
    stdout().write(`the cache at ${store.dir} is empty\n`);
    return EXIT.ok;
  }
  const rows = [
    ["key", "kind", "made by", "size", "age", "checked"].map((h) => stdout().c.bold(h)),
  ];
  for (const r of records) {
    const check = store.getCheck(r.key);
    const checked = !check
      ? stdout().c.dim("-")
      : check.identical
        ? stdout().c.green(`identical (${check.runs})`)
        : stdout().c.red(`differs: ${check.differing.join(", ")}`);
    rows.push([
      short(r.key),
      r.kind,
      `${r.provenance.pipeline}/${r.provenance.stage}`,
      formatBytes(recordSize(r)),
      age(r.provenance.createdAt),
      checked,
    ]);
  }
  stdout().write(table(rows) + "\n");
  const total = [...store.allBlobDigests()].reduce((a, b) => a + b.size, 0);
  stdout().write(
    stdout().c.dim(
      `${records.length} records, ${formatBytes(total)} of artifacts in ${store.dir}\n`,
    ),
  );
  return EXIT.ok;
}

export function findRecord(store: CacheStore, prefix: string): StageRecord<unknown> {
  if (!/^[0-9a-f]{4,64}$/.test(prefix))
    throw new Exit(EXIT.invalid, `${prefix}: a key is 4 to 64 hex digits`);
  const matches = [...store.allRecords()].filter((r) => r.key.startsWith(prefix));
  if (matches.length === 0) throw new Exit(EXIT.failed, `no record with key ${prefix}`);
  if (matches.length > 1)
    throw new Exit(
      EXIT.invalid,
      `${prefix} is ambiguous: ${matches.map((r) => short(r.key)).join(", ")}`,
    );
  return matches[0]!;
}

export function cacheShow(key: string, opts: CommonOptions & { json?: boolean }): number {
  const r = findRecord(openCache(opts), key);
  if (opts.json) {
    printJson(r);
    return EXIT.ok;
  }
  const p = r.provenance;
  const out = [
    `${stdout().c.bold("key")}       ${r.key}`,
    `${stdout().c.bold("kind")}      ${r.kind}`,
    `${stdout().c.bold("made by")}   stage \`${p.stage}\` of pipeline \`${p.pipeline}\` (${p.file}), rnnp ${p.rnnpVersion}`,
    `${stdout().c.bold("when")}      ${p.createdAt}, took ${p.durationMs} ms`,
    stdout().c.bold("outputs"),
    ...Object.entries(r.outputs).map(
      ([name, o]) => `  ${name}  ${short(o.digest)}  ${formatBytes(o.size)}  ${o.summary}`,
    ),
    stdout().c.bold("inputs from"),
    ...(Object.keys(r.inputsFrom).length
      ? Object.entries(r.inputsFrom).map(([slot, o]) => `  ${slot} <- ${o.stage} (${short(o.key)})`)
      : ["  (none)"]),
    stdout().c.bold("manifest (what the key is the hash of)"),
    ...JSON.stringify(r.manifest, null, 2)
      .split("\n")
      .map((l) => `  ${l}`),
  ];
  stdout().write(out.join("\n") + "\n");
  return EXIT.ok;
}

export function cachePath(opts: CommonOptions): number {
  stdout().write(cacheDir(opts) + "\n");
  return EXIT.ok;
}

export function cacheVerify(opts: CommonOptions & { json?: boolean }): number {
  const report = verify(openCache(opts));
  if (opts.json) printJson(report);
  else {
    for (const d of report.corrupt)
      stdout().write(`${stdout().c.red("corrupt")} blob ${d}: removed\n`);
    for (const r of report.droppedRecords)
      stdout().write(
        `${stdout().c.yellow("dropped")} record ${short(r.key)} (${r.stage}): it names ${r.missing.length} bad blob(s); the stage will recompute\n`,
      );
    stdout().write(
      `${report.blobsChecked} blobs (${formatBytes(report.bytesChecked)}) checked: ${report.corrupt.length ? stdout().c.red(`${report.corrupt.length} corrupt`) : stdout().c.green("all intact")}\n`,
    );
  }
  return report.corrupt.length || report.droppedRecords.length ? EXIT.failed : EXIT.ok;
}

/** The records the given pipelines currently use (every stage whose key is known and cached). */
function recordsUsedBy(store: CacheStore, files: string[], opts: CommonOptions): Set<StageKey> {
  const keep = new Set<StageKey>();
  for (const file of files) {
    if (file.endsWith(".lock")) {
      const lock = readLockfile(fromCwd(file));
      if (!lock) throw new Exit(EXIT.invalid, `no such lockfile: ${file}`);
      for (const s of Object.values(lock.stages)) keep.add(s.key);
      continue;
    }
    const ir = openPipeline(file, opts.param ?? []);
    const planner = new Planner(ir, store, runtimeFor(ir, opts));
    for (const s of planner.order) {
      const res = planner.resolve(s.name);
      if (res.state === "keyed" && res.record) keep.add(res.key);
    }
  }
  return keep;
}

export async function cacheExport(
  files: string[],
  opts: CommonOptions & { output: string; gzip?: boolean; json?: boolean },
): Promise<number> {
  const store = openCache(opts);
  const keep = files.length ? recordsUsedBy(store, files, opts) : undefined;
  const records = [...store.allRecords()].filter((r) => !keep || keep.has(r.key));
  const started = performance.now();
  const report = await exportBundle(store, records, fromCwd(opts.output), {
    ...(opts.gzip ? { gzip: true } : {}),
    ...(cacheKeyFromEnv(io().env) ? { key: cacheKeyFromEnv(io().env)! } : {}),
  });
  const secs = (performance.now() - started) / 1000;
  if (opts.json) printJson({ ...report, file: opts.output, seconds: secs });
  else
    stdout().write(
      `wrote ${opts.output}: ${report.records} records, ${report.blobs} blobs (${formatBytes(report.bytes)})${cacheKeyFromEnv(io().env) ? ", signed" : ""} in ${secs.toFixed(2)} s\n`,
    );
  return EXIT.ok;
}

export async function cacheImport(
  file: string,
  opts: CommonOptions & { maxEntrySize?: string; json?: boolean },
): Promise<number> {
  const maxEntryBytes =
    opts.maxEntrySize !== undefined ? bytes.parse(opts.maxEntrySize) : undefined;
  if (
    opts.maxEntrySize !== undefined &&
    (maxEntryBytes === null || maxEntryBytes === undefined || Number.isNaN(maxEntryBytes))
  )
    throw new Exit(
      EXIT.invalid,
      `--max-entry-size ${opts.maxEntrySize}: expected a size such as 2GB`,
    );
  const store = openCache(opts);
  const started = performance.now();
  let report: Awaited<ReturnType<typeof importBundle>>;
  try {
    report = await importBundle(store, fromCwd(file), {
      ...(cacheKeyFromEnv(io().env) ? { key: cacheKeyFromEnv(io().env)! } : {}),
      ...(maxEntryBytes != null ? { maxEntryBytes } : {}),
    });
  } catch (e) {
    if (
      e instanceof BundleError ||
      e instanceof SignatureError ||
      (e as NodeJS.ErrnoException).code === "ENOENT"
    )
      throw new Exit(EXIT.failed, (e as Error).message);
    throw e;
  }
  const secs = (performance.now() - started) / 1000;
  if (opts.json) printJson({ ...report, seconds: secs });
  else {
    stdout().write(
      `imported ${file}: added ${report.records.added} records and ${report.blobs.added} blobs (${formatBytes(report.blobs.bytes)}); already had ${report.records.had} records and ${report.blobs.had} blobs\n`,
    );
  }
  return EXIT.ok;
}

export function cacheGc(
  files: string[],
  opts: CommonOptions & { maxAge?: string; maxSize?: string; dryRun?: boolean; json?: boolean },
): number {
  if (!files.length && opts.maxAge === undefined && opts.maxSize === undefined) {
    throw new Exit(
      EXIT.invalid,
      "cache gc needs pipeline files to keep (their current stages), --max-age, or --max-size",
    );
  }
  const maxAgeMs = opts.maxAge !== undefined ? ms(opts.maxAge as ms.StringValue) : undefined;
  if (opts.maxAge !== undefined && (maxAgeMs === undefined || !Number.isFinite(maxAgeMs)))
    throw new Exit(EXIT.invalid, `--max-age ${opts.maxAge}: expected a duration such as 7d or 12h`);
  const maxSizeBytes = opts.maxSize !== undefined ? bytes.parse(opts.maxSize) : undefined;
  if (
    opts.maxSize !== undefined &&
    (maxSizeBytes === null || maxSizeBytes === undefined || Number.isNaN(maxSizeBytes))
  )
    throw new Exit(
      EXIT.invalid,
      `--max-size ${opts.maxSize}: expected a size such as 500MB or 2GB`,
    );
  const store = openCache(opts);
  const keep = recordsUsedBy(store, files, opts);
  const report = gc(store, {
    ...(files.length ? { keep } : {}),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
    ...(maxSizeBytes != null ? { maxSizeBytes } : {}),
    dryRun: opts.dryRun === true,
  });
  const freed = report.freedBlobs.reduce((a, b) => a + b.size, 0);
  if (opts.json) {
    printJson({
      dryRun: opts.dryRun === true,
      removedRecords: report.removedRecords.map((r) => ({
        key: r.key,
        stage: `${r.provenance.pipeline}/${r.provenance.stage}`,
      })),
      freedBlobs: report.freedBlobs.length,
      freedBytes: freed,
      keptRecords: report.keptRecords,
      sizeBefore: report.sizeBefore,
      sizeAfter: report.sizeAfter,
    });
    return EXIT.ok;
  }
  const verb = opts.dryRun ? "would remove" : "removed";
  for (const r of report.removedRecords)
    stdout().write(
      `${stdout().c.dim(verb)} ${short(r.key)} ${r.provenance.pipeline}/${r.provenance.stage} (${r.kind}, ${age(r.provenance.createdAt)})\n`,
    );
  stdout().write(
    `${verb} ${report.removedRecords.length} records and ${report.freedBlobs.length} blobs, freeing ${formatBytes(freed)}; kept ${report.keptRecords} records (${formatBytes(report.sizeAfter)})\n`,
  );
  if (!opts.dryRun && freed > 0)
    stdout().write(
      stdout().c.dim(
        "LMDB reuses the freed pages for new entries; the file itself does not shrink\n",
      ),
    );
  return EXIT.ok;
}
