import type { Code } from "../core/codes.js";
import { dirname, resolve } from "node:path";
import { Graph, alg } from "@dagrejs/graphlib";
import type * as A from "../../grammar/ast.js";
import type { Json } from "../core/canonical.js";
import type { Diagnostic, Span } from "../core/diagnostic.js";
import type { AnyKind } from "../stages/kind.js";
import type { ArtifactInfo } from "../artifacts/index.js";
import { BACKENDS, KERNELS } from "../runtime/descriptor.js";
import { kinds } from "../kinds/registry.js";
import {
  type InputRef,
  inputsBySlot,
  memberKey,
  type PipelineIR,
  slotOf,
  type StageIR,
} from "./ir.js";
import { didYouMean } from "./suggest.js";
import type { BlockSpec } from "../stages/kind.js";
import {
  combinations,
  literal as sweepLiteral,
  readSweep,
  variantName,
  type Sweep,
} from "./sweep.js";
import { bindNamed, checkValue, hintOf, type PipelineParam, type ValueScope } from "./values.js";

/** Pipeline-wide settings (`seed 42`): their names and types. */
const SETTINGS = {
  seed: { t: "number", int: true, min: 0, max: 2 ** 32 - 1 },
  backend: { t: "string", oneOf: BACKENDS },
  kernels: { t: "string", oneOf: KERNELS },
  /** Read by sweep.ts: an object of param -> list of values. */
  sweep: { t: "map", of: { t: "list", of: { t: "number" } } },
} as const;

export interface Override {
  name: string;
  value: A.Value;
  /** As typed after `=`, for messages. */
  text: string;
}

interface StageDraft {
  decl: A.StageDecl;
  kind: AnyKind;
  params?: Record<string, Json>;
  paramOrigins: Record<string, string[]>;
  paramSpans: Record<string, Span>;
  inputs: Record<string, InputRef>;
}

