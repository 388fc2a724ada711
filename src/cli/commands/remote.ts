import { openPipeline } from "../pipeline.js";
import type { RemoteCache } from "../../cache/remote.js";
import type { Digest, StageKey } from "../../core/digest.js";
import { UserError } from "../../core/diagnostic.js";
import { readLockfile } from "../../plan/lockfile.js";
import { Planner } from "../../plan/planner.js";
import { checkOutputBytes } from "../../run/artifacts.js";
import { remoteFor, type RemoteFlags } from "../config.js";
import {
  EXIT,
  Exit,
  formatBytes,
  openCache,
  pipelineFile,
  printJson,
  runtimeFor,
  type CommonOptions,
} from "../context.js";
import { fromCwd, io, stderr, stdout } from "../io.js";
import { recordFitsKind, recordsUsedBy } from "./cache.js";

type Options = CommonOptions & RemoteFlags & { json?: boolean };

/** The remote cache a push or pull talks to; one is required. */
function remoteOf(opts: Options, write: boolean): RemoteCache {
  const remote = remoteFor(
    opts,
    (m) => stderr().write(stderr().c.yellow(`warning: ${m}\n`)),
    io().cwd,
    write ? "readwrite" : undefined,
  );
  if (!remote)
    throw new UserError("no remote cache to talk to", {
      code: "remote",
      hint: 'give --remote URL, or set RNNP_REMOTE, or "remote" in rnnp.config.json',
    });
  return remote;
}

/**
 * `rnnp cache push [files]`: uploads what the pipelines (or lockfiles) use from this cache, blobs
 * first and verified (a corrupt local blob is never uploaded), so a fresh worker or CI job finds it.
 */
export async function cachePush(files: string[], opts: Options): Promise<number> {
  const remote = remoteOf(opts, true);
  const store = openCache(opts);
  const keys = recordsUsedBy(store, files.length ? files : [pipelineFile()], opts);
  let pushed = 0;
  let had = 0;
  const corrupt: string[] = [];
  for (const key of keys) {
    const record = store.getRecord(key);
    if (!record) continue;
    if (await remote.hasRecord(key)) {
      had++;
      continue;
    }
    const blobs = new Map<Digest, Uint8Array>();
    for (const o of Object.values(record.outputs)) {
      const bytes = store.getIntactBlob(o.digest);
      if (bytes) blobs.set(o.digest, bytes);
    }
    if (blobs.size !== new Set(Object.values(record.outputs).map((o) => o.digest)).size) {
      corrupt.push(key);
      continue;
    }
    const before = remote.failures;
    await remote.push(record, blobs);
    if (remote.failures === before) pushed++;
  }
  return report("pushed", remote, { moved: pushed, had, missing: [], corrupt, opts });
}

/**
 * `rnnp cache pull [files]`: fetches what the pipelines (or lockfiles) use from the remote cache,
 * each record and its blobs checked as `run --remote` checks them, committed in one transaction.
 */
export async function cachePull(files: string[], opts: Options): Promise<number> {
  const remote = remoteOf(opts, false);
  const store = openCache(opts, { create: true });
  const { kinds } = await import("../../kinds/registry.js");
  let pulled = 0;
  let had = 0;
  const missing: string[] = [];
  const fetch = async (key: StageKey): Promise<boolean> => {
    if (store.hasRecord(key)) {
      had++;
      return true;
    }
    const got = await remote
      .fetchStage(key, (d) => store.hasBlob(d), {
        output: checkOutputBytes,
        record: (r) => recordFitsKind(r, kinds),
      })
      .catch((e: Error) => {
        stderr().write(stderr().c.yellow(`warning: ${e.message}\n`));
        return undefined;
      });
    if (!got) return false;
    store.importAll([got.record], got.blobs.keys(), (d) => got.blobs.get(d)!);
    pulled++;
    return true;
  };
  for (const file of files.length ? files : [pipelineFile()]) {
    if (file.endsWith(".lock")) {
      const lock = readLockfile(fromCwd(file));
      if (!lock) throw new Exit(EXIT.invalid, `no such lockfile: ${file}`);
      for (const [name, s] of Object.entries(lock.stages))
        if (!(await fetch(s.key))) missing.push(name);
      continue;
    }
    // A pipeline's keys are known stage by stage, as the outputs above them arrive.
    const ir = openPipeline(file, opts.param ?? []);
    const planner = new Planner(ir, store, runtimeFor(ir, opts));
    for (const s of planner.order) {
      const res = planner.resolve(s.name);
      if (res.state !== "keyed") missing.push(s.name);
      else if (!res.record) {
        if (await fetch(res.key)) {
          planner.forget(s.name);
          planner.resolve(s.name); // its outputs key the stages below it
        } else missing.push(s.name);
      } else had++;
    }
  }
  return report("pulled", remote, { moved: pulled, had, missing, corrupt: [], opts });
}

function report(
  verb: "pushed" | "pulled",
  remote: RemoteCache,
  r: { moved: number; had: number; missing: string[]; corrupt: string[]; opts: Options },
): number {
  const bytes = verb === "pushed" ? remote.stats.uploadedBytes : remote.stats.downloadedBytes;
  const ok = remote.failures === 0 && r.corrupt.length === 0;
  if (r.opts.json)
    printJson({
      remote: remote.url,
      [verb]: r.moved,
      already: r.had,
      bytes,
      ...(verb === "pulled" ? { missing: r.missing } : {}),
      ...(verb === "pushed" ? { corrupt: r.corrupt } : {}),
      failures: remote.failures,
    });
  else {
    const where = verb === "pushed" ? `to ${remote.url}` : `from ${remote.url}`;
    stdout().write(
      `${verb} ${r.moved} record${r.moved === 1 ? "" : "s"} (${formatBytes(bytes)}) ${where}; ${r.had} ${verb === "pushed" ? "were there" : "were here"} already\n`,
    );
    if (r.missing.length)
      stdout().write(
        `not on the remote (run them, or push them from where they ran): ${r.missing.join(", ")}\n`,
      );
    if (r.corrupt.length)
      stderr().write(
        stderr().c.red(
          `error: ${r.corrupt.length} record(s) have corrupt blobs here and were not pushed: run \`rnnp cache verify\`\n`,
        ),
      );
  }
  return ok ? EXIT.ok : EXIT.failed;
}
