import type { IToken } from "chevrotain";
import { type CompletionItem, CompletionItemKind, MarkupKind } from "vscode-languageserver/node";
import { lex } from "../../grammar/lexer.js";
import * as T from "../../grammar/tokens.js";
import { printValue } from "../lang/print.js";
import type { ParamType } from "../stages/schema.js";
import type { Analysis } from "./analysis.js";
import {
  allKinds,
  blockItemCallee,
  type Callee,
  callCallee,
  calleeMarkdown,
  callsOf,
  inputMarkdown,
  kindCallee,
  paramMarkdown,
  paramSummary,
  positionalParam,
} from "./specs.js";
import { vocabulary } from "./vocabulary.js";

/**
 * Completion from what precedes the cursor: the tokens up to it say where it is (after `stage x =`,
 * in a model block, at an argument's name or value, after `params.` or `parts.`), and the
 * declarations say what fits there. Works on broken text: the lexer never stops, and nothing here
 * needs the file to parse.
 */
type Frame =
  | { open: "pipeline" | "params" | "sweep" | "object" | "other" }
  | { open: "block"; callee: Callee }
  | {
      open: "args" | "list";
      callee: Callee | undefined;
      /** The parameter whose value is being written (`name:` seen, or the positional one). */
      param: string | undefined;
      given: Set<string>;
      /** Arguments given without a name so far, and whether the current one has a name. */
      positional: number;
      named: boolean;
      /** The type of the list's items, for a list frame. */
      type?: ParamType | undefined;
    };

export function complete(a: Analysis, offset: number): CompletionItem[] {
  const before = a.text.slice(0, offset);
  const lexed = lex(before);
  if (insideCommentOrString(before, lexed.comments, lexed.tokens, offset)) return [];
  const tokens = lexed.tokens;
  // The word being typed is what the client filters by; its context is what comes before it.
  const last = tokens[tokens.length - 1];
  if (last && last.endOffset! + 1 === offset && /^[A-Za-z_]/.test(last.image)) tokens.pop();
  const frames = framesOf(tokens);
  const top = frames[frames.length - 1];
  const prev = tokens[tokens.length - 1];

  if (prev?.tokenType === T.Dot) return members(a, tokens);
  if (!top) return tokens.length === 0 ? [keyword("pipeline")] : [];
  if (top.open === "pipeline") {
    if (afterStageEquals(tokens, tokens.length)) return allKinds().map(kindItem);
    if (prev?.tokenType === T.Stage || prev?.tokenType === T.Equals) return [];
    if (prev && prev.tokenType === T.Identifier && tokens[tokens.length - 2]?.tokenType === T.Stage)
      return [];
    return [
      keyword("stage"),
      keyword("params"),
      ...vocabulary().settings.map((s) => keyword(s, "setting")),
    ];
  }
  if (top.open === "block")
    return Object.keys(top.callee.block!.items).map((name) =>
      calleeItem(blockItemCallee(top.callee.block!, name)!),
    );
  if (top.open === "sweep")
    return prev?.tokenType === T.LCurly || prev?.tokenType === T.Comma
      ? [...a.params.keys()].map((p) => ({ label: p, kind: CompletionItemKind.Constant }))
      : [];
  if (top.open === "params") return prev && isOperatorOrAssign(prev) ? paramRefs(a) : [];
  if (top.open === "args" || top.open === "list") {
    const atName =
      top.open === "args" && (prev?.tokenType === T.LParen || prev?.tokenType === T.Comma);
    if (atName)
      return [...argumentNames(top.callee, top.given), ...values(a, top.callee, undefined)];
    if (top.open === "list") return values(a, top.callee, top.param, top.type);
    return values(a, top.callee, top.param);
  }
  return [];
}

// ---- where the cursor is -------------------------------------------------------------------------