/** Semantic checks over a parsed pipeline: names, kinds, parameters, references, outputs, cycles. */
export function check(
  ast: A.PipelineAst,
  file: string,
  overrides: readonly Override[] = [],
): { ir?: PipelineIR; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const err = (
    code: Code,
    message: string,
    span: Span | undefined,
    extra: Partial<Diagnostic> = {},
  ) =>
    diagnostics.push({
      code,
      severity: "error",
      message,
      file,
      ...(span ? { span } : {}),
      ...extra,
    });

  // Settings and params.
  let seed = 0;
  let backend: string | undefined;
  let kernels: string | undefined;
  let sweepValue: A.Value | undefined;
  const seenSettings = new Map<string, Span>();
  const params = new Map<string, PipelineParam & { span: Span; nameSpan: Span }>();
  const stageDecls = new Map<string, A.StageDecl>();
  for (const item of ast.items) {
    if (item.type === "setting") {
      const name = item.name.text;
      if (!(name in SETTINGS)) {
        err("unknown-setting", `unknown setting \`${name}\``, item.name.span, {
          expected: `a setting (${Object.keys(SETTINGS).join(", ")}), \`params { ... }\` or \`stage NAME = ...\``,
          ...hintOf(didYouMean(name, [...Object.keys(SETTINGS), "stage", "params"])),
        });
        continue;
      }
      if (seenSettings.has(name))
        err("duplicate-setting", `\`${name}\` is set twice`, item.name.span, {
          hint: `the first is at line ${seenSettings.get(name)!.start.line}`,
        });
      seenSettings.set(name, item.name.span);
      if (name === "sweep") {
        sweepValue = item.value; // read once the params are known
        continue;
      }
      const scope: ValueScope = {
        file,
        params: new Map(),
        stageNames: new Set(),
        used: new Set(),
        diagnostics,
      };
      const v = checkValue(
        item.value,
        SETTINGS[name as keyof typeof SETTINGS],
        scope,
        `\`${name}\``,
      );
      if (name === "seed" && typeof v === "number") seed = v;
      if (name === "backend" && typeof v === "string") backend = v;
      if (name === "kernels" && typeof v === "string") kernels = v;
    } else if (item.type === "params") {
      for (const pd of item.params) {
        const prior = params.get(pd.name.text);
        if (prior)
          err("duplicate-param", `param \`${pd.name.text}\` is declared twice`, pd.name.span, {
            hint: `the first is at line ${prior.nameSpan.start.line}`,
          });
        else params.set(pd.name.text, { value: pd.value, span: pd.span, nameSpan: pd.name.span });
        literalOnly(pd.value, (span) =>
          err("param-ref", "param values must be literals", span, {
            hint: "stage and param references belong in stage arguments",
          }),
        );
      }
    } else {
      const prior = stageDecls.get(item.name.text);
      if (prior)
        err("duplicate-stage", `stage \`${item.name.text}\` is declared twice`, item.name.span, {
          hint: `the first is at line ${prior.name.span.start.line}; stage names must be unique`,
        });
      else stageDecls.set(item.name.text, item);
    }
  }
  const sweep = sweepValue
    ? readSweep(sweepValue, new Set(params.keys()), file, diagnostics)
    : new Map<string, A.Value[]>();
  for (const o of overrides) {
    sweep.delete(o.name); // -P pins a swept param to one value
    const p = params.get(o.name);
    if (!p) {
      diagnostics.push({
        code: "unknown-override",
        severity: "error",
        message: `-P ${o.name}: the pipeline has no param \`${o.name}\``,
        expected: params.size
          ? `one of ${[...params.keys()].join(", ")}`
          : "a param declared in `params { ... }`",
        ...hintOf(didYouMean(o.name, params.keys())),
      });
    } else params.set(o.name, { ...p, value: o.value, override: o.text });
  }

  // Stages: kinds, arguments, parameters.
  const stageNames = new Set(stageDecls.keys());
  const usedParams = new Set<string>();
  const drafts = new Map<string, StageDraft>();
  for (const decl of stageDecls.values()) {
    const d = draftStage(decl, { file, params, stageNames, used: usedParams, diagnostics });
    if (d) drafts.set(decl.name.text, d);
  }

  // References and outputs, in dependency order (outputs may mirror an input's).
  const outputs = new Map<string, string[]>();
  const outputsOf = (name: string, trail: string[] = []): string[] | undefined => {
    if (outputs.has(name)) return outputs.get(name);
    const d = drafts.get(name);
    if (!d || trail.includes(name)) return undefined;
    const spec = d.kind.outputs;
    let out: string[] | undefined;
    if (Array.isArray(spec)) out = [...spec];
    else {
      const given = inputsBySlot(d.inputs).get((spec as { mirror: string }).mirror);
      // Named references assembled into a bundle: its parts are their names.
      if (given instanceof Map) out = [...given.keys()];
      else if (given)
        out =
          given.output !== undefined ? [given.output] : outputsOf(given.stage, [...trail, name]);
    }
    if (out) outputs.set(name, out);
    return out;
  };
  for (const d of drafts.values()) {
    for (const [key, ref] of Object.entries(d.inputs)) {
      const slot = slotOf(key);
      const spec = d.kind.inputs[slot]!;
      const target = drafts.get(ref.stage);
      if (!stageNames.has(ref.stage)) continue; // reported in draftStage
      if (!target) continue; // its own errors are reported
      if (target.kind.outputType !== spec.type) {
        err(
          "input-type",
          `input \`${slot}\` of ${d.kind.name} takes a ${spec.type}, but \`${ref.stage}\` (${target.kind.name}) gives a ${target.kind.outputType}`,
          ref.span,
        );
        continue;
      }
      const outs = outputsOf(ref.stage);
      if (!outs) continue;
      if (ref.output !== undefined && !outs.includes(ref.output)) {
        err("unknown-output", `stage \`${ref.stage}\` has no output \`${ref.output}\``, ref.span, {
          expected: `one of ${outs.map((o) => `${ref.stage}.${o}`).join(", ")}`,
          ...hintOf(didYouMean(ref.output, outs)),
        });
      } else if (
        ref.output === undefined &&
        outs.length > 1 &&
        (!spec.bundle || ref.member !== undefined)
      ) {
        err(
          "ambiguous-output",
          `stage \`${ref.stage}\` has several outputs (${outs.join(", ")}); ${ref.member !== undefined ? `\`${ref.member}\` of input` : "input"} \`${slot}\` of ${d.kind.name} takes one`,
          ref.span,
          { hint: `pick one, e.g. \`${ref.stage}.${outs[0]}\`` },
        );
      }
    }
  }

  // Cycles, each named along its path.
  const g = new Graph();
  for (const name of drafts.keys()) g.setNode(name);
  for (const [name, d] of drafts)
    for (const ref of Object.values(d.inputs))
      if (drafts.has(ref.stage)) g.setEdge(ref.stage, name);
  for (const scc of alg.findCycles(g)) {
    const path = cyclePath(g, scc);
    const first = drafts.get(path[0]!)!;
    err("cycle", `stages form a cycle: ${[...path, path[0]].join(" -> ")}`, first.decl.name.span, {
      hint: "a stage cannot depend on its own output, directly or through others",
    });
  }

  // What each stage's outputs will be (token or feature sequences...), in dependency order, and the
  // rules of each kind that need it (layer shapes) or several parameters at once.
  const infos = new Map<string, ArtifactInfo | undefined>();
  const infoOf = (name: string, trail: string[] = []): ArtifactInfo | undefined => {
    if (infos.has(name)) return infos.get(name);
    const d = drafts.get(name);
    if (!d?.params || trail.includes(name)) return undefined;
    const info = d.kind.describe?.(d.params, inputInfos(d, [...trail, name]));
    infos.set(name, info);
    return info;
  };
  // A slot given named references is described by its first: they are sets of one kind of data.
  const inputInfos = (d: StageDraft, trail: string[] = []) =>
    Object.fromEntries(
      [...inputsBySlot(d.inputs)].map(([slot, given]) => [
        slot,
        infoOf((given instanceof Map ? [...given.values()][0]! : given).stage, trail),
      ]),
    );
  const membersOf = (d: StageDraft) =>
    Object.fromEntries(
      [...inputsBySlot(d.inputs)].flatMap(([slot, given]) =>
        given instanceof Map ? [[slot, [...given.keys()]]] : [],
      ),
    );
  const cyclic = new Set(
    diagnostics.filter((x) => x.code === "cycle").length ? [...drafts.keys()] : [],
  );
  for (const d of drafts.values()) {
    if (!d.params || !d.kind.check || cyclic.has(d.decl.name.text)) continue;
    for (const problem of d.kind.check(d.params, inputInfos(d), membersOf(d))) {
      // A problem may point at a parameter or at an input (`init`).
      const span =
        (problem.param && (d.paramSpans[problem.param] ?? d.inputs[problem.param]?.span)) ||
        d.decl.body.name.span;
      err(problem.code ?? "param-rule", problem.message, span, hintOf(problem.hint));
    }
  }

  for (const [name, p] of params) {
    if (!usedParams.has(name) && p.override === undefined && !sweep.has(name)) {
      diagnostics.push({
        code: "unused-param",
        severity: "warning",
        message: `param \`${name}\` is never used`,
        file,
        span: p.nameSpan,
      });
    }
  }

  if (diagnostics.some((d) => d.severity === "error")) return { diagnostics };
  const pipelineParams: Record<string, Json> = {};
  for (const [name, p] of params) pipelineParams[name] = sweepLiteral(p.value);
  const toIR = (
    d: StageDraft,
    name = d.decl.name.text,
    inputs = d.inputs,
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
    outputs: outputsOf(d.decl.name.text)!,
    ...(variant ? { variant } : {}),
  });
  const stages =
    sweep.size === 0
      ? [...drafts.values()].map((d) => toIR(d))
      : expandSweep(
          drafts,
          sweep,
          params,
          { file, stageNames, diagnostics },
          toIR,
          inputInfos,
          membersOf,
        );
  if (diagnostics.some((d) => d.severity === "error")) return { diagnostics };
  const sweptValues = Object.fromEntries([...sweep].map(([k, vs]) => [k, vs.map(sweepLiteral)]));
  return {
    ir: {
      file,
      dir: dirname(resolve(file)),
      name: ast.name.text,
      seed,
      ...(backend ? { backend } : {}),
      ...(kernels ? { kernels } : {}),
      params: pipelineParams,
      ...(sweep.size ? { sweep: sweptValues } : {}),
      stages,
    },
    diagnostics,
  };
}

