import { latestCheckpoint, resumeBlocked } from "./checkpoints.js";
import { canonicalJson, type Json } from "../core/canonical.js";
import { short, type StageKey } from "../core/digest.js";
import type { StageRecord } from "../cache/record.js";
import type { Fingerprint } from "./fingerprint.js";
import type { Planner } from "./planner.js";
import { memberKey, slotOf } from "../lang/ir.js";
import { runtimeText } from "../runtime/descriptor.js";

/**
 * `rnnp why`: what differs between a stage's current fingerprint and the nearest record the cache
 * holds for it, field by field, following changed inputs up to the stage that changed them.
 */
export interface Explanation {
  /** up-to-date: cached; changed: the differences; new: never ran; waiting: an upstream stage is not built. */
  state: "up-to-date" | "changed" | "new" | "waiting" | "invalid";
  /** One entry per difference; nested entries say why an input changed. */
  reasons: Reason[];
  /** For a stale resumable stage (train): the checkpoint it will resume from, or why it cannot. */
  resume?: string;
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

export function explain(planner: Planner, name: string, depth = 0): Explanation {
  const res = planner.resolve(name);
  if (res.state === "invalid")
    return { state: "invalid", reasons: res.diagnostics.map((d) => ({ text: d.message })) };
  if (res.state === "waiting") {
    return {
      state: "waiting",
      reasons: res.on.map((u) => ({
        text: `waits on \`${u}\``,
        ...(depth < MAX_DEPTH ? { because: explain(planner, u, depth + 1).reasons } : {}),
      })),
    };
  }
  if (res.record)
    return {
      state: "up-to-date",
      reasons: [
        { text: `cached since ${res.record.provenance.createdAt} (key ${short(res.key)})` },
      ],
    };
  const old = nearest(planner, name, res.fingerprint);
  const resume = resumeNote(planner, name, res.fingerprint);
  const extra = resume !== undefined ? { resume } : {};
  if (!old)
    return {
      state: "new",
      reasons: [{ text: "never run: no cached record of this stage" }],
      ...extra,
    };
  return {
    state: "changed",
    reasons: differences(planner, name, res.fingerprint, old, depth, (k) =>
      planner.store.getRecord<Fingerprint>(k),
    ),
    ...extra,
  };
}

/** For a resumable stage (train): the checkpoint it will resume from, or why it cannot. */
function resumeNote(planner: Planner, name: string, fp: Fingerprint): string | undefined {
  const kind = planner.stage(name).kind;
  if (!kind.resumable) return undefined;
  const blocked = resumeBlocked(kind, fp.params);
  if (blocked) return `cannot resume from a checkpoint: ${blocked}`;
  const found = latestCheckpoint(kind, fp, (k) => planner.store.getRecord(k) !== undefined);
  const unit = kind.resumable.param.replace(/s$/, "");
  return found
    ? `will resume from ${unit} ${found.step}: a checkpoint of this training is cached`
    : `no checkpoint of this training below ${unit} ${fp.params[kind.resumable.param]} is cached: it starts from the first`;
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
  return differences(planner, name, res.fingerprint, past, 0, lookup);
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
): Reason[] {
  const stage = planner.stage(name);
  const prev = old.manifest;
  const out: Reason[] = [];
  if (cur.version !== prev.version)
    out.push({
      text: `rnnp's \`${cur.kind}\` implementation changed (version ${prev.version} -> ${cur.version})`,
    });
  for (const k of unionKeys(cur.params, prev.params)) {
    const a = prev.params[k];
    const b = cur.params[k];
    if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) continue;
    const via = stage.paramOrigins[k]?.map((p) => `params.${p}`).join(", ");
    out.push({ text: `param \`${k}\` ${show(a)} -> ${show(b)}${via ? ` (from ${via})` : ""}` });
  }
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
  for (const slot of inputKeys(cur.inputs, prev.inputs, stage.inputs)) {
    if (canonicalJson(inputAt(cur, slot) ?? null) === canonicalJson(inputAt(prev, slot) ?? null))
      continue;
    const from = stage.inputs[slot]?.stage;
    const reason: Reason = {
      text: from ? `input \`${slot}\` (from \`${from}\`) changed` : `input \`${slot}\` changed`,
    };
    const before = old.inputsFrom[slot];
    if (from && before && depth < MAX_DEPTH) {
      const because = upstreamChange(planner, from, before.key, depth + 1, lookup);
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
): Reason[] {
  const now = planner.resolve(name);
  const old = lookup(oldKey);
  if (now.state !== "keyed")
    return explain(planner, name, depth).reasons.map((r) => ({
      ...r,
      text: `\`${name}\`: ${r.text}`,
    }));
  if (!old) return [];
  if (now.key === oldKey)
    return [{ text: `\`${name}\` gave different bytes from the same inputs (not deterministic?)` }];
  return differences(planner, name, now.fingerprint, old, depth, lookup).map((r) => ({
    ...r,
    text: `\`${name}\`: ${r.text}`,
  }));
}

/**
 * The inputs to compare, as `inputsFrom` files them: a slot, or `slot.name` for each of the named
 * references given to one slot (so each is traced to its own producer).
 */
function inputKeys(
  a: Fingerprint["inputs"],
  b: Fingerprint["inputs"],
  refs: Readonly<Record<string, { member?: string }>>,
): string[] {
  const named = (slot: string) =>
    Object.entries(refs).some(([k, r]) => r.member !== undefined && slotOf(k) === slot);
  return unionKeys(a, b).flatMap((slot) =>
    named(slot)
      ? unionKeys(asMembers(a[slot]), asMembers(b[slot])).map((m) => memberKey(slot, m))
      : [slot],
  );
}

const asMembers = (v: Fingerprint["inputs"][string] | undefined): object =>
  typeof v === "object" ? v : {};

/** The digest (or digests) a fingerprint records for an input key of `inputKeys`. */
function inputAt(fp: Fingerprint, key: string): Json | undefined {
  const slot = slotOf(key);
  const v = Object.hasOwn(fp.inputs, slot) ? fp.inputs[slot] : undefined;
  if (key === slot) return v;
  const m = asMembers(v) as Record<string, Json>;
  const name = key.slice(slot.length + 1);
  return Object.hasOwn(m, name) ? m[name] : undefined;
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
