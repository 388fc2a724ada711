import { stdout } from "../io.js";
import { openPlan, EXIT, Exit, printJson, table, type CommonOptions } from "../context.js";
import { stageStatuses } from "../statuses.js";
import { stageViews } from "../../report/collect.js";
import { dagDot, dagSvg } from "../../report/dag.js";

/** The pipeline's DAG with each stage's status, as text, Graphviz dot, SVG (drawn by Graphviz) or Mermaid. */
export async function dagCommand(
  file: string | undefined,
  opts: CommonOptions & { format?: string; json?: boolean },
): Promise<number> {
  const planner = await openPlan(file, opts);
  const rows = await stageStatuses(planner);
  const status = new Map(rows.map((r) => [r.name, r.status]));
  const edges = planner.order.flatMap((s) =>
    Object.entries(s.inputs).map(([slot, ref]) => ({
      from: ref.stage,
      to: s.name,
      label: ref.output !== undefined ? `${ref.output} -> ${slot}` : slot,
    })),
  );
  if (opts.json) {
    printJson({
      pipeline: planner.ir.name,
      file: planner.ir.file,
      stages: planner.order.map((s) => ({
        name: s.name,
        kind: s.kind.name,
        status: status.get(s.name)!,
        upstream: planner.upstream(s.name),
      })),
      edges,
    });
    return EXIT.ok;
  }
  const format = opts.format ?? "text";
  let out: string;
  if (format === "text") {
    out = table(
      planner.order.map((s) => [
        s.name,
        s.kind.name,
        status.get(s.name)!,
        planner.upstream(s.name).length ? `<- ${planner.upstream(s.name).join(", ")}` : "",
      ]),
    );
  } else if (format === "dot" || format === "svg") {
    // One drawing for `dot`, `svg` and the HTML report: coloured by state, with key, time and size.
    const views = stageViews(planner);
    out = dagDot(planner.ir.name, views, edges);
    if (format === "svg") out = (await dagSvg(out)).trimEnd();
  } else if (format === "mermaid") {
    // Mermaid ids are plain words: a sweep variant's name (`fit@units=64`) is not one.
    const index = new Map(planner.order.map((s, i) => [s.name, i]));
    const mid = (n: string) => (/^\w+$/.test(n) ? `s_${n}` : `v${index.get(n)}`);
    const label = (n: string) => n.replace(/"/g, "#quot;");
    out = [
      "flowchart LR",
      ...planner.order.map(
        (s) =>
          `  ${mid(s.name)}["${label(s.name)}<br/><small>${s.kind.name}</small>"]:::${status.get(s.name)}`,
      ),
      ...edges.map((e) => `  ${mid(e.from)} -->|${e.label}| ${mid(e.to)}`),
      "  classDef fresh fill:#d4f4dd,stroke:#2f855a",
      "  classDef stale fill:#fde2b8,stroke:#c05621",
    ].join("\n");
  } else throw new Exit(EXIT.invalid, `--format ${format}: expected text, dot, mermaid or svg`);
  stdout().write(out + "\n");
  return EXIT.ok;
}