/**
 * Fans out the stages that depend on swept params, directly or through their inputs: one variant per
 * combination of the values of the params it depends on, wired to the matching upstream variants.
 */
function expandSweep(
  drafts: Map<string, StageDraft>,
  sweep: Sweep,
  params: ReadonlyMap<string, PipelineParam>,
  ctx: { file: string; stageNames: ReadonlySet<string>; diagnostics: Diagnostic[] },
  toIR: (
    d: StageDraft,
    name?: string,
    inputs?: Record<string, InputRef>,
    variant?: StageIR["variant"],
  ) => StageIR,
  inputInfos: (d: StageDraft) => Record<string, ArtifactInfo | undefined>,
  membersOf: (d: StageDraft) => Record<string, string[]>,
): StageIR[] {
  const swept = [...sweep.keys()];
  const deps = new Map<string, string[]>();
  const depsOf = (name: string): string[] => {
    const known = deps.get(name);
    if (known) return known;
    const d = drafts.get(name)!;
    const mine = new Set(
      Object.values(d.paramOrigins)
        .flat()
        .filter((p) => sweep.has(p)),
    );
    for (const ref of Object.values(d.inputs)) for (const p of depsOf(ref.stage)) mine.add(p);
    const ordered = swept.filter((p) => mine.has(p));
    deps.set(name, ordered);
    return ordered;
  };
  const seen = new Set<string>();
  const report = (ds: Diagnostic[], variant: string) => {
    for (const x of ds) {
      const id = `${x.code}\0${x.message}\0${x.span?.start.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      ctx.diagnostics.push({ ...x, message: `${x.message} (in sweep variant ${variant})` });
    }
  };
  const out: StageIR[] = [];
  for (const [name, d] of drafts) {
    const mine = depsOf(name);
    if (mine.length === 0) {
      out.push(toIR(d));
      continue;
    }
    for (const combo of combinations(sweep, mine)) {
      const vname = variantName(name, combo);
      const variantParams = new Map(params);
      for (const [k, v] of combo) variantParams.set(k, { ...params.get(k)!, value: v });
      const local: Diagnostic[] = [];
      const v = draftStage(d.decl, {
        file: ctx.file,
        params: variantParams,
        stageNames: ctx.stageNames,
        used: new Set(),
        diagnostics: local,
      });
      if (v?.params && v.kind.check) {
        for (const problem of v.kind.check(v.params, inputInfos(v), membersOf(v)))
          local.push({
            code: problem.code ?? "param-rule",
            severity: "error",
            message: problem.message,
            file: ctx.file,
            span:
              (problem.param && (v.paramSpans[problem.param] ?? v.inputs[problem.param]?.span)) ||
              d.decl.body.name.span,
            ...hintOf(problem.hint),
          });
      }
      report(local, vname);
      if (!v?.params) continue;
      const inputs = Object.fromEntries(
        Object.entries(v.inputs).map(([slot, ref]) => {
          const up = depsOf(ref.stage);
          return [
            slot,
            up.length
              ? {
                  ...ref,
                  stage: variantName(ref.stage, new Map(up.map((p) => [p, combo.get(p)!]))),
                }
              : ref,
          ];
        }),
      );
      out.push(
        toIR(v, vname, inputs, {
          of: name,
          values: Object.fromEntries([...combo].map(([k, x]) => [k, sweepLiteral(x)])),
        }),
      );
    }
  }
  return out;
}

function draftStage(decl: A.StageDecl, scope: ValueScope): StageDraft | undefined {
  const err = (code: Code, message: string, span: Span, extra: Partial<Diagnostic> = {}) =>
    scope.diagnostics.push({ code, severity: "error", message, file: scope.file, span, ...extra });
  const body = decl.body;
  const kind = kinds.get(body.name.text);
  if (!kind) {
    err("unknown-kind", `unknown stage kind \`${body.name.text}\``, body.name.span, {
      expected: `a stage kind: ${[...kinds.keys()].join(", ")}`,
      ...hintOf(didYouMean(body.name.text, kinds.keys())),
    });
    return undefined;
  }
  if (body.block && !kind.block)
    err("unexpected-block", `${kind.name} takes no block`, body.block[0]?.span ?? body.span, {
      hint: `write ${kind.name}(...) with arguments only`,
    });
  if (kind.block && !body.block)
    err("missing-block", `${kind.name} needs a block: ${kind.block.doc}`, body.name.span, {
      hint: `write ${kind.name}(...) { ${Object.keys(kind.block.items)[0]}(...) ... }`,
    });

  const slots = Object.keys(kind.inputs);
  const inputs: Record<string, InputRef> = {};
  const given = new Set<string>(); // slots written, valid or not: a bad one is not also "missing"
  const paramArgs: A.Argument[] = [];
  let nextSlot = 0;
  for (const arg of body.args ?? []) {
    let slot: string | undefined;
    if (arg.name) {
      if (arg.name.text in kind.inputs) slot = arg.name.text;
      else if (arg.name.text in kind.params) {
        paramArgs.push(arg);
        continue;
      } else {
        err(
          "unknown-param",
          `${kind.name} has no parameter or input \`${arg.name.text}\``,
          arg.name.span,
          {
            expected: [
              slots.length ? `an input (${slots.join(", ")})` : "",
              `a parameter (${Object.keys(kind.params).join(", ")})`,
            ]
              .filter(Boolean)
              .join(" or "),
            ...hintOf(didYouMean(arg.name.text, [...slots, ...Object.keys(kind.params)])),
          },
        );
        continue;
      }
    } else {
      while (nextSlot < slots.length && given.has(slots[nextSlot]!)) nextSlot++;
      slot = slots[nextSlot++];
      if (!slot) {
        err(
          "extra-input",
          slots.length === 0
            ? `${kind.name} takes no inputs`
            : `${kind.name} takes ${slots.length} input${slots.length === 1 ? "" : "s"} (${slots.join(", ")}), and this would be one more`,
          arg.span,
          { hint: "parameters are passed by name: `name: value`" },
        );
        continue;
      }
    }
    if (given.has(slot)) {
      err("duplicate-arg", `input \`${slot}\` is given twice`, arg.span);
      continue;
    }
    given.add(slot);
    Object.assign(inputs, inputRefs(arg.value, slot, kind, scope));
  }
  for (const slot of slots) {
    const spec = kind.inputs[slot]!;
    if (!given.has(slot) && !spec.optional) {
      err("missing-input", `${kind.name} needs input \`${slot}\``, body.name.span, {
        expected: `${slot}: a reference to a stage giving a ${spec.type}`,
        hint: spec.doc,
      });
    }
  }

  const paramSpans: Record<string, Span> = {};
  const paramOrigins: Record<string, string[]> = {};
  for (const a of paramArgs) {
    paramSpans[a.name!.text] = a.value.span;
    const refs = new Set<string>();
    collectParamRefs(a.value, refs);
    if (refs.size) paramOrigins[a.name!.text] = [...refs].sort();
  }
  let params = bindNamed(paramArgs, kind.params, scope, kind.name, body.name.span);
  if (kind.block) {
    const items =
      body.block &&
      blockItems(body.block, kind.block, scope, kind.block.param, paramSpans, paramOrigins);
    params = params && items ? { ...params, [kind.block.param]: items } : undefined;
  }
  return { decl, kind, ...(params ? { params } : {}), paramOrigins, paramSpans, inputs };
}

