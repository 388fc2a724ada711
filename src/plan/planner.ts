import { lstatSync } from "node:fs";
import { join, relative } from "node:path";
import type { Digest, StageKey } from "../core/digest.js";
import { type Diagnostic, diagnostic, UserError } from "../core/diagnostic.js";
import { ancestors, Digraph, topologicalOrder } from "../core/graph.js";
import type { CacheStore } from "../cache/store.js";
import type { StageRecord } from "../cache/record.js";
import { type InputRef, inputsBySlot, type PipelineIR, type StageIR } from "../lang/ir.js";
import { resolveDataPath } from "../project/paths.js";
import { RuntimeUnavailable, type Runtime } from "../runtime/descriptor.js";
import { deriveSeed, keyOf, seedBasis, type Fingerprint } from "./fingerprint.js";
import { FileHasher, NotAFile } from "./files.js";

/** What the planner knows about a stage right now. */
export type Resolution =
  /**
   * Inputs known, key computed; `record` present means a cache hit. (The canonical JSON the key
   * hashes is not kept: a cached run of 10,000 stages would hold 10,000 of them for a lock it
   * rarely rewrites.)
   */
  | {
      state: "keyed";
      fingerprint: Fingerprint;
      key: StageKey;
      record?: StageRecord<Fingerprint>;
    }
  /** Some upstream stage has not produced its outputs yet, so the key cannot be known. */
  | { state: "waiting"; on: string[] }
  /** The key cannot be computed at all (e.g. a data file is missing). */
  | { state: "invalid"; diagnostics: Diagnostic[] };

/**
 * The DAG of a checked pipeline and the keys of its stages. Keys are computed from upstream output
 * digests, so a stage below a stale one is "waiting" until that one has run (or been found cached):
 * the runner reports outputs with `produced` as it goes.
 */
export class Planner {
  /** An edge from each stage to each stage that reads its outputs. */
  readonly graph = new Digraph();
  /** Topological, with source order breaking ties, so output is stable and reads like the file. */
  readonly order: readonly StageIR[];
  private readonly byName = new Map<string, StageIR>();
  private readonly outputs = new Map<string, Record<string, Digest>>();
  private readonly resolved = new Map<string, Resolution>();
  private readonly hasher: FileHasher;

  constructor(
    readonly ir: PipelineIR,
    readonly store: CacheStore,
    /** The numeric runtime backend-dependent stages are keyed on, or why there is none here. */
    readonly runtime?: Runtime | RuntimeUnavailable,
  ) {
    this.hasher = new FileHasher(store);
    const index = new Map<string, number>();
    ir.stages.forEach((s, i) => {
      this.byName.set(s.name, s);
      this.graph.addNode(s.name);
      index.set(s.name, i);
    });
    let forward = true;
    ir.stages.forEach((s, i) => {
      for (const ref of Object.values(s.inputs)) {
        this.graph.addEdge(ref.stage, s.name);
        if (!(index.get(ref.stage)! < i)) forward = false;
      }
    });
    // When every stage reads only stages written before it (as most pipelines do, and a sweep's
    // variants are placed), source order is the topological order with ties broken by source
    // order: the smallest stage not placed yet always has its inputs placed.
    this.order = forward
      ? ir.stages
      : topologicalOrder(this.graph, (n) => index.get(n)!).order.map((n) => this.stage(n));
  }

  /** Whether the pipeline has a stage of this name. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  stage(name: string): StageIR {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no stage ${name}`);
    return s;
  }

  upstream(name: string): string[] {
    return [...new Set(Object.values(this.stage(name).inputs).map((r) => r.stage))];
  }

  /** Every stage `name` depends on, directly or not, plus itself, in topological order. */
  closure(names: readonly string[]): StageIR[] {
    for (const n of names) this.stage(n); // an unknown name is a bug in the caller
    const want = ancestors(this.graph, names);
    return this.order.filter((s) => want.has(s.name));
  }

  /** Records what a stage produced (ran, or found cached), which lets its dependents be keyed. */
  produced(name: string, outputs: Record<string, Digest>): void {
    this.outputs.set(name, outputs);
    for (const next of this.graph.successors(name)) this.resolved.delete(next);
  }

  outputsOf(name: string): Record<string, Digest> | undefined {
    return this.outputs.get(name);
  }

  resolve(name: string): Resolution {
    let r = this.resolved.get(name);
    if (!r) {
      r = this.compute(this.stage(name));
      this.resolved.set(name, r);
      if (r.state === "keyed" && r.record) this.produced(name, digestsOf(r.record));
    }
    return r;
  }

  /** Forgets a cache hit whose blobs turned out to be missing or corrupt, so the stage reruns. */
  forget(name: string): void {
    this.resolved.delete(name);
    this.outputs.delete(name);
  }

