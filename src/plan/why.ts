import { canonicalJson, type Json } from "../core/canonical.js";
import { short, type StageKey } from "../core/digest.js";
import type { StageRecord } from "../cache/record.js";
import type { Fingerprint } from "./fingerprint.js";
import type { Planner } from "./planner.js";
import { runtimeText } from "../runtime/descriptor.js";
import { type Lockfile, lockLookup } from "./lockfile.js";
import type { StageIR } from "../lang/ir.js";

/**
 * `rnnp why`: what differs between a stage's current fingerprint and the nearest record the cache
 * holds for it, field by field, following changed inputs up to the stage that changed them.
 */
export interface Explanation {
  /** up-to-date: cached; changed: the differences; new: never ran; waiting: an upstream stage is not built. */
  state: "up-to-date" | "changed" | "new" | "waiting" | "invalid";
  /** One entry per difference; nested entries say why an input changed. */
  reasons: Reason[];
}

export interface Reason {
  text: string;
  because?: Reason[];
}

const MAX_DEPTH = 8;

/** What a stage was: the fingerprint its key hashed and where its inputs came from (a cache record, or a lock entry). */
export interface Past {
  manifest: Fingerprint;
  inputsFrom: Record<string, { stage: string; key: StageKey }>;
}

/** Finds the past of a key; the cache by default, a lockfile's entries in frozen runs. */
export type PastLookup = (key: StageKey) => Past | undefined;

/**
 * How to explain: against the lockfile when there is one (the pipeline as last run and committed),
 * else against the nearest cached record. `seen` holds the upstream stages already explained, so a
 * root cause reached by several paths is stated once.
 */
export interface ExplainOptions {
  lock?: Lockfile;
  seen?: Set<string>;
}

export function explain(
  planner: Planner,
  name: string,
  depth = 0,
  opts: ExplainOptions = {},
): Explanation {
  const seen = opts.seen ?? new Set<string>();
  const res = planner.resolve(name);
  if (res.state === "invalid")
    return { state: "invalid", reasons: res.diagnostics.map((d) => ({ text: d.message })) };
  if (res.state === "waiting") {
    return {
      state: "waiting",
      reasons: [
        // Its own changes first: an upstream change must not hide them.
        ...ownChanges(planner, name, opts.lock),
        ...res.on.map((u): Reason => {
          if (seen.has(u)) return { text: `waits on \`${u}\` (see above)` };
          seen.add(u);
          return {
            text: `waits on \`${u}\``,
            ...(depth < MAX_DEPTH
              ? { because: explain(planner, u, depth + 1, { ...opts, seen }).reasons }
              : {}),
          };
        }),
      ],
    };
  }
  if (res.record)
    return {
      state: "up-to-date",
      reasons: [
        { text: `cached since ${res.record.provenance.createdAt} (key ${short(res.key)})` },
      ],
    };
  const fromCache = (k: StageKey) => planner.store.getRecord<Fingerprint>(k);
  const locked = opts.lock?.stages[name];
  if (locked && locked.key !== res.key && locked.kind === res.fingerprint.kind) {
    const fromLock = lockLookup(opts.lock!);
    return {
      state: "changed",
      reasons: differences(
        planner,
        name,
        res.fingerprint,
        locked,
        depth,
        (k) => fromLock(k) ?? fromCache(k),
        seen,
      ),
    };
  }
  const old = nearest(planner, name, res.fingerprint);
  if (!old)
    return {
      state: "new",
      reasons: [
        {
          text:
            locked?.key === res.key
              ? "the lockfile records this stage, but this cache does not hold it: run builds it (or `rnnp cache import` a bundle)"
              : "never run: no cached record of this stage",
        },
      ],
    };
  return {
    state: "changed",
    reasons: differences(planner, name, res.fingerprint, old, depth, fromCache, seen),
  };
}

/**
 * A stage's own parameter changes while it cannot be keyed (an upstream stage is not built): its
 * params as written now against the lock's entry, else its most recent cached record.
 */
function ownChanges(planner: Planner, name: string, lock: Lockfile | undefined): Reason[] {
  const stage = planner.stage(name);
  const before =
    lock?.stages[name]?.manifest.params ?? latestRecord(planner, name)?.manifest.params;
  if (
    !before ||
    (lock?.stages[name]?.kind !== undefined && lock.stages[name]!.kind !== stage.kind.name)
  )
    return [];
  return paramChanges(stage, stage.params as Record<string, Json>, before);
}

function latestRecord(planner: Planner, name: string): StageRecord<Fingerprint> | undefined {
  for (const key of planner.store.historyOf(planner.ir.name, name)) {
    const r = planner.store.getRecord<Fingerprint>(key);
    if (r) return r;
  }
  return undefined;
}