/** A block's invocations, each checked against its item spec, as a list of `{call, args}`. */
function blockItems(
  block: A.Invocation[],
  spec: BlockSpec,
  scope: ValueScope,
  param: string,
  spans: Record<string, Span>,
  origins: Record<string, string[]>,
): Json[] | undefined {
  const items = spec.items;
  const out: Json[] = [];
  let ok = true;
  block.forEach((inv, i) => {
    spans[`${param}.${i}`] = inv.span;
    const refs = new Set<string>();
    for (const a of inv.args ?? []) collectParamRefs(a.value, refs);
    if (refs.size) origins[`${param}.${i}`] = [...refs].sort();
    const itemSpec = items[inv.name.text];
    if (!itemSpec) {
      scope.diagnostics.push({
        code: "unknown-item",
        severity: "error",
        message: `unknown ${param.split(".").at(-1)!.replace(/s$/, "")} \`${inv.name.text}\``,
        file: scope.file,
        span: inv.name.span,
        expected: `one of ${Object.keys(items).join(", ")}`,
        ...hintOf(didYouMean(inv.name.text, Object.keys(items))),
      });
      ok = false;
      return;
    }
    const inner = spec.nested?.[inv.name.text];
    if (inv.block && !inner) {
      scope.diagnostics.push({
        code: "unexpected-block",
        severity: "error",
        message: `${inv.name.text} takes no block`,
        file: scope.file,
        span: inv.block[0]?.span ?? inv.span,
        hint: "wrap a layer by passing it as an argument, e.g. bidirectional(lstm(units: 8))",
      });
      ok = false;
      return;
    }
    if (inner && !inv.block) {
      scope.diagnostics.push({
        code: "missing-block",
        severity: "error",
        message: `${inv.name.text} needs a block: ${inner.doc}`,
        file: scope.file,
        span: inv.name.span,
        hint: `write ${inv.name.text} { ${Object.keys(inner.items)[0]}(...) ... }`,
      });
      ok = false;
      return;
    }
    const args = bindNamed(inv.args ?? [], itemSpec, scope, inv.name.text, inv.name.span);
    const nested =
      inner && blockItems(inv.block!, inner, scope, `${param}.${i}.${inner.param}`, spans, origins);
    if (args && (!inner || nested))
      out.push({ call: inv.name.text, args, ...(nested ? { block: nested } : {}) });
    else ok = false;
  });
  return ok ? out : undefined;
}