function insideCommentOrString(
  before: string,
  comments: IToken[],
  tokens: IToken[],
  offset: number,
): boolean {
  const lastComment = comments[comments.length - 1];
  if (lastComment && lastComment.endOffset! + 1 === offset) return true;
  const lastToken = tokens[tokens.length - 1];
  if (lastToken?.tokenType === T.StringLiteral && lastToken.endOffset! + 1 === offset) return true;
  // An unclosed string on this line: the lexer could not make a token of it.
  const line = before.slice(before.lastIndexOf("\n") + 1);
  const quotes = line.replace(/\\./g, "").match(/"/g)?.length ?? 0;
  return quotes % 2 === 1 && !line.includes("#") && !line.includes("//");
}

function afterStageEquals(tokens: IToken[], end: number): boolean {
  return (
    tokens[end - 1]?.tokenType === T.Equals &&
    tokens[end - 2]?.tokenType === T.Identifier &&
    tokens[end - 3]?.tokenType === T.Stage
  );
}

const isOperatorOrAssign = (t: IToken) =>
  [T.Equals, T.Plus, T.Minus, T.Star, T.Slash, T.LParen].includes(t.tokenType);

/** The open brackets before the cursor, each with what it belongs to. */
function framesOf(tokens: IToken[]): Frame[] {
  const frames: Frame[] = [];
  /** The callee named just before, waiting for its `(` or `{`. */
  let pending: { callee: Callee | undefined; at: number } | undefined;
  /** The callee whose arguments just closed, for a block after them: `model(x) {`. */
  let closed: { callee: Callee | undefined; at: number } | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const top = frames[frames.length - 1];
    const type = t.tokenType;
    if (type === T.Identifier || type === T.Params) {
      // A dotted name: `load.csv`, `parts.train`; it ends at its last part.
      let end = i;
      while (tokens[end + 1]?.tokenType === T.Dot && tokens[end + 2]?.tokenType === T.Identifier)
        end += 2;
      const name = tokens
        .slice(i, end + 1)
        .map((x) => x.image)
        .join("");
      if (tokens[end + 1]?.tokenType === T.Colon && top && top.open === "args") {
        top.param = name;
        top.named = true;
        top.given.add(name);
      } else pending = { callee: calleeNamed(name, tokens, i, top), at: end };
      i = end;
      continue;
    }
    if (type === T.LParen) {
      const callee = pending?.at === i - 1 ? pending.callee : undefined;
      const positional = callee ? positionalParam(callee)?.[0] : undefined;
      frames.push({
        open: "args",
        callee,
        param: positional,
        given: new Set(),
        positional: 0,
        named: false,
      });
    } else if (type === T.LSquare) {
      const owner = top && (top.open === "args" || top.open === "list") ? top : undefined;
      const param = owner?.param;
      const ptype =
        owner?.type ??
        (param && owner?.callee && Object.hasOwn(owner.callee.params, param)
          ? owner.callee.params[param]!.type
          : undefined);
      frames.push({
        open: "list",
        callee: owner?.callee,
        param,
        given: new Set(),
        positional: 0,
        named: false,
        type: ptype?.t === "list" ? ptype.of : ptype,
      });
    } else if (type === T.LCurly) frames.push(curlyFrame(tokens, i, top, pending, closed));
    else if (type === T.RParen || type === T.RSquare || type === T.RCurly) {
      const popped = frames.pop();
      closed =
        popped?.open === "args" && type === T.RParen ? { callee: popped.callee, at: i } : undefined;
    } else if (type === T.Comma && top && top.open === "args") {
      // A kind's unnamed arguments fill its inputs in order: `train(net, seqs.train, ...)`.
      if (!top.named && tokens[i - 1]?.tokenType !== T.LParen) {
        const input = Object.keys(top.callee?.inputs ?? {})[top.positional++];
        if (input !== undefined) top.given.add(input);
      }
      top.param = undefined;
      top.named = false;
    }
  }
  return frames;
}

function curlyFrame(
  tokens: IToken[],
  i: number,
  top: Frame | undefined,
  pending: { callee: Callee | undefined; at: number } | undefined,
  closed: { callee: Callee | undefined; at: number } | undefined,
): Frame {
  const prev = tokens[i - 1];
  if (!top) return { open: "pipeline" };
  if (prev?.tokenType === T.Params) return { open: "params" };
  if (top.open === "args" || top.open === "list" || prev?.tokenType === T.Colon)
    return { open: "object" };
  if (prev?.tokenType === T.Identifier && prev.image === "sweep" && top.open === "pipeline")
    return { open: "sweep" };
  const callee =
    closed?.at === i - 1 ? closed.callee : pending?.at === i - 1 ? pending.callee : undefined;
  return callee?.block ? { open: "block", callee } : { open: "other" };
}

/** What a name just written calls, from where it stands. */
function calleeNamed(
  name: string,
  tokens: IToken[],
  i: number,
  top: Frame | undefined,
): Callee | undefined {
  if (afterStageEquals(tokens, i)) return kindCallee(name);
  if (top?.open === "block") return blockItemCallee(top.callee.block!, name);
  if ((top?.open === "args" || top?.open === "list") && top.callee) {
    const type =
      top.open === "list"
        ? top.type
        : top.param && Object.hasOwn(top.callee.params, top.param)
          ? top.callee.params[top.param]!.type
          : undefined;
    return callCallee(type, name);
  }
  return undefined;
}

// ---- what fits there -----------------------------------------------------------------------------

