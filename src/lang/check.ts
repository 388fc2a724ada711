import { dirname, resolve } from "node:path";
import type * as A from "../../grammar/ast.js";
import type { ArtifactInfo } from "../artifacts/index.js";
import type { Json } from "../core/canonical.js";
import { Collector, type Diagnostic, type Span } from "../core/diagnostic.js";
import { cycles, Digraph, describeCycle, topologicalOrder } from "../core/graph.js";
import { BACKENDS, KERNELS } from "../runtime/descriptor.js";
import type { InputRef, PipelineIR, StageIR } from "./ir.js";
import {
  applyOverrides,
  evaluateParams,
  type ParamDecl,
  paramGraph,
  paramsUsedByParams,
  readParams,
  reportParamCycles,
} from "./params.js";
import { draftStage, type StageDraft } from "./stages.js";
import { didYouMean } from "./suggest.js";
import { expandSweep, literal, readSweep, type Sweep } from "./sweep.js";
import { checkValue, type PipelineParam } from "./values.js";

/** Pipeline-wide settings (`seed 42`): their names and types. */
const SETTINGS = {
  seed: { t: "number", int: true, min: 0, max: 2 ** 32 - 1 },
  backend: { t: "string", oneOf: BACKENDS },
  kernels: { t: "string", oneOf: KERNELS },
  /** Read by sweep.ts: an object of param -> list of values. */
  sweep: { t: "map", of: { t: "list", of: { t: "number" } } },
} as const;

/** The names of the pipeline-wide settings, for tools (the editor grammar, completion). */
export const SETTING_NAMES: readonly string[] = Object.keys(SETTINGS);

export interface Override {
  name: string;
  value: A.Value;
  /** As typed after `=`, for messages. */
  text: string;
}

/**
 * Semantic checks over a parsed pipeline, pass by pass: settings, params (evaluated, in dependency
 * order), stages (kinds, inputs, parameters), references between stages, cycles, the kinds' own
 * rules; then the IR, with sweeps fanned out. Every pass reports into one collector and goes on, so
 * one run of `rnnp validate` shows every error of a file.
 */
export function check(
  ast: A.PipelineAst,
  file: string,
  overrides: readonly Override[] = [],
): { ir?: PipelineIR; diagnostics: Diagnostic[] } {
  const out = new Collector(file);
  const settings = readSettings(ast, out);
  const declared = readParams(ast, out);
  const stageDecls = readStageDecls(ast, out);
  const sweep = settings.sweep ? readSweep(settings.sweep, declared, out) : new Map();
  const usedByParams = paramsUsedByParams(declared); // as written: -P must not make a param unused
  applyOverrides(declared, overrides, out);
  for (const o of overrides) sweep.delete(o.name); // -P pins a swept param to one value
  const uses = paramGraph(declared);
  reportParamCycles(declared, uses, out);
  const scope = { file, stageNames: new Set(stageDecls.keys()), used: new Set<string>(), out };
  const params = evaluateParams(declared, uses, scope);
  const drafts = draftStages(stageDecls, { ...scope, params });
  const order = reportCycles(drafts, out);
  const outputs = typeReferences(drafts, order, out);
  const infos = applyKindRules(drafts, order, out);
  warnUnusedParams(declared, new Set([...scope.used, ...usedByParams]), sweep, out);
  if (out.hasErrors) return { diagnostics: out.diagnostics };

  const toIR = irBuilder(outputs);
  const stages =
    sweep.size === 0
      ? [...drafts.values()].map((d) => toIR(d))
      : expandSweep({
          drafts,
          order,
          sweep,
          declared,
          paramGraph: uses,
          file,
          stageNames: scope.stageNames,
          out,
          toIR,
          kindRules: (d, into) => checkKindRules(d, inputInfos(d, infos), into),
        });
  if (out.hasErrors) return { diagnostics: out.diagnostics };
  return {
    ir: {
      file,
      dir: dirname(resolve(file)),
      name: ast.name.text,
      ...settings.values,
      params: paramValues(params),
      ...(sweep.size ? { sweep: sweptValues(sweep) } : {}),
      stages,
    },
    diagnostics: out.diagnostics,
  };
}

// ---- the passes, in the order check() runs them ----------------------------------------------------

interface Settings {
  values: { seed: number; backend?: string; kernels?: string };
  /** Read once the params are known. */
  sweep?: A.Value;
}