/**
 * What one input argument binds: a reference (`seqs.test`), or for inputs that take several named
 * artifacts (bundles, named sets), an object of references (`{inDomain: seqs.test, other: x.test}`),
 * each filed under `slot.name`. Names become output names and report headings: identifiers only.
 */
function inputRefs(
  v: A.Value,
  slot: string,
  kind: AnyKind,
  scope: ValueScope,
): Record<string, InputRef> {
  const spec = kind.inputs[slot]!;
  if (v.type !== "object") {
    const ref = inputRef(v, slot, kind, scope);
    return ref ? { [slot]: ref } : {};
  }
  const report = (message: string, span: Span, hint?: string) =>
    scope.diagnostics.push({
      code: "input-ref",
      severity: "error",
      message,
      file: scope.file,
      span,
      expected: `a reference to a stage giving a ${spec.type}`,
      ...hintOf(hint),
    });
  if (!spec.bundle && !spec.named) {
    report(
      `input \`${slot}\` of ${kind.name} takes one stage reference, not an object of them`,
      v.span,
    );
    return {};
  }
  if (v.entries.length === 0) {
    report(`input \`${slot}\` needs at least one named reference`, v.span);
    return {};
  }
  const out: Record<string, InputRef> = {};
  const seen = new Set<string>();
  for (const e of v.entries) {
    const name = e.key.text;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || name === "__proto__") {
      report(
        `\`${name}\` cannot name a set: names are identifiers (letters, digits, _)`,
        e.key.span,
        "e.g. otherVoices",
      );
      continue;
    }
    if (seen.has(name)) {
      scope.diagnostics.push({
        code: "duplicate-arg",
        severity: "error",
        message: `\`${name}\` is given twice`,
        file: scope.file,
        span: e.key.span,
      });
      continue;
    }
    seen.add(name);
    const ref = inputRef(e.value, slot, kind, scope);
    if (ref) out[memberKey(slot, name)] = { ...ref, member: name };
  }
  return out;
}