/** The differences between a stage's current fingerprint and a given past one (a lock entry's). */
export function explainAgainst(
  planner: Planner,
  name: string,
  past: Past,
  lookup: PastLookup,
): Reason[] {
  const res = planner.resolve(name);
  if (res.state !== "keyed") return explain(planner, name).reasons;
  return differences(planner, name, res.fingerprint, past, 0, lookup, new Set());
}

/** The cached record of this stage (by pipeline and stage name) that differs from `fp` in the fewest fields. */
function nearest(
  planner: Planner,
  name: string,
  fp: Fingerprint,
): StageRecord<Fingerprint> | undefined {
  let best: StageRecord<Fingerprint> | undefined;
  let bestScore = Infinity;
  for (const key of planner.store.historyOf(planner.ir.name, name)) {
    const r = planner.store.getRecord<Fingerprint>(key);
    if (!r || r.manifest.kind !== fp.kind) continue;
    const score = fieldDiffs(fp, r.manifest);
    if (score < bestScore) (best = r), (bestScore = score);
  }
  return best;
}

function fieldDiffs(a: Fingerprint, b: Fingerprint): number {
  const count = (x: Record<string, unknown>, y: Record<string, unknown>) =>
    [...new Set([...Object.keys(x), ...Object.keys(y)])].filter(
      (k) => canonicalJson(x[k] ?? null) !== canonicalJson(y[k] ?? null),
    ).length;
  return (
    count(a.params, b.params) +
    count(a.inputs, b.inputs) +
    count(a.files, b.files) +
    (a.version !== b.version ? 1 : 0) +
    (canonicalJson(a.runtime ?? null) !== canonicalJson(b.runtime ?? null) ? 1 : 0)
  );
}

function differences(
  planner: Planner,
  name: string,
  cur: Fingerprint,
  old: Past,
  depth: number,
  lookup: PastLookup,
  seen: Set<string>,
): Reason[] {
  const stage = planner.stage(name);
  const prev = old.manifest;
  const out: Reason[] = [];
  if (cur.version !== prev.version)
    out.push({
      text: `rnnp's \`${cur.kind}\` implementation changed (version ${prev.version} -> ${cur.version})`,
    });
  out.push(...paramChanges(stage, cur.params, prev.params));
  for (const path of unionKeys(cur.files, prev.files)) {
    if (cur.files[path] === prev.files[path]) continue;
    out.push({
      text: !prev.files[path]
        ? `now reads file \`${path}\``
        : !cur.files[path]
          ? `no longer reads file \`${path}\``
          : `file \`${path}\` content changed`,
    });
  }
  for (const slot of unionKeys(cur.inputs, prev.inputs)) {
    if (canonicalJson(cur.inputs[slot] ?? null) === canonicalJson(prev.inputs[slot] ?? null))
      continue;
    const from = stage.inputs[slot]?.stage;
    const reason: Reason = {
      text: from ? `input \`${slot}\` (from \`${from}\`) changed` : `input \`${slot}\` changed`,
    };
    const before = old.inputsFrom[slot];
    if (from && before && depth < MAX_DEPTH) {
      const because = upstreamChange(planner, from, before.key, depth + 1, lookup, seen);
      if (because.length) reason.because = because;
    }
    out.push(reason);
  }
  if (canonicalJson(cur.tools ?? null) !== canonicalJson(prev.tools ?? null)) {
    out.push({
      text: `external programs ${canonicalJson(prev.tools ?? {})} -> ${canonicalJson(cur.tools ?? {})}`,
    });
  }
  if (canonicalJson(cur.runtime ?? null) !== canonicalJson(prev.runtime ?? null)) {
    out.push({
      text: `numeric runtime ${prev.runtime ? runtimeText(prev.runtime) : "none"} -> ${cur.runtime ? runtimeText(cur.runtime) : "none"}`,
    });
  }
  // The seed follows from the other fields; on its own it changed because the pipeline seed did.
  if (out.length === 0 && cur.seed !== prev.seed) out.push({ text: "the pipeline seed changed" });
  return out.length
    ? out
    : [{ text: "no field differs from the nearest record (its blobs may have been removed)" }];
}

