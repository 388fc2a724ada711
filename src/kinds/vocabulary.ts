import { UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import { column } from "../artifacts/table.js";
import type { Vocabulary } from "../artifacts/vocabulary.js";
import { tokenize } from "../data/tokenize.js";

export const tokenizerParams = {
  level: p.oneOf("Tokens are characters or words.", ["char", "word"]).default("word"),
  lowercase: p.bool("Lower-case text before tokenizing.").default(true),
  punctuation: p
    .oneOf("Punctuation marks: tokens of their own (split) or dropped (strip).", ["split", "strip"])
    .default("split"),
};

export const vocabulary = defineKind({
  name: "vocabulary",
  version: 1,
  doc: "Builds a token vocabulary from the text column of one table (fit it on the training part only). Ids: 0 <pad>, 1 <unk>, then <bos>/<eos> if asked, then tokens by frequency, ties in code-point order.",
  params: {
    ...tokenizerParams,
    column: p.string("Text column (default: the table's text column).").optional(),
    minCount: p.int("Tokens seen fewer times become <unk>.", { min: 1 }).default(1),
    maxSize: p.int("At most this many ids in all, reserved ones included.", { min: 3 }).optional(),
    bos: p.bool("Reserve a <bos> (begin of sequence) token.").default(false),
    eos: p.bool("Reserve an <eos> (end of sequence) token.").default(false),
  },
  inputs: {
    data: { type: "table", doc: "The table to fit on, e.g. parts.train." },
    extend: {
      type: "vocabulary",
      doc: "A vocabulary to extend: every id of it is kept (so an embedding trained with it stays aligned), and tokens it lacks are appended.",
      optional: true,
    },
  },
  outputs: ["out"],
  outputType: "vocabulary",
  random: false,
  backendDependent: false,
  // The one text column: a label or any other string column is never made into strings.
  reads: {
    data: (params) =>
      params.column !== undefined ? { names: [params.column] } : { roles: ["text"] },
  },
  run(_ctx, inputs, params): { out: Vocabulary } {
    const t = inputs.data;
    const name = params.column ?? t.roles.text;
    if (!name)
      throw new UserError(
        "the table has no text column: name one with `column:` (or `text:` when loading)",
      );
    const col = column(t, name);
    if (col.dtype !== "string") throw new UserError(`column "${name}" is numeric, not text`);
    const counts = new Map<string, number>();
    for (const text of col.values)
      for (const tok of tokenize(text, params)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    if (inputs.extend) return { out: extended(inputs.extend, counts, params) };
    const reserved: Vocabulary["reserved"] = { pad: 0, unk: 1 };
    const specials = ["<pad>", "<unk>"];
    if (params.bos) (reserved.bos = specials.length), specials.push("<bos>");
    if (params.eos) (reserved.eos = specials.length), specials.push("<eos>");
    const ranked = [...counts.entries()]
      .filter(([, n]) => n >= params.minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const kept =
      params.maxSize !== undefined
        ? ranked.slice(0, Math.max(0, params.maxSize - specials.length))
        : ranked;
    return {
      out: {
        type: "vocabulary",
        level: params.level,
        lowercase: params.lowercase,
        punctuation: params.punctuation,
        tokens: [...specials, ...kept.map(([tok]) => tok)],
        counts: Int32Array.from([...specials.map(() => 0), ...kept.map(([, n]) => n)]),
        reserved,
      },
    };
  },
});

/**
 * The source vocabulary with this data's new tokens appended (ranked as a fresh vocabulary ranks
 * them: by frequency, ties in code-point order): every id of the source keeps its token, so a model
 * trained with it reads the same ids. Reserved tokens the source lacks and this stage asks for
 * (<bos>, <eos>) are appended too. Counts are this data's.
 */
function extended(
  source: Vocabulary,
  counts: ReadonlyMap<string, number>,
  params: {
    level: "char" | "word";
    lowercase: boolean;
    punctuation: "split" | "strip";
    minCount: number;
    maxSize?: number | undefined;
    bos: boolean;
    eos: boolean;
  },
): Vocabulary {
  for (const key of ["level", "lowercase", "punctuation"] as const)
    if (source[key] !== params[key])
      throw new UserError(
        `extend: the vocabulary to extend has ${key} ${JSON.stringify(source[key])}, this stage ${JSON.stringify(params[key])}: its tokens would not be this stage's`,
        { hint: `${key}: ${JSON.stringify(source[key])}` },
      );
  const tokens = [...source.tokens];
  const known = new Set(tokens);
  const reserved = { ...source.reserved };
  for (const r of ["bos", "eos"] as const)
    if (params[r] && reserved[r] === undefined) {
      reserved[r] = tokens.length;
      tokens.push(`<${r}>`);
      known.add(`<${r}>`);
    }
  const specials = new Set(Object.values(reserved));
  const ranked = [...counts.entries()]
    .filter(([tok, n]) => n >= params.minCount && !known.has(tok))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (params.maxSize !== undefined && tokens.length > params.maxSize)
    throw new UserError(
      `extend: the vocabulary to extend has ${tokens.length} ids already, more than maxSize ${params.maxSize}`,
      { hint: `maxSize: ${tokens.length} or more` },
    );
  const room = params.maxSize !== undefined ? params.maxSize - tokens.length : ranked.length;
  for (const [tok] of ranked.slice(0, Math.max(0, room))) tokens.push(tok);
  return {
    type: "vocabulary",
    level: source.level,
    lowercase: source.lowercase,
    punctuation: source.punctuation,
    tokens,
    counts: Int32Array.from(tokens, (tok, id) => (specials.has(id) ? 0 : (counts.get(tok) ?? 0))),
    reserved,
  };
}
