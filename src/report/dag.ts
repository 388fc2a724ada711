import { short, type StageKey } from "../core/digest.js";
import { formatBytes, formatDuration } from "../core/units.js";
import type { StageState, StageView } from "./collect.js";

/** Fill and border of each state, shared by the DAG and the report's legend. */
export const STATE_COLORS: Record<StageState, { fill: string; stroke: string; text: string }> = {
  cached: { fill: "#d4f4dd", stroke: "#2f855a", text: "cached" },
  ran: { fill: "#ccfbf1", stroke: "#0f766e", text: "ran" },
  remote: { fill: "#dbeafe", stroke: "#2563eb", text: "from the remote cache" },
  failed: { fill: "#fecaca", stroke: "#b91c1c", text: "failed" },
  skipped: { fill: "#f3f4f6", stroke: "#9ca3af", text: "skipped (a stage above failed)" },
  stale: { fill: "#fde2b8", stroke: "#c05621", text: "stale: will run" },
  waiting: { fill: "#eef0f3", stroke: "#8a94a6", text: "waits on a stale stage" },
  invalid: { fill: "#f5d0fe", stroke: "#a21caf", text: "cannot run (see why)" },
};

/** The stage's id in the SVG, so the report can find the node a click lands on. */
export const nodeId = (index: number) => `stage-${index}`;

const quote = (s: string) => JSON.stringify(s);

/** A node's lines: name; kind and key prefix; duration and output size (when built). */
function label(s: StageView): string {
  const lines = [s.name, s.key ? `${s.kind} · ${short(s.key as StageKey)}` : s.kind];
  if (s.durationMs !== undefined && s.bytes !== undefined)
    lines.push(`${formatDuration(s.durationMs)} · ${formatBytes(s.bytes)}`);
  return lines.join("\n");
}

/** The DAG in Graphviz's language, left to right, each stage coloured by its state. */
export function dagDot(
  pipeline: string,
  stages: readonly StageView[],
  edges: readonly { from: string; to: string; label: string }[],
): string {
  return [
    `digraph ${quote(pipeline)} {`,
    '  rankdir=LR; bgcolor="transparent"; nodesep=0.3; ranksep=0.5;',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, penwidth=1.4];',
    '  edge [fontname="Helvetica", fontsize=9, color="#667085", fontcolor="#475467"];',
    ...stages.map((s, i) => {
      const c = STATE_COLORS[s.state];
      return `  ${quote(s.name)} [id=${quote(nodeId(i))}, label=${quote(label(s))}, fillcolor=${quote(c.fill)}, color=${quote(c.stroke)}, tooltip=${quote(`${s.name}: ${c.text}`)}];`;
    }),
    ...edges.map((e) => `  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(e.label)}];`),
    "}",
  ].join("\n");
}

/** The DAG drawn by Graphviz (compiled to WebAssembly, loaded on first use): an SVG document. */
export async function dagSvg(dot: string): Promise<string> {
  const { Graphviz } = await import("@hpcc-js/wasm-graphviz");
  const graphviz = await Graphviz.load();
  return graphviz.dot(dot, "svg");
}
