import { foreignHint } from "./foreign.js";
import type * as A from "../../grammar/ast.js";
import type { Json } from "../core/canonical.js";
import type { Span } from "../core/diagnostic.js";
import { kinds } from "../kinds/registry.js";
import type { AnyKind, BlockSpec } from "../stages/kind.js";
import type { InputRef } from "./ir.js";
import { forEachParamRef } from "./params.js";
import { didYouMean, listNames } from "./suggest.js";
import { bindNamed, type ValueScope } from "./values.js";

/**
 * One stage declaration checked on its own: its kind, which arguments are inputs and which are
 * parameters, the parameters typed against the kind's declaration (block items included). Kinds
 * declare their names in plain objects, so every lookup of a name the user wrote goes through
 * Object.hasOwn: `toString` or `__proto__` is an unknown name, never a method of Object.
 */
export interface StageDraft {
  decl: A.StageDecl;
  kind: AnyKind;
  /** Absent when a parameter is wrong (reported). */
  params?: Record<string, Json>;
  /** Stage parameter (`layers.0` for a block item) -> the pipeline params its value uses. */
  paramOrigins: Record<string, string[]>;
  paramSpans: Record<string, Span>;
  inputs: Record<string, InputRef>;
}

export function draftStage(decl: A.StageDecl, scope: ValueScope): StageDraft | undefined {
  const body = decl.body;
  const kind = kinds.get(body.name.text);
  if (!kind) {
    scope.out.report("unknown-kind", `unknown stage kind \`${body.name.text}\``, body.name.span, {
      expected: `a stage kind: ${[...kinds.keys()].join(", ")}`,
      hint: didYouMean(body.name.text, kinds.keys()),
    });
    return undefined;
  }
  if (body.block && !kind.block)
    scope.out.report(
      "unexpected-block",
      `${kind.name} takes no block`,
      body.block[0]?.span ?? body.span,
      { hint: `write ${kind.name}(...) with arguments only` },
    );
  if (kind.block && !body.block)
    scope.out.report(
      "missing-block",
      `${kind.name} needs a block: ${kind.block.doc}`,
      body.name.span,
      { hint: `write ${kind.name}(...) { ${Object.keys(kind.block.items)[0]}(...) ... }` },
    );
  const { inputs, paramArgs } = bindInputs(body, kind, scope);
  const paramSpans: Record<string, Span> = {};
  const paramOrigins: Record<string, string[]> = {};
  for (const a of paramArgs) {
    paramSpans[a.name!.text] = a.value.span;
    const refs = paramRefs(a.value);
    if (refs.length) paramOrigins[a.name!.text] = refs;
  }
  let params = bindNamed(paramArgs, kind.params, scope, kind.name, body.name.span);
  if (kind.block) {
    const items =
      body.block &&
      blockItems(body.block, kind.block, scope, kind.block.param, paramSpans, paramOrigins);
    params = params && items ? { ...params, [kind.block.param]: items } : undefined;
  }
  return {
    decl,
    kind,
    ...(params ? { params } : {}),
    paramOrigins,
    paramSpans,
    inputs,
  };
}