/** `seed 42`, `backend "wasm"`, `kernels "fused"`, `sweep {...}`: known names, typed, each once. */
function readSettings(ast: A.PipelineAst, out: Collector): Settings {
  const settings: Settings = { values: { seed: 0 } };
  const seen = new Map<string, Span>();
  const scope = {
    file: out.file!,
    params: new Map(),
    stageNames: new Set<string>(),
    used: new Set<string>(),
    out,
  };
  for (const item of ast.items) {
    if (item.type !== "setting") continue;
    const name = item.name.text;
    if (!Object.hasOwn(SETTINGS, name)) {
      out.report("unknown-setting", `unknown setting \`${name}\``, item.name.span, {
        expected: `a setting (${Object.keys(SETTINGS).join(", ")}), \`params { ... }\` or \`stage NAME = ...\``,
        hint: didYouMean(name, [...Object.keys(SETTINGS), "stage", "params"]),
      });
      continue;
    }
    const first = seen.get(name);
    if (first)
      out.report("duplicate-setting", `\`${name}\` is set twice`, item.name.span, {
        hint: `the first is at line ${first.start.line}`,
      });
    seen.set(name, item.name.span);
    if (name === "sweep") {
      settings.sweep = item.value;
      continue;
    }
    const v = checkValue(item.value, SETTINGS[name as keyof typeof SETTINGS], scope, `\`${name}\``);
    if (name === "seed" && typeof v === "number") settings.values.seed = v;
    if (name === "backend" && typeof v === "string") settings.values.backend = v;
    if (name === "kernels" && typeof v === "string") settings.values.kernels = v;
  }
  return settings;
}

/** Stage declarations by name; a second stage with one name is an error. */
function readStageDecls(ast: A.PipelineAst, out: Collector): Map<string, A.StageDecl> {
  const decls = new Map<string, A.StageDecl>();
  for (const item of ast.items) {
    if (item.type !== "stage") continue;
    const prior = decls.get(item.name.text);
    if (prior)
      out.report(
        "duplicate-stage",
        `stage \`${item.name.text}\` is declared twice`,
        item.name.span,
        {
          hint: `the first is at line ${prior.name.span.start.line}; stage names must be unique`,
        },
      );
    else decls.set(item.name.text, item);
  }
  return decls;
}

/** Each stage on its own: kind, inputs, parameters typed against the kind (stages.ts). */
function draftStages(
  decls: ReadonlyMap<string, A.StageDecl>,
  scope: Parameters<typeof draftStage>[1],
): Map<string, StageDraft> {
  const drafts = new Map<string, StageDraft>();
  for (const decl of decls.values()) {
    const d = draftStage(decl, scope);
    if (d) drafts.set(decl.name.text, d);
  }
  return drafts;
}

/**
 * Stages that depend on each other in a cycle, each cycle named along its path. Returns the other
 * stages in dependency order (inputs first, source order between equals), for the passes below.
 */
function reportCycles(drafts: ReadonlyMap<string, StageDraft>, out: Collector): string[] {
  const g = new Digraph();
  for (const name of drafts.keys()) g.addNode(name);
  for (const [name, d] of drafts)
    for (const ref of Object.values(d.inputs))
      if (drafts.has(ref.stage)) g.addEdge(ref.stage, name);
  for (const path of cycles(g))
    out.report(
      "cycle",
      `stages form a cycle: ${describeCycle(path)}`,
      drafts.get(path[0]!)!.decl.name.span,
      { hint: "a stage cannot depend on its own output, directly or through others" },
    );
  return topologicalOrder(g).order;
}

/**
 * Each input against the stage it names: the artifact type it gives, and the output picked
 * (`parts.train`) or the need to pick one. Returns each stage's output names (a stage that mirrors
 * its input, as clean does for a split, has that input's).
 */
