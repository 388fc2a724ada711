import type { Json } from "../core/canonical.js";
import { CODES } from "../core/codes.js";
import { kinds } from "../kinds/registry.js";
import { FOREIGN_NAMES } from "../lang/foreign.js";
import { LAYERS } from "../numerics/layers/index.js";
import { OPTIMIZERS, SCHEDULES } from "../numerics/optimizers.js";
import type { AnyKind, BlockSpec } from "../stages/kind.js";
import { describeType, type ParamsSpec } from "../stages/schema.js";

/**
 * The reference, generated from the declarations (kinds, layers, optimizers, schedules, diagnostic
 * codes): `rnnp help TOPIC` and `rnnp kinds` print it in the terminal, and docs/reference.md is the
 * same text as Markdown (written by `npm run docs`, kept equal by test/cli/reference.test.ts). No
 * parameter is documented anywhere else, so none can be missing or stale.
 */

/** One documented thing: a stage kind, a layer, an optimizer or a schedule. */
export interface Topic {
  section: "kind" | "layer" | "optimizer" | "schedule";
  name: string;
  doc: string;
  inputs: { name: string; type: string; doc: string; optional: boolean }[];
  params: { name: string; type: string; default: string; doc: string }[];
  block?: string;
  notes: string[];
}

const SECTIONS = {
  kind: "Stage kinds",
  layer: "Layers (in model { } blocks)",
  optimizer: "Optimizers (train's `optimizer:`)",
  schedule: "Learning-rate schedules (train's `schedule:`)",
} as const;

/** Notes a declaration cannot carry by itself. */
const NOTES: Record<string, string[]> = {
  train: [
    "`clipNorm` clips the global norm: all gradients are scaled together so that their joint L2 norm is at most clipNorm (Keras's `global_clipnorm`, PyTorch's `clip_grad_norm_`). Keras's `clipnorm` clips each variable's norm separately.",
  ],
};

export function topics(): Topic[] {
  return [
    ...[...kinds.values()].map(kindTopic),
    ...LAYERS.all.map((l) => paramsTopic("layer", l.name, l.doc, l.params)),
    ...Object.entries(OPTIMIZERS).map(([n, o]) =>
      paramsTopic("optimizer", n, o.doc, o.params as ParamsSpec),
    ),
    ...Object.entries(SCHEDULES).map(([n, o]) =>
      paramsTopic("schedule", n, o.doc, o.params as ParamsSpec),
    ),
  ];
}

function kindTopic(k: AnyKind): Topic {
  return {
    ...paramsTopic("kind", k.name, k.doc, k.params),
    inputs: Object.entries(k.inputs).map(([name, i]) => ({
      name,
      type: i.type,
      doc: i.doc,
      optional: i.optional === true,
    })),
    ...(k.block ? { block: describeBlock(k.block) } : {}),
  };
}

function paramsTopic(
  section: Topic["section"],
  name: string,
  doc: string,
  spec: ParamsSpec,
): Topic {
  return {
    section,
    name,
    doc,
    inputs: [],
    params: Object.entries(spec).map(([n, p]) => ({
      name: n,
      type: describeType(p.type),
      default: p.required ? "required" : p.isOptional ? "optional" : showValue(p.fallback!),
      doc: p.doc,
    })),
    notes: NOTES[name] ?? [],
  };
}