/** Why an upstream stage's output differs from what it gave when `oldKey` was its key. */
function upstreamChange(
  planner: Planner,
  name: string,
  oldKey: StageKey,
  depth: number,
  lookup: PastLookup,
  seen: Set<string>,
): Reason[] {
  // A cause reached again by another path is stated once, where it was first met.
  if (seen.has(name)) return [{ text: `\`${name}\` changed (see above)` }];
  seen.add(name);
  const now = planner.resolve(name);
  const old = lookup(oldKey);
  if (now.state !== "keyed")
    return explain(planner, name, depth, { seen }).reasons.map((r) => ({
      ...r,
      text: `\`${name}\`: ${r.text}`,
    }));
  if (!old) return [];
  if (now.key === oldKey)
    return [{ text: `\`${name}\` gave different bytes from the same inputs (not deterministic?)` }];
  return differences(planner, name, now.fingerprint, old, depth, lookup, seen).map((r) => ({
    ...r,
    text: `\`${name}\`: ${r.text}`,
  }));
}

/** Param by param, leaf by leaf, with the pipeline params each came from. */
function paramChanges(
  stage: StageIR,
  cur: Record<string, Json>,
  prev: Record<string, Json>,
): Reason[] {
  const out: Reason[] = [];
  for (const k of unionKeys(cur, prev)) {
    const a = prev[k];
    const b = cur[k];
    if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) continue;
    // Each difference at its leaf: `param \`layers\`: lstm.units 32 -> 64`, not two truncated lists.
    for (const d of leafDiffs(a, b, "")) {
      // Origins are filed by param (`epochs`) or block item (`layers.1`).
      const keys = [k, ...d.at.map((_, i) => [k, ...d.at.slice(0, i + 1)].join("."))];
      const via = [...new Set(keys.flatMap((key) => stage.paramOrigins[key] ?? []))];
      out.push({
        text: `param \`${k}\`${d.path ? `: ${d.path}` : ""} ${show(d.before)} -> ${show(d.after)}${via.length ? ` (from ${via.map((p) => `params.${p}`).join(", ")})` : ""}`,
      });
    }
  }
  return out;
}

interface LeafDiff {
  /** Where in the value: `lstm.units`, `[2]`, `files.male`; "" for the value itself. */
  path: string;
  /** The same place as keys and indices: ["1", "units"]. */
  at: string[];
  before: Json | undefined;
  after: Json | undefined;
}

const isCall = (v: Json | undefined): v is { call: string; args: Record<string, Json> } =>
  v !== null &&
  typeof v === "object" &&
  !Array.isArray(v) &&
  typeof v.call === "string" &&
  typeof v.args === "object";

/**
 * The leaves where two values differ. Calls (`adam(...)`, a layer) are named by their call, lists of
 * calls (a model's layers) by the layer's name where it is unique (`lstm`) and by position where not
 * (`lstm#2`); a list of another length or a different call is one difference at that level.
 */
export function leafDiffs(
  a: Json | undefined,
  b: Json | undefined,
  path: string,
  at: string[] = [],
): LeafDiff[] {
  if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) return [];
  const join = (p: string, k: string) => (p ? `${p}.${k}` : k);
  if (isCall(a) && isCall(b) && a.call === b.call) {
    const block = (x: Json) => (x as { block?: Json }).block;
    return [
      ...unionKeys(a.args, b.args).flatMap((k) =>
        leafDiffs(a.args[k], b.args[k], join(path, k), [...at, k]),
      ),
      ...leafDiffs(block(a), block(b), path, at),
    ];
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    const names = a.map((x, i) => (isCall(x) && isCall(b[i]) ? x.call : undefined));
    return a.flatMap((x, i) => {
      const n = names[i];
      const label =
        n === undefined
          ? `[${i}]`
          : names.filter((m) => m === n).length === 1
            ? n
            : `${n}#${names.slice(0, i + 1).filter((m) => m === n).length}`;
      return leafDiffs(x, b[i], join(path, label), [...at, String(i)]);
    });
  }
  if (
    a !== null &&
    b !== null &&
    typeof a === "object" &&
    typeof b === "object" &&
    !Array.isArray(a) &&
    !Array.isArray(b) &&
    !isCall(a) &&
    !isCall(b)
  )
    return unionKeys(a, b).flatMap((k) => leafDiffs(a[k], b[k], join(path, k), [...at, k]));
  return [{ path, at, before: a, after: b }];
}

function unionKeys(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function show(v: Json | undefined): string {
  if (v === undefined) return "(unset)";
  const s = canonicalJson(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One line for `status`: the first reason, with the first nested reason in parentheses. */
export function summarize(e: Explanation): string {
  const first = e.reasons[0];
  if (!first) return e.state;
  const inner = first.because?.[0];
  const more = e.reasons.length > 1 ? ` (+${e.reasons.length - 1} more)` : "";
  return `${first.text}${inner ? ` <- ${inner.text}` : ""}${more}`;
}