function typeReferences(
  drafts: ReadonlyMap<string, StageDraft>,
  order: readonly string[],
  out: Collector,
): Map<string, string[]> {
  const outputs = new Map<string, string[]>();
  for (const name of order) {
    const d = drafts.get(name)!;
    const spec = d.kind.outputs;
    if (Array.isArray(spec)) outputs.set(name, [...spec]);
    else {
      const ref = d.inputs[(spec as { mirror: string }).mirror];
      const mirrored = ref && (ref.output !== undefined ? [ref.output] : outputs.get(ref.stage));
      if (mirrored) outputs.set(name, mirrored);
    }
  }
  for (const d of drafts.values()) {
    for (const [slot, ref] of Object.entries(d.inputs)) {
      const spec = d.kind.inputs[slot]!;
      const target = drafts.get(ref.stage);
      if (!target) continue; // an unknown stage, or one with errors of its own: reported
      if (target.kind.outputType !== spec.type) {
        out.report(
          "input-type",
          `input \`${slot}\` of ${d.kind.name} takes a ${spec.type}, but \`${ref.stage}\` (${target.kind.name}) gives a ${target.kind.outputType}`,
          ref.span,
        );
        continue;
      }
      const outs = outputs.get(ref.stage);
      if (!outs) continue;
      if (ref.output !== undefined && !outs.includes(ref.output)) {
        out.report(
          "unknown-output",
          `stage \`${ref.stage}\` has no output \`${ref.output}\``,
          ref.span,
          {
            expected: `one of ${outs.map((o) => `${ref.stage}.${o}`).join(", ")}`,
            hint: didYouMean(ref.output, outs),
          },
        );
      } else if (ref.output === undefined && outs.length > 1 && !spec.bundle) {
        out.report(
          "ambiguous-output",
          `stage \`${ref.stage}\` has several outputs (${outs.join(", ")}); input \`${slot}\` of ${d.kind.name} takes one`,
          ref.span,
          { hint: `pick one, e.g. \`${ref.stage}.${outs[0]}\`` },
        );
      }
    }
  }
  return outputs;
}

/**
 * What each stage's outputs will be (token or feature sequences...), in dependency order, and the
 * rules of each kind that need it (layer shapes) or several parameters at once.
 */
function applyKindRules(
  drafts: ReadonlyMap<string, StageDraft>,
  order: readonly string[],
  out: Collector,
): Map<string, ArtifactInfo | undefined> {
  const infos = new Map<string, ArtifactInfo | undefined>();
  for (const name of order) {
    const d = drafts.get(name)!;
    if (!d.params) continue;
    const inputs = inputInfos(d, infos);
    infos.set(name, d.kind.describe?.(d.params, inputs));
    checkKindRules(d, inputs, out);
  }
  return infos;
}

function checkKindRules(
  d: StageDraft,
  inputs: Record<string, ArtifactInfo | undefined>,
  out: Collector,
): void {
  if (!d.params || !d.kind.check) return;
  for (const problem of d.kind.check(d.params, inputs)) {
    const span =
      (problem.param !== undefined && Object.hasOwn(d.paramSpans, problem.param)
        ? d.paramSpans[problem.param]
        : undefined) ?? d.decl.body.name.span;
    out.report(problem.code ?? "param-rule", problem.message, span, { hint: problem.hint });
  }
}

function inputInfos(
  d: StageDraft,
  infos: ReadonlyMap<string, ArtifactInfo | undefined>,
): Record<string, ArtifactInfo | undefined> {
  return Object.fromEntries(
    Object.entries(d.inputs).map(([slot, ref]) => [slot, infos.get(ref.stage)]),
  );
}

/** A param no stage and no other param uses is probably a leftover (unless -P or a sweep sets it). */
function warnUnusedParams(
  declared: ReadonlyMap<string, ParamDecl>,
  used: ReadonlySet<string>,
  sweep: Sweep,
  out: Collector,
): void {
  for (const [name, p] of declared)
    if (!used.has(name) && p.override === undefined && !sweep.has(name))
      out.report("unused-param", `param \`${name}\` is never used`, p.nameSpan);
}

// ---- the IR ----------------------------------------------------------------------------------------

function irBuilder(outputs: ReadonlyMap<string, string[]>) {
  return (
    d: StageDraft,
    name = d.decl.name.text,
    inputs: Record<string, InputRef> = d.inputs,
    variant?: StageIR["variant"],
  ): StageIR => ({
    name,
    nameSpan: d.decl.name.span,
    span: d.decl.span,
    kind: d.kind,
    params: d.params!,
    paramOrigins: d.paramOrigins,
    paramSpans: d.paramSpans,
    inputs,
    outputs: outputs.get(d.decl.name.text)!,
    ...(variant ? { variant } : {}),
  });
}

function paramValues(params: ReadonlyMap<string, PipelineParam>): Record<string, Json> {
  return Object.fromEntries([...params].map(([name, p]) => [name, literal(p.value!)]));
}

function sweptValues(sweep: Sweep): Record<string, Json[]> {
  return Object.fromEntries([...sweep].map(([k, vs]) => [k, vs.map(literal)]));
}