  private compute(s: StageIR): Resolution {
    const inputs: Fingerprint["inputs"] = {};
    const waiting: string[] = [];
    for (const [slot, given] of inputsBySlot(s.inputs)) {
      const before = waiting.length;
      for (const r of given instanceof Map ? given.values() : [given])
        if (!this.outputs.has(r.stage)) waiting.push(r.stage);
      if (waiting.length > before) continue;
      const outs = (r: InputRef) => this.outputs.get(r.stage)!;
      const one = (r: InputRef) =>
        r.output !== undefined ? outs(r)[r.output]! : Object.values(outs(r))[0]!;
      if (given instanceof Map)
        // Named references: name -> the digest of the artifact each names (as a bundle's parts).
        inputs[slot] = Object.fromEntries([...given].map(([name, r]) => [name, one(r)]));
      else if (s.kind.inputs[slot]!.bundle)
        inputs[slot] = given.output !== undefined ? { [given.output]: one(given) } : outs(given);
      else inputs[slot] = one(given);
    }
    if (waiting.length) return { state: "waiting", on: [...new Set(waiting)] };

    const files: Record<string, Digest> = {};
    for (const path of s.kind.files?.(s.params as never) ?? []) {
      const abs = resolveDataPath(path, this.ir.dir);
      try {
        files[path] = this.hasher.digest(abs);
      } catch (e) {
        const { what, hint } = unreadable(path, abs, e as NodeJS.ErrnoException);
        const span = s.paramSpans.path ?? s.nameSpan;
        return invalid(
          diagnostic(
            "missing-file",
            `stage \`${s.name}\`: ${what}`,
            { file: this.ir.file, span },
            { hint },
          ),
        );
      }
    }

    if (s.kind.backendDependent && (!this.runtime || this.runtime instanceof RuntimeUnavailable)) {
      const why = this.runtime instanceof RuntimeUnavailable ? this.runtime : undefined;
      return invalid(
        diagnostic(
          "no-runtime",
          `stage \`${s.name}\` (${s.kind.name}) needs a numeric backend${why ? `: ${why.message}` : ""}`,
          { file: this.ir.file, span: s.nameSpan },
          { hint: why?.hint },
        ),
      );
    }
    let tools: Record<string, string> | undefined;
    try {
      tools = s.kind.tools?.();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      return invalid(
        e.toDiagnostic(
          { file: this.ir.file, span: s.nameSpan },
          `stage \`${s.name}\` (${s.kind.name}): `,
        ),
      );
    }
    const base: Omit<Fingerprint, "seed"> = {
      format: 1,
      kind: s.kind.name,
      version: s.kind.version,
      params: s.params,
      inputs,
      files,
      ...(s.kind.backendDependent ? { runtime: this.runtime as Runtime } : {}),
      ...(tools ? { tools } : {}),
    };
    const fingerprint: Fingerprint = s.kind.random
      ? {
          ...base,
          seed: deriveSeed(
            this.ir.seed,
            seedBasis({ ...base, params: computingParams(s) }, s.kind.seedIgnores),
          ),
        }
      : base;
    const key = keyOf(fingerprint);
    // The fingerprint just hashed: a record whose manifest is the same needs no hashing again.
    const record = this.store.getRecord<Fingerprint>(key, fingerprint);
    return { state: "keyed", fingerprint, key, ...(record ? { record } : {}) };
  }
}

/** A stage's parameters but those that only observe the computation (Param.observing): they do not move the seed. */
function computingParams(s: StageIR): StageIR["params"] {
  return Object.fromEntries(
    Object.entries(s.params).filter(
      ([name]) => !(Object.hasOwn(s.kind.params, name) && s.kind.params[name]!.observes),
    ),
  );
}

function invalid(...diagnostics: Diagnostic[]): Resolution {
  return { state: "invalid", diagnostics };
}

export function digestsOf(record: StageRecord<unknown>): Record<string, Digest> {
  return Object.fromEntries(Object.entries(record.outputs).map(([k, o]) => [k, o.digest]));
}

/** How a data path is read (data/read.ts, a layer the planner may not import, says it too). */
const DATA_PATH_HINT =
  "paths are relative to the pipeline file; `npm:<package>/<file>` reads from an installed package";

/**
 * Why a data file (or folder) PATH, at ABS, could not be hashed, and what to do. The failing file
 * may be one inside a folder: a link there that leads nowhere, or round a loop, is named as such,
 * not as the folder missing (which it is not).
 */
export function unreadable(
  path: string,
  abs: string,
  e: NodeJS.ErrnoException,
): { what: string; hint: string } {
  const inside = e.path?.startsWith(`${abs}/`) ? join(path, relative(abs, e.path)) : undefined;
  if (e instanceof NotAFile)
    return {
      what: `cannot read ${path}: ${inside ?? path} is ${e.kind}, not a file`,
      hint: "a stage's data is hashed first and read again when the stage runs, which a pipe or device cannot give twice: save what it gives to a file, and name that",
    };
  if (e.code === "ENOENT" && inside === undefined)
    return {
      what: `file not found: ${path}`,
      hint: DATA_PATH_HINT,
    };
  if (e.code === "ENOENT" && isLink(e.path!))
    return {
      what: `cannot read ${path}: ${inside} is a link to a file that does not exist`,
      hint: "remove the link, or put back what it leads to",
    };
  if (e.code === "ENOENT")
    return {
      what: `cannot read ${path}: ${inside} went away while it was read`,
      hint: "run again once nothing is changing the folder",
    };
  if (e.code === "ELOOP")
    return {
      what: `cannot read ${path}: ${inside ?? path} is a link that leads round in a loop`,
      hint: "a link on the way leads back to itself (directly, or through other links): remove it or point it at a file",
    };
  return {
    what: `cannot read ${path}: ${e.message}`,
    hint: DATA_PATH_HINT,
  };
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
