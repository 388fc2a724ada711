import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { encodingDiagnostic, parse } from "../../grammar/api.js";
import type * as A from "../../grammar/ast.js";
import { decodeSource } from "../../grammar/encoding.js";
import { Collector, type Diagnostic, diagnostic } from "../core/diagnostic.js";
import { check, type Override } from "./check.js";
import type { PipelineIR } from "./ir.js";
import { resolveParamValue } from "./params.js";

export interface Loaded {
  ir?: PipelineIR;
  /** Errors and warnings, in file order. */
  diagnostics: Diagnostic[];
  source?: string;
}

/**
 * Reads, parses and checks a pipeline file (the whole of `rnnp validate`, and the start of every
 * command). `file` is shown in messages as given; it is read, and
 * its data paths resolve, relative to `cwd`. `bytes`: the file's contents when the caller has read
 * them already (and keys something on them): then exactly those are checked.
 */
export function loadPipeline(
  file: string,
  overrides: readonly string[] = [],
  cwd = process.cwd(),
  bytes?: Uint8Array,
): Loaded {
  const abs = resolve(cwd, file);
  const read = readPipelineSource(file, abs, bytes);
  if ("diagnostic" in read)
    return {
      diagnostics: [read.diagnostic],
      ...(read.source !== undefined ? { source: read.source } : {}),
    };
  const checked = checkSource(read.source, file, overrides);
  // The IR's data paths resolve against the file's real folder, whatever the process's directory.
  return {
    ...checked,
    ...(checked.ir ? { ir: { ...checked.ir, dir: dirname(abs) } } : {}),
    source: read.source,
  };
}

/**
 * A pipeline file's text: UTF-8, a byte order mark skipped. A file that cannot be read, or is not
 * UTF-8 (UTF-16, Latin-1), is a diagnostic; `source` is then what could be decoded, for rendering.
 * `file` names it in messages; `path` is where it is read.
 */
export function readPipelineSource(
  file: string,
  path = file,
  given?: Uint8Array,
): { source: string } | { diagnostic: Diagnostic; source?: string } {
  let bytes: Uint8Array;
  try {
    bytes = given ?? readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      diagnostic: diagnostic(
        "no-file",
        code === "ENOENT" ? `no such file: ${file}` : `cannot read ${file} (${code})`,
        {},
        { hint: "pipelines are .rnnp files, e.g. pipelines/weather.rnnp" },
      ),
    };
  }
  const decoded = decodeSource(bytes);
  if ("text" in decoded) return { source: decoded.text };
  const d = encodingDiagnostic(decoded.problem, file);
  // A Latin-1 line shows where the bad byte is; UTF-16 shown as UTF-8 is noise: the file is the place.
  if (decoded.problem.offset > 0)
    return { diagnostic: d, source: new TextDecoder("utf-8").decode(bytes) };
  const { span: _, ...whole } = d;
  return { diagnostic: whole };
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
  // Semantic errors in a file with syntax errors are still reported (a user fixes both in one go),
  // except about a value that holds a syntax error: `backend "wa<TAB>sm"` is one problem, not two.
  const broken = parsed.diagnostics.map((d) => d.span!.start.offset);
  const semantic = checked.diagnostics.filter(
    (d) => !d.span || !broken.some((o) => o > d.span!.start.offset && o < d.span!.end.offset),
  );
  const all = [...diagnostics, ...semantic].sort(
    (a, b) => (a.span?.start.offset ?? -1) - (b.span?.start.offset ?? -1),
  );
  const failed = all.some((d) => d.severity === "error");
  return { ...(failed ? {} : { ir: checked.ir }), diagnostics: all };
}

/**
 * `-P name=value`: the value is read as an rnnp value (`0.01`, `true`, `[32, 64]`, `"x"`, `1e-3 / 2`);
 * one that refers to something (`pre`, `params.x`) is taken as a string, as a shell user would
 * expect. Arithmetic is evaluated here, so that its errors name the flag rather than a place in
 * the pipeline file.
 */
export function parseOverride(text: string): Override | { error: Diagnostic } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(text);
  if (!m)
    return {
      error: diagnostic(
        "usage",
        `-P ${text}: expected name=value`,
        {},
        {
          hint: "for example -P lr=0.003",
        },
      ),
    };
  const [, name, valueText] = m as unknown as [string, string, string];
  const probe = parse(`pipeline p { params { x = ${valueText} } }`, "-P");
  const item = probe.ast?.items[0];
  const value =
    probe.diagnostics.length === 0 &&
    probe.ast?.items.length === 1 &&
    item?.type === "params" &&
    item.params.length === 1
      ? item.params[0]!.value
      : undefined;
  if (value && !refersToSomething(value)) {
    const out = new Collector();
    const resolved = resolveParamValue(value, {
      file: "-P",
      params: new Map(),
      stageNames: new Set(),
      used: new Set(),
      out,
    });
    const problem = out.diagnostics[0];
    if (resolved && !problem) return { name, value: resolved, text: valueText };
    return {
      error: diagnostic(
        "usage",
        `-P ${name}=${valueText}: ${problem?.message ?? "not a value"}`,
        {},
        {
          hint: problem?.hint,
        },
      ),
    };
  }
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

/** A reference anywhere, or a call at the top: not a value on its own. */
function refersToSomething(v: A.Value): boolean {
  if (v.type === "call") return true;
  let found = false;
  const todo: A.Value[] = [v];
  while (todo.length && !found) {
    const x = todo.pop()!;
    if (x.type === "ref") found = true;
    else if (x.type === "list") for (const i of x.items) todo.push(i);
    else if (x.type === "object") for (const e of x.entries) todo.push(e.value);
    else if (x.type === "call") for (const a of x.args) todo.push(a.value);
    else if (x.type === "arithmetic") for (const o of x.operands) todo.push(o);
    else if (x.type === "negated") todo.push(x.operand);
    else if (x.type === "group") todo.push(x.value);
  }
  return found;
}