function inputRef(
  v: A.Value,
  slot: string,
  kind: AnyKind,
  scope: ValueScope,
): InputRef | undefined {
  const spec = kind.inputs[slot]!;
  const fail = (message: string, extra: Partial<Diagnostic> = {}) => {
    scope.diagnostics.push({
      code: "input-ref",
      severity: "error",
      message,
      file: scope.file,
      span: v.span,
      expected: `a reference to a stage giving a ${spec.type}`,
      ...extra,
    });
    return undefined;
  };
  if (v.type !== "ref")
    return fail(
      `input \`${slot}\` of ${kind.name} takes a stage reference, not a value`,
      hintOf(
        Object.keys(kind.params).length
          ? `parameters are passed by name: ${Object.keys(kind.params)[0]}: ...`
          : undefined,
      ),
    );
  const [head, ...rest] = v.path;
  if (head!.text === "params") return fail(`input \`${slot}\` takes a stage, not a param`);
  if (!scope.stageNames.has(head!.text)) {
    scope.diagnostics.push({
      code: "undefined-ref",
      severity: "error",
      message: `no stage named \`${head!.text}\``,
      file: scope.file,
      span: head!.span,
      expected: `a stage: ${[...scope.stageNames].join(", ")}`,
      ...hintOf(didYouMean(head!.text, scope.stageNames)),
    });
    return undefined;
  }
  if (rest.length > 1) return fail("a stage reference is `stage` or `stage.output`");
  return { stage: head!.text, ...(rest[0] ? { output: rest[0].text } : {}), span: v.span };
}

