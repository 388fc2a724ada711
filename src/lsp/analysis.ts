import { parse } from "../../grammar/api.js";
import type * as A from "../../grammar/ast.js";
import type { Diagnostic, Span } from "../core/diagnostic.js";
import type { PipelineIR } from "../lang/ir.js";
import { checkSource } from "../lang/load.js";
import type { ParamType } from "../stages/schema.js";
import { blockItemCallee, type Callee, callCallee, kindCallee, positionalParam } from "./specs.js";

/**
 * One open document as the checker sees it: its diagnostics (those of `rnnp validate`), its syntax
 * tree, and every place in it that names something ("sites"), which hover, definition, references
 * and rename look up by offset.
 */
export type Site =
  | { type: "stage-decl"; name: string; span: Span }
  | { type: "stage-ref"; name: string; span: Span }
  | { type: "output"; stage: string; name: string; span: Span }
  | { type: "param-decl"; name: string; span: Span }
  | { type: "param-ref"; name: string; span: Span }
  /** The name of a kind, layer, block part or call; `stage` when it is a stage's kind. */
  | { type: "callee"; callee: Callee; span: Span; stage?: string }
  /** An argument's name: a parameter (or input) of `callee`. */
  | { type: "arg"; callee: Callee; name: string; span: Span };

export interface Analysis {
  text: string;
  /** The path the document is checked as (its data paths resolve against its folder). */
  file: string;
  ast?: A.PipelineAst;
  diagnostics: Diagnostic[];
  /** Present when the pipeline checks without errors. */
  ir?: PipelineIR;
  sites: Site[];
  /** Stage name -> its declaration (the first, when a name is declared twice). */
  stages: Map<string, A.StageDecl>;
  params: Map<string, A.ParamDecl>;
}

export function analyse(text: string, file: string): Analysis {
  const checked = checkSource(text, file);
  const { ast } = parse(text, file);
  const stages = new Map<string, A.StageDecl>();
  const params = new Map<string, A.ParamDecl>();
  for (const item of ast?.items ?? []) {
    if (item.type === "stage" && !stages.has(item.name.text)) stages.set(item.name.text, item);
    if (item.type === "params")
      for (const p of item.params) if (!params.has(p.name.text)) params.set(p.name.text, p);
  }
  return {
    text,
    file,
    ...(ast ? { ast } : {}),
    diagnostics: checked.diagnostics,
    ...(checked.ir ? { ir: checked.ir } : {}),
    sites: ast ? sitesOf(ast) : [],
    stages,
    params,
  };
}

/** The innermost site at an offset (a cursor just after a name is on it, as editors expect). */
export function siteAt(a: Analysis, offset: number): Site | undefined {
  let best: Site | undefined;
  for (const s of a.sites)
    if (s.span.start.offset <= offset && offset <= s.span.end.offset)
      if (!best || s.span.end.offset - s.span.start.offset < size(best)) best = s;
  return best;
}

const size = (s: Site) => s.span.end.offset - s.span.start.offset;

function sitesOf(ast: A.PipelineAst): Site[] {
  const sites: Site[] = [];
  const value = (v: A.Value, type?: ParamType): void => {
    if (v.type === "list") for (const i of v.items) value(i, type?.t === "list" ? type.of : type);
    else if (v.type === "object") for (const e of v.entries) value(e.value);
    else if (v.type === "arithmetic") for (const o of v.operands) value(o);
    else if (v.type === "negated") value(v.operand);
    else if (v.type === "group") value(v.value);
    else if (v.type === "ref") ref(v.path);
    else if (v.type === "call") {
      const callee = callCallee(type, v.name.text);
      if (callee) sites.push({ type: "callee", callee, span: v.name.span });
      args(v.args, callee);
    }
  };
  const ref = (path: A.Name[]) => {
    const [first, second] = path;
    if (!first) return;
    if (first.text === "params") {
      if (second) sites.push({ type: "param-ref", name: second.text, span: second.span });
      return;
    }
    sites.push({ type: "stage-ref", name: first.text, span: first.span });
    if (second)
      sites.push({ type: "output", stage: first.text, name: second.text, span: second.span });
  };
  const args = (list: readonly A.Argument[] | undefined, callee: Callee | undefined) => {
    for (const a of list ?? []) {
      const name = a.name?.text;
      if (a.name && callee) sites.push({ type: "arg", callee, name: name!, span: a.name.span });
      const param =
        callee && name !== undefined
          ? Object.hasOwn(callee.params, name)
            ? callee.params[name]
            : undefined
          : callee && positionalParam(callee)?.[1];
      value(a.value, param?.type);
    }
  };
  const block = (items: readonly A.Invocation[] | undefined, owner: Callee | undefined) => {
    for (const item of items ?? []) {
      const callee = owner?.block ? blockItemCallee(owner.block, item.name.text) : undefined;
      if (callee) sites.push({ type: "callee", callee, span: item.name.span });
      args(item.args, callee);
      block(item.block, callee);
    }
  };
  for (const item of ast.items) {
    if (item.type === "setting") {
      // The keys of `sweep { units: [...] }` are params.
      if (item.name.text === "sweep" && item.value.type === "object")
        for (const e of item.value.entries)
          sites.push({ type: "param-ref", name: e.key.text, span: e.key.span });
      value(item.value);
    } else if (item.type === "params")
      for (const p of item.params) {
        sites.push({ type: "param-decl", name: p.name.text, span: p.name.span });
        value(p.value);
      }
    else {
      sites.push({ type: "stage-decl", name: item.name.text, span: item.name.span });
      const callee = kindCallee(item.body.name.text);
      if (callee)
        sites.push({ type: "callee", callee, span: item.body.name.span, stage: item.name.text });
      args(item.body.args, callee);
      block(item.body.block, callee);
    }
  }
  return sites;
}