/** Arguments that fill inputs (by name, or bare in order) become references; the rest are parameters. */
function bindInputs(
  body: A.Invocation,
  kind: AnyKind,
  scope: ValueScope,
): { inputs: Record<string, InputRef>; paramArgs: A.Argument[] } {
  const slots = Object.keys(kind.inputs);
  const inputs: Record<string, InputRef> = {};
  const given = new Set<string>(); // slots written, valid or not: a bad one is not also "missing"
  const paramArgs: A.Argument[] = [];
  let nextSlot = 0;
  for (const arg of body.args ?? []) {
    let slot: string | undefined;
    if (arg.name) {
      if (Object.hasOwn(kind.inputs, arg.name.text)) slot = arg.name.text;
      else if (Object.hasOwn(kind.params, arg.name.text)) {
        paramArgs.push(arg);
        continue;
      } else {
        scope.out.report(
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
            hint:
              foreignHint(arg.name.text, [...slots, ...Object.keys(kind.params)]) ??
              didYouMean(arg.name.text, [...slots, ...Object.keys(kind.params)]),
          },
        );
        continue;
      }
    } else {
      while (nextSlot < slots.length && given.has(slots[nextSlot]!)) nextSlot++;
      slot = slots[nextSlot++];
      if (!slot) {
        scope.out.report(
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
      scope.out.report("duplicate-arg", `input \`${slot}\` is given twice`, arg.span);
      continue;
    }
    given.add(slot);
    const ref = inputRef(arg.value, slot, kind, scope);
    if (ref) inputs[slot] = ref;
  }
  for (const slot of slots) {
    const spec = kind.inputs[slot]!;
    if (!given.has(slot) && !spec.optional)
      scope.out.report("missing-input", `${kind.name} needs input \`${slot}\``, body.name.span, {
        expected: `${slot}: a reference to a stage giving a ${spec.type}`,
        hint: spec.doc,
      });
  }
  return { inputs, paramArgs };
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
  const out: Json[] = [];
  let ok = true;
  block.forEach((inv, i) => {
    spans[`${param}.${i}`] = inv.span;
    const refs = [...new Set((inv.args ?? []).flatMap((a) => paramRefs(a.value)))].sort();
    if (refs.length) origins[`${param}.${i}`] = refs;
    const item = blockItem(inv, spec, scope, `${param}.${i}`, spans, origins);
    if (item === undefined) ok = false;
    else out.push(item);
  });
  return ok ? out : undefined;
}

function blockItem(
  inv: A.Invocation,
  spec: BlockSpec,
  scope: ValueScope,
  at: string,
  spans: Record<string, Span>,
  origins: Record<string, string[]>,
): Json | undefined {
  const name = inv.name.text;
  const what = spec.param.split(".").at(-1)!.replace(/s$/, "");
  if (!Object.hasOwn(spec.items, name)) {
    scope.out.report("unknown-item", `unknown ${what} \`${name}\``, inv.name.span, {
      expected: `one of ${Object.keys(spec.items).join(", ")}`,
      hint: didYouMean(name, Object.keys(spec.items)),
    });
    return undefined;
  }
  const inner = spec.nested && Object.hasOwn(spec.nested, name) ? spec.nested[name] : undefined;
  if (inv.block && !inner) {
    scope.out.report("unexpected-block", `${name} takes no block`, inv.block[0]?.span ?? inv.span, {
      hint: "wrap a layer by passing it as an argument, e.g. bidirectional(lstm(units: 8))",
    });
    return undefined;
  }
  if (inner && !inv.block) {
    scope.out.report("missing-block", `${name} needs a block: ${inner.doc}`, inv.name.span, {
      hint: `write ${name} { ${Object.keys(inner.items)[0]}(...) ... }`,
    });
    return undefined;
  }
  const args = bindNamed(inv.args ?? [], spec.items[name]!, scope, name, inv.name.span);
  const nested =
    inner && blockItems(inv.block!, inner, scope, `${at}.${inner.param}`, spans, origins);
  if (!args || (inner && !nested)) return undefined;
  return { call: name, args, ...(nested ? { block: nested } : {}) };
}

function inputRef(
  v: A.Value,
  slot: string,
  kind: AnyKind,
  scope: ValueScope,
): InputRef | undefined {
  const spec = kind.inputs[slot]!;
  const fail = (message: string, hint?: string) => {
    scope.out.report("input-ref", message, v.span, {
      expected: `a reference to a stage giving a ${spec.type}`,
      hint,
    });
    return undefined;
  };
  if (v.type !== "ref")
    return fail(
      `input \`${slot}\` of ${kind.name} takes a stage reference, not a value`,
      Object.keys(kind.params).length
        ? `parameters are passed by name: ${Object.keys(kind.params)[0]}: ...`
        : undefined,
    );
  const [head, ...rest] = v.path;
  if (head!.text === "params") return fail(`input \`${slot}\` takes a stage, not a param`);
  if (!scope.stageNames.has(head!.text)) {
    scope.out.report("undefined-ref", `no stage named \`${head!.text}\``, head!.span, {
      expected: `a stage: ${listNames(scope.stageNames)}`,
      hint: didYouMean(head!.text, scope.stageNames),
    });
    return undefined;
  }
  if (rest.length > 1) return fail("a stage reference is `stage` or `stage.output`");
  return { stage: head!.text, ...(rest[0] ? { output: rest[0].text } : {}), span: v.span };
}

/** The pipeline params a value uses, sorted. */
function paramRefs(v: A.Value): string[] {
  const refs = new Set<string>();
  forEachParamRef(v, (name) => refs.add(name));
  return [...refs].sort();
}