function collectParamRefs(v: A.Value, into: Set<string>): void {
  if (v.type === "ref" && v.path[0]!.text === "params" && v.path[1]) into.add(v.path[1].text);
  else if (v.type === "list") v.items.forEach((x) => collectParamRefs(x, into));
  else if (v.type === "object") v.entries.forEach((e) => collectParamRefs(e.value, into));
  else if (v.type === "call") v.args.forEach((a) => collectParamRefs(a.value, into));
}

function literalOnly(v: A.Value, report: (span: Span) => void): void {
  if (v.type === "ref") report(v.span);
  else if (v.type === "list") v.items.forEach((x) => literalOnly(x, report));
  else if (v.type === "object") v.entries.forEach((e) => literalOnly(e.value, report));
  else if (v.type === "call") v.args.forEach((a) => literalOnly(a.value, report));
}

/** The shortest cycle through the first (by name) stage of a strongly connected component. */
function cyclePath(g: Graph, scc: string[]): string[] {
  const members = new Set(scc);
  const start = [...scc].sort()[0]!;
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const at = queue.shift()!;
    for (const next of (g.successors(at) ?? []).filter((n: string) => members.has(n)).sort()) {
      if (next === start) {
        const path = [at];
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
        return path;
      }
      if (!parent.has(next)) {
        parent.set(next, at);
        queue.push(next);
      }
    }
  }
  return [start];
}
