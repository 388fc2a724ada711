import type { Span } from "../core/diagnostic.js";
import { printValue } from "../lang/print.js";
import { type Analysis, type Site, siteAt } from "./analysis.js";
import { outputsOf } from "./completion.js";
import { calleeMarkdown, inputMarkdown, paramMarkdown } from "./specs.js";
import { type StageStatus, stageStatus } from "./status.js";

/** What hovering a place shows, in Markdown, and the span it is about. */
export function hover(
  a: Analysis,
  offset: number,
  /** The cache to read a stage's status from (found only when needed: a bad config is an error then). */
  cacheDir: () => string,
): { markdown: string; span: Span } | undefined {
  const site = siteAt(a, offset);
  if (!site) return undefined;
  const markdown = describe(a, site, cacheDir);
  return markdown === undefined ? undefined : { markdown, span: site.span };
}

function describe(a: Analysis, site: Site, cacheDir: () => string): string | undefined {
  switch (site.type) {
    case "callee":
      return calleeMarkdown(site.callee);
    case "arg": {
      const { callee, name } = site;
      if (Object.hasOwn(callee.params, name))
        return paramMarkdown(callee, name, callee.params[name]!);
      if (callee.inputs && Object.hasOwn(callee.inputs, name))
        return inputMarkdown(callee, name, callee.inputs[name]!);
      return undefined;
    }
    case "param-decl":
    case "param-ref": {
      const decl = a.params.get(site.name);
      if (!decl) return undefined;
      const value =
        a.ir && Object.hasOwn(a.ir.params, site.name) ? a.ir.params[site.name] : undefined;
      return [
        `**params.${site.name}** = \`${printValue(decl.value)}\``,
        ...(value !== undefined ? ["", `value: \`${JSON.stringify(value)}\``] : []),
        "",
        `declared at line ${decl.span.start.line}; override with \`-P ${site.name}=...\``,
      ].join("\n");
    }
    case "stage-decl":
    case "stage-ref":
      return stageMarkdown(a, site.name, cacheDir);
    case "output": {
      if (!a.stages.has(site.stage)) return undefined;
      return [
        `**${site.stage}.${site.name}**: output of stage \`${site.stage}\``,
        "",
        `outputs: ${outputsOf(a, site.stage).join(", ")}`,
      ].join("\n");
    }
  }
}

function stageMarkdown(a: Analysis, name: string, cacheDir: () => string): string | undefined {
  const decl = a.stages.get(name);
  if (!decl) return undefined;
  const lines = [`**stage ${name}** = \`${decl.body.name.text}\``];
  const outputs = outputsOf(a, name);
  if (outputs.length) lines.push("", `outputs: ${outputs.join(", ")}`);
  lines.push("", statusLine(a, name, cacheDir));
  return lines.join("\n");
}

function statusLine(a: Analysis, name: string, cacheDir: () => string): string {
  if (!a.ir) return "key: unknown until the pipeline checks without errors";
  const swept = a.ir.stages.some((s) => s.variant?.of === name);
  if (swept) return "key: one per variant of the sweep (see `rnnp status`)";
  let status: StageStatus;
  try {
    status = stageStatus(a.ir, name, cacheDir());
  } catch (e) {
    return `key: unknown (${(e as Error).message})`;
  }
  switch (status.state) {
    case "cached":
      return `key \`${status.key.slice(0, 12)}\`: **cached** (built ${status.when}, ${status.ms} ms)`;
    case "not cached":
      return `key \`${status.key.slice(0, 12)}\`: **not cached** (\`rnnp run\` builds it)`;
    case "waiting":
      return `key: known once ${status.on.map((s) => `\`${s}\``).join(", ")} ran (not cached)`;
    case "invalid":
      return `key: cannot be computed: ${status.message}`;
    case "no cache":
      return `key: not computed: no cache at ${status.dir}`;
  }
}