function describeBlock(b: BlockSpec): string {
  if (b.nested)
    return `${b.doc}; ${Object.entries(b.nested)
      .map(([n, nb]) => `\`${n} { }\` holds ${nb.doc} (${Object.keys(nb.items).join(", ")})`)
      .join("; ")}`;
  return `${b.doc} (${Object.keys(b.items).join(", ")})`;
}

/** A default as it is written in a pipeline: `adam(lr: 0.001)`, `"auto"`, `[1, 2]`. */
export function showValue(v: Json): string {
  if (v !== null && typeof v === "object" && !Array.isArray(v) && "call" in v && "args" in v) {
    const args = Object.entries(v.args as Record<string, Json>)
      .map(([k, x]) => `${k}: ${showValue(x)}`)
      .join(", ");
    return `${String(v.call)}(${args})`;
  }
  if (Array.isArray(v)) return `[${v.map(showValue).join(", ")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${showValue(x)}`)
      .join(", ")}}`;
  return JSON.stringify(v);
}

export function findTopic(name: string): Topic | undefined {
  return topics().find((t) => t.name === name);
}

const firstSentence = (doc: string) => doc.match(/^.*?\.(?=\s|$)/)?.[0] ?? doc;
const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

function topicMarkdown(t: Topic): string {
  const out = [`### ${t.name}`, "", t.doc, ""];
  if (t.inputs.length) {
    out.push("| input | type | |", "|---|---|---|");
    for (const i of t.inputs)
      out.push(`| \`${i.name}\` | ${i.type}${i.optional ? " (optional)" : ""} | ${cell(i.doc)} |`);
    out.push("");
  }
  if (t.params.length) {
    out.push("| param | type | default | |", "|---|---|---|---|");
    for (const p of t.params)
      out.push(`| \`${p.name}\` | ${cell(p.type)} | \`${cell(p.default)}\` | ${cell(p.doc)} |`);
    out.push("");
  } else if (t.section !== "kind") out.push("No parameters.", "");
  if (t.block) out.push(`Block: ${t.block}.`, "");
  for (const n of t.notes) out.push(`> ${n}`, "");
  return out.join("\n");
}

/** docs/reference.md. */
export function referenceMarkdown(): string {
  const all = topics();
  const out = [
    "# rnnp reference",
    "",
    "<!-- Generated from the declarations by `npm run docs`; test/cli/reference.test.ts keeps it in sync. Do not edit. -->",
    "",
    "Every stage kind, layer, optimizer and schedule with each parameter's type, default and meaning, as the checker enforces them; then the diagnostic codes and the Keras/TF.js names rnnp hints at. In the terminal: `rnnp kinds` lists them and `rnnp help NAME` shows one.",
    "",
  ];
  for (const [section, title] of Object.entries(SECTIONS)) {
    const here = all.filter((t) => t.section === section);
    out.push(`## ${title}`, "");
    out.push("| name | |", "|---|---|");
    for (const t of here)
      out.push(`| [\`${t.name}\`](#${anchor(t.name)}) | ${cell(firstSentence(t.doc))} |`);
    out.push("");
    for (const t of here) out.push(topicMarkdown(t));
  }
  out.push("## Diagnostic codes", "", "| code | severity | meaning |", "|---|---|---|");
  for (const [code, info] of Object.entries(CODES))
    out.push(`| \`${code}\` | ${info.severity} | ${cell(info.summary)} |`);
  out.push("", "## Keras and TF.js names", "");
  out.push(
    "rnnp spells each parameter one way; these names, typed from Keras or TF.js habit, are refused with a hint naming rnnp's parameter (any other snake_case name whose camelCase is a parameter gets the same hint).",
    "",
    "| Keras / TF.js | rnnp |",
    "|---|---|",
  );
  for (const [foreign, { ours, note }] of FOREIGN_NAMES)
    out.push(`| \`${foreign}\` | \`${ours}\`${note ? ` (${cell(note)})` : ""} |`);
  return `${out.join("\n")}\n`;
}

const anchor = (name: string) => name.toLowerCase().replace(/[^a-z0-9 -]/g, "");

/** `rnnp help NAME` in the terminal: the same content as the Markdown, laid out as columns. */
export function topicText(t: Topic, table: (rows: string[][]) => string): string {
  const out = [`${t.name} (${t.section})`, "", wrap(t.doc), ""];
  if (t.inputs.length) {
    out.push("inputs:");
    out.push(
      indent(
        table(t.inputs.map((i) => [i.name, i.type + (i.optional ? " (optional)" : ""), i.doc])),
      ),
      "",
    );
  }
  if (t.params.length) {
    out.push("params:");
    for (const p of t.params)
      out.push(
        `  ${p.name}: ${p.type}${p.default === "required" || p.default === "optional" ? ` (${p.default})` : ` = ${p.default}`}`,
        indent(indent(wrap(p.doc, 96))),
      );
    out.push("");
  }
  if (t.block) out.push(wrap(`block: ${t.block}.`), "");
  for (const n of t.notes) out.push(wrap(`note: ${n}`), "");
  return `${out.join("\n").trimEnd()}\n`;
}

/** `rnnp kinds`: every kind, layer, optimizer and schedule, one line each. */
export function topicsText(table: (rows: string[][]) => string): string {
  const all = topics();
  return Object.entries(SECTIONS)
    .map(
      ([section, title]) =>
        `${title}:\n${indent(
          table(
            all.filter((t) => t.section === section).map((t) => [t.name, firstSentence(t.doc)]),
          ),
        )}\n`,
    )
    .concat("`rnnp help NAME` shows one; docs/reference.md has them all.\n")
    .join("\n");
}

const indent = (s: string) =>
  s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

function wrap(s: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of s.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) lines.push(line), (line = word);
    else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join("\n");
}
