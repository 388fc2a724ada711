import { sinceStart } from "../../core/clock.js";
import { RNNP_VERSION } from "../../core/version.js";
import { BUILD_ID } from "../../core/build.js";
import { currentBuildTag, pruneCachedIrs } from "../../lang/ir-cache.js";
import { openPipeline } from "../pipeline.js";
import { fromCwd, io, stdout } from "../io.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import bytes from "bytes";
import ms from "ms";
import { UserError } from "../../core/diagnostic.js";
import { short, type StageKey } from "../../core/digest.js";
import { gc } from "../../cache/maintenance.js";
import type { StageRecord } from "../../cache/record.js";
import { repairCache, verifyCache, type VerifyReport } from "../../cache/salvage.js";
import type { CacheStore } from "../../cache/store.js";
import { type TaskProgress, taskProgress } from "../progress.js";
import { exportBundle, importBundle } from "../../cache/bundle.js";
import { cacheKeyFromEnv } from "../../cache/signing.js";
import { checkOutputBytes } from "../../run/artifacts.js";
import type { AnyKind } from "../../stages/kind.js";
import { readLockfile } from "../../plan/lockfile.js";
import { Planner } from "../../plan/planner.js";
import {
  cacheDir,
  EXIT,
  Exit,
  formatBytes,
  formatDuration,
  openCache,
  printJson,
  runtimeFor,
  table,
  printDiagnostics,
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
  const scanned = [...store.scanRecords()];
  const damaged = scanned.flatMap((e) => ("problem" in e ? [e] : []));
  const records = scanned
    .flatMap((e) => ("record" in e ? [e.record] : []))
    .sort((a, b) => b.provenance.createdAt.localeCompare(a.provenance.createdAt));
  // Damaged records are not listed as records: they are reported, with what to do.
  const found = () => {
    if (!damaged.length) return EXIT.ok;
    printDiagnostics([
      new UserError(
        `${damaged.length} damaged record${damaged.length === 1 ? "" : "s"} in the cache (${damaged
          .slice(0, 3)
          .map((d) => `${short(d.key)}: ${d.problem.problem}`)
          .join("; ")}${damaged.length > 3 ? "; ..." : ""})`,
        {
          code: "cache-corrupt",
          hint: "run `rnnp cache verify`: it drops them, and their stages recompute",
        },
      ).toDiagnostic(),
    ]);
    return EXIT.failed;
  };
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
      damaged: damaged.map((d) => ({ key: d.key, problem: d.problem.problem })),
    });
    return found();
  }
  if (!records.length) {
    stdout().write(`the cache at ${store.dir} has no records\n`);
    return found();
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
  return found();
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
    `${stdout().c.bold("when")}      ${p.createdAt}, took ${formatDuration(p.durationMs)}`,
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

export function cachePath(opts: CommonOptions & { json?: boolean }): number {
  const dir = cacheDir(opts);
  if (opts.json) printJson({ cache: dir, exists: existsSync(join(dir, "data.mdb")) });
  else stdout().write(dir + "\n");
  return EXIT.ok;
}

/**
 * `cache verify [--deep]`: reads everything in a child process (a damaged LMDB page can crash the
 * reader), drops damaged records, corrupt blobs, the records naming them and blobs no record names.
 */
export async function cacheVerify(
  opts: CommonOptions & { json?: boolean; deep?: boolean },
): Promise<number> {
  return withProgressLine(!opts.json, async (progress) => {
    const report = await verifyCache(cacheDir(opts), {
      ...(opts.deep ? { deep: true, check: checkOutputBytes } : {}),
      onProgress: progress.update,
    });
    if (opts.json) printJson(report);
    if (report.unreadable) {
      printDiagnostics([
        new UserError(`the cache at ${cacheDir(opts)} is damaged: ${report.unreadable}`, {
          code: "cache-corrupt",
          hint: "run `rnnp cache repair`: it copies what LMDB can still read into a new environment",
        }).toDiagnostic(),
      ]);
      return EXIT.failed;
    }
    if (!opts.json) printVerify(report);
    return verifyFound(report) ? EXIT.failed : EXIT.ok;
  });
}

const verifyFound = (r: VerifyReport) =>
  r.corrupt.length +
    r.damagedRecords.length +
    r.droppedRecords.length +
    (r.deep?.failed.length ?? 0) >
  0;

function printVerify(report: VerifyReport): void {
  const out = (line: string) => stdout().write(`${line}\n`);
  for (const d of report.corrupt) out(`${stdout().c.red("corrupt")} blob ${d}: removed`);
  for (const r of report.damagedRecords)
    out(
      `${stdout().c.red("damaged")} record ${short(r.key)}: ${r.problem}; removed, the stage will recompute`,
    );
  for (const r of report.droppedRecords)
    out(
      `${stdout().c.yellow("dropped")} record ${short(r.key)} (${r.stage}): it names ${r.missing.length} bad blob(s); the stage will recompute`,
    );
  for (const f of report.deep?.failed ?? [])
    out(
      `${stdout().c.yellow("dropped")} record ${short(f.key)} (${f.stage}): ${f.problem}; the stage will recompute`,
    );
  if (report.orphans.length)
    out(
      `${stdout().c.dim("swept")} ${report.orphans.length} blob(s) no record names (${formatBytes(report.orphans.reduce((a, o) => a + o.size, 0))})`,
    );
  const bad =
    report.corrupt.length + report.damagedRecords.length + (report.deep?.failed.length ?? 0);
  const decoded = report.deep ? `, ${report.deep.checked} artifacts decoded,` : "";
  out(
    `${report.recordsChecked} records${decoded} and ${report.blobsChecked} blobs (${formatBytes(report.bytesChecked)}) checked: ${bad ? stdout().c.red(`${bad} damaged`) : stdout().c.green("all intact")}`,
  );
}

/** `cache repair`: what LMDB can still read, copied into a new environment that replaces the damaged one. */
export async function cacheRepair(opts: CommonOptions & { json?: boolean }): Promise<number> {
  return withProgressLine(!opts.json, async (progress) => {
    const report = await repairCache(cacheDir(opts), {
      check: checkOutputBytes,
      onProgress: progress.update,
      onTable: (name) => progress.update(`copying ${name}`, 0, 0),
    });
    if (opts.json) {
      printJson(report);
      return EXIT.ok;
    }
    for (const t of report.tables)
      stdout().write(
        `${t.name}: ${t.copied} copied${t.lost ? `, ${stdout().c.red(`${t.lost} lost`)}` : ""}${t.skippedRanges ? `, ${stdout().c.red(`${t.skippedRanges} damaged ranges skipped`)}` : ""}${t.unreadable ? stdout().c.red(` (${t.unreadable})`) : ""}\n`,
      );
    printVerify(report.verify);
    stdout().write(
      `repaired ${cacheDir(opts)}; the damaged file is kept at ${report.damagedFile} (delete it when you no longer need it)\n`,
    );
    return EXIT.ok;
  });
}

/** A record from a bundle against its kind: one this rnnp knows, making artifacts of the kind's type. */
export function recordFitsKind(
  r: StageRecord<unknown>,
  kinds: ReadonlyMap<string, AnyKind>,
): string | undefined {
  const kind = kinds.get(r.kind);
  if (!kind) return `it is of kind ${JSON.stringify(r.kind)}, which this rnnp does not have`;
  if (Array.isArray(kind.outputs)) {
    const names = Object.keys(r.outputs).sort();
    if (names.join() !== [...kind.outputs].sort().join())
      return `its outputs are ${names.join(", ")}; ${kind.name} makes ${kind.outputs.join(", ")}`;
  }
  const wrong = Object.entries(r.outputs).find(([, o]) => o.type !== kind.outputType);
  if (wrong)
    return `its output ${wrong[0]} is a ${wrong[1].type}; ${kind.name} makes ${kind.outputType}s`;
  return undefined;
}

/** Runs `fn` with a progress line (see taskProgress), cleared when it ends, however it ends. */
async function withProgressLine<T>(
  enabled: boolean,
  fn: (progress: { update: TaskProgress }) => Promise<T>,
): Promise<T> {
  const progress = taskProgress(enabled);
  try {
    return await fn(progress);
  } finally {
    progress.stop();
  }
}

/** The records the given pipelines currently use (every stage whose key is known and cached). */
export function recordsUsedBy(
  store: CacheStore,
  files: string[],
  opts: CommonOptions,
): Set<StageKey> {
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
  return withProgressLine(!opts.json, async (progress) => {
    const store = openCache(opts);
    const keep = files.length ? recordsUsedBy(store, files, opts) : undefined;
    const records = [...store.allRecords()].filter((r) => !keep || keep.has(r.key));
    const started = sinceStart();
    const report = await exportBundle(store, records, fromCwd(opts.output), {
      ...(opts.gzip ? { gzip: true } : {}),
      ...(cacheKeyFromEnv(io().env) ? { key: cacheKeyFromEnv(io().env)! } : {}),
      onProgress: progress.update,
    });
    const durationMs = Math.round(sinceStart() - started);
    if (opts.json) printJson({ ...report, file: opts.output, durationMs });
    else
      stdout().write(
        `wrote ${opts.output}: ${report.records} records, ${report.blobs} blobs (${formatBytes(report.bytes)})${cacheKeyFromEnv(io().env) ? ", signed" : ""} in ${formatDuration(durationMs)}\n`,
      );
    return EXIT.ok;
  });
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
  const { kinds } = await import("../../kinds/registry.js");
  return withProgressLine(!opts.json, async (progress) => {
    const store = openCache(opts, { create: true });
    const started = sinceStart();
    const report = await importBundle(store, fromCwd(file), {
      ...(cacheKeyFromEnv(io().env) ? { key: cacheKeyFromEnv(io().env)! } : {}),
      ...(maxEntryBytes != null ? { maxEntryBytes } : {}),
      check: checkOutputBytes,
      checkRecord: (r) => recordFitsKind(r, kinds),
      onProgress: progress.update,
    });
    const durationMs = Math.round(sinceStart() - started);
    if (opts.json) printJson({ ...report, durationMs });
    else {
      stdout().write(
        `imported ${file}: added ${report.records.added} records and ${report.blobs.added} blobs (${formatBytes(report.blobs.bytes)}); already had ${report.records.had} records and ${report.blobs.had} blobs in ${formatDuration(durationMs)}\n`,
      );
    }
    return EXIT.ok;
  });
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
  // Checked pipelines kept beside the records (src/lang/ir-cache.ts): other builds' and old ones.
  const irs = pruneCachedIrs(join(cacheDir(opts), "ir"), {
    build: currentBuildTag(BUILD_ID, RNNP_VERSION),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
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
      removedCheckedPipelines: irs,
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
  if (irs > 0) stdout().write(`${verb} ${irs} checked pipelines of other builds, or unused\n`);
  if (!opts.dryRun && freed > 0)
    stdout().write(
      stdout().c.dim(
        "LMDB reuses the freed pages for new entries; the file itself does not shrink\n",
      ),
    );
  return EXIT.ok;
}
