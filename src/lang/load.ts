import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse } from "../../grammar/api.js";
import type * as A from "../../grammar/ast.js";
import type { Diagnostic } from "../core/diagnostic.js";
import { check, type Override } from "./check.js";
import type { PipelineIR } from "./ir.js";

export interface Loaded {
  ir?: PipelineIR;
  /** Errors and warnings, in file order. */
  diagnostics: Diagnostic[];
  source?: string;
}

/**
 * Reads, parses and checks a pipeline file (the whole of `rnnp validate`, and the start of every
 * command). `file` is shown in messages as given; it is read, and
 * its data paths resolve, relative to `cwd`.
 */
export function loadPipeline(
  file: string,
  overrides: readonly string[] = [],
  cwd = process.cwd(),
): Loaded {
  let source: string;
  const abs = resolve(cwd, file);
  try {
    source = readFileSync(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      diagnostics: [
        {
          code: "no-file",
          severity: "error",
          message: code === "ENOENT" ? `no such file: ${file}` : `cannot read ${file} (${code})`,
          hint: "pipelines are .rnnp files, e.g. pipelines/weather.rnnp",
        },
      ],
    };
  }
  const checked = checkSource(source, file, overrides);
  // The IR's data paths resolve against the file's real folder, whatever the process's directory.
  return {
    ...checked,
    ...(checked.ir ? { ir: { ...checked.ir, dir: dirname(abs) } } : {}),
    source,
  };
}

export function checkSource(
  source: string,
  file: string,
  overrides: readonly string[] = [],
): Loaded {
  const parsed = parse(source, file);
  const parsedOverrides: Override[] = [];
  const diagnostics = [...parsed.diagnostics];
  for (const o of overrides) {
    const r = parseOverride(o);
    if ("error" in r) diagnostics.push(r.error);
    else parsedOverrides.push(r);
  }
  if (!parsed.ast) return { diagnostics };
  const checked = check(parsed.ast, file, parsedOverrides);
  // Semantic errors in a file with syntax errors are still reported (a user fixes both in one go).
  const all = [...diagnostics, ...checked.diagnostics].sort(
    (a, b) => (a.span?.start.offset ?? -1) - (b.span?.start.offset ?? -1),
  );
  const failed = all.some((d) => d.severity === "error");
  return { ...(failed ? {} : { ir: checked.ir }), diagnostics: all };
}

/**
 * `-P name=value`: the value is read as an rnnp value (`0.01`, `true`, `[32, 64]`, `"x"`); a bare word
 * that is not one (`pre`) is taken as a string, as a shell user would expect.
 */
export function parseOverride(text: string): Override | { error: Diagnostic } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(text);
  if (!m)
    return {
      error: {
        code: "usage",
        severity: "error",
        message: `-P ${text}: expected name=value`,
        hint: "for example -P lr=0.003",
      },
    };
  const [, name, valueText] = m as unknown as [string, string, string];
  const probe = parse(`pipeline p { params { x = ${valueText} } }`, "-P");
  const item = probe.ast?.items[0];
  const value =
    probe.diagnostics.length === 0 && item?.type === "params" && item.params.length === 1
      ? item.params[0]!.value
      : undefined;
  if (value && value.type !== "ref" && value.type !== "call")
    return { name, value, text: valueText };
  const span = {
    start: { line: 1, column: 1, offset: 0 },
    end: { line: 1, column: valueText.length + 1, offset: valueText.length },
  };
  const str: A.StringValue = {
    type: "string",
    value: valueText,
    raw: JSON.stringify(valueText),
    span,
  };
  return { name, value: str, text: valueText };
}