function argumentNames(callee: Callee | undefined, given: ReadonlySet<string>): CompletionItem[] {
  if (!callee) return [];
  const params = Object.entries(callee.params)
    .filter(([name]) => !given.has(name))
    .map(
      ([name, param]): CompletionItem => ({
        label: name,
        kind: CompletionItemKind.Property,
        detail: paramSummary(param),
        documentation: { kind: MarkupKind.Markdown, value: paramMarkdown(callee, name, param) },
        insertText: `${name}: `,
        sortText: `0${name}`,
      }),
    );
  const inputs = Object.entries(callee.inputs ?? {})
    .filter(([name]) => !given.has(name))
    .map(
      ([name, input]): CompletionItem => ({
        label: name,
        kind: CompletionItemKind.Field,
        detail: `input: ${input.type}${input.optional ? " (optional)" : ""}`,
        documentation: { kind: MarkupKind.Markdown, value: inputMarkdown(callee, name, input) },
        insertText: `${name}: `,
        sortText: `1${name}`,
      }),
    );
  return [...params, ...inputs];
}

/** What may be written as a value: the choices of the parameter's type, and references. */
function values(
  a: Analysis,
  callee: Callee | undefined,
  param: string | undefined,
  itemType?: ParamType,
): CompletionItem[] {
  const isInput = callee?.inputs && param !== undefined && Object.hasOwn(callee.inputs, param);
  const type =
    itemType ??
    (callee && param !== undefined && Object.hasOwn(callee.params, param)
      ? callee.params[param]!.type
      : undefined);
  const choices: CompletionItem[] = [];
  if (type) choices.push(...choicesOf(type));
  const positionalInput = callee?.what === "kind" && param === undefined;
  const refs = [
    ...(isInput || positionalInput || !type ? stageRefs(a) : []),
    ...(isInput ? [] : paramRefs(a)),
  ];
  return [...choices, ...refs];
}

function choicesOf(type: ParamType): CompletionItem[] {
  if (type.t === "string" && type.oneOf)
    return type.oneOf.map((v) => ({
      label: JSON.stringify(v),
      kind: CompletionItemKind.EnumMember,
    }));
  if (type.t === "bool")
    return ["true", "false"].map((v) => ({ label: v, kind: CompletionItemKind.Keyword }));
  if (type.t === "either") return type.of.flatMap(choicesOf);
  return callsOf(type).map((name) => calleeItem(callCallee(type, name)!));
}

function stageRefs(a: Analysis): CompletionItem[] {
  const items: CompletionItem[] = [];
  for (const [name, decl] of a.stages) {
    const kind = decl.body.name.text;
    items.push({ label: name, kind: CompletionItemKind.Variable, detail: `stage (${kind})` });
    const outputs = outputsOf(a, name);
    if (outputs.length > 1)
      for (const o of outputs)
        items.push({
          label: `${name}.${o}`,
          kind: CompletionItemKind.Field,
          detail: `output of stage ${name} (${kind})`,
        });
  }
  return items;
}

function paramRefs(a: Analysis): CompletionItem[] {
  return [...a.params].map(([name, decl]) => ({
    label: `params.${name}`,
    kind: CompletionItemKind.Constant,
    detail: `param = ${printValue(decl.value)}`,
  }));
}

/** A stage's outputs: from the checked pipeline, else from its kind's fixed outputs. */
export function outputsOf(a: Analysis, stage: string): string[] {
  const ir = a.ir?.stages.find((s) => s.name === stage || s.variant?.of === stage);
  if (ir) return ir.outputs;
  const decl = a.stages.get(stage);
  return [...((decl && kindCallee(decl.body.name.text)?.outputs) ?? [])];
}

/** After `params.`: the params; after `parts.`: the stage's outputs; after `load.`: the kinds. */
function members(a: Analysis, tokens: IToken[]): CompletionItem[] {
  const owner = tokens[tokens.length - 2];
  if (!owner) return [];
  if (owner.tokenType === T.Params)
    return [...a.params].map(([name, decl]) => ({
      label: name,
      kind: CompletionItemKind.Constant,
      detail: `param = ${printValue(decl.value)}`,
    }));
  if (afterStageEquals(tokens, tokens.length - 2))
    return allKinds()
      .filter((k) => k.name.startsWith(`${owner.image}.`))
      .map((k) => ({ ...kindItem(k), label: k.name.slice(owner.image.length + 1) }));
  if (!a.stages.has(owner.image)) return [];
  return outputsOf(a, owner.image).map((o) => ({
    label: o,
    kind: CompletionItemKind.Field,
    detail: `output of stage ${owner.image}`,
  }));
}

function kindItem(k: Callee): CompletionItem {
  return {
    label: k.name,
    kind: CompletionItemKind.Class,
    detail: `stage kind${k.inputs ? `: ${Object.keys(k.inputs).join(", ")} ->` : ""}`,
    documentation: { kind: MarkupKind.Markdown, value: calleeMarkdown(k) },
  };
}

function calleeItem(c: Callee): CompletionItem {
  return {
    label: c.name,
    kind: CompletionItemKind.Function,
    detail: c.what,
    documentation: { kind: MarkupKind.Markdown, value: calleeMarkdown(c) },
  };
}

function keyword(word: string, detail = "keyword"): CompletionItem {
  return { label: word, kind: CompletionItemKind.Keyword, detail };
}
