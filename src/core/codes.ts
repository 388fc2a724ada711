/**
 * Every diagnostic rnnp reports, by stable code: one entry each (as esbuild's msg_ids.go), read by
 * the diagnostics themselves (severity), the renderer, `--json` output and the generated reference.
 * A code names a kind of problem, not a message: tests, editors and scripts match on it, so it never
 * changes once shipped. A new problem is one entry here; a free string is a type error.
 */
export type Severity = "error" | "warning";

export interface CodeInfo {
  severity: Severity;
  /** What the code means, for the reference (docs/diagnostics.md). */
  summary: string;
}

const error = (summary: string): CodeInfo => ({ severity: "error", summary });
const warning = (summary: string): CodeInfo => ({ severity: "warning", summary });

export const CODES = {
  // ---- the language: syntax --------------------------------------------------------------------
  syntax: error("The file does not follow the grammar (a missing comma, an unclosed bracket...)."),
  encoding: error("The file is not UTF-8 text (UTF-16, or a byte order mark)."),
  "too-deep": error("Values or blocks are nested deeper than the parser allows."),

  // ---- the language: settings and params ---------------------------------------------------------
  "unknown-setting": error("A pipeline-wide setting that does not exist."),
  "duplicate-setting": error("A setting given twice."),
  "duplicate-param": error("A param declared twice in `params { ... }`."),
  "param-ref": error("A param value refers to a stage."),
  "param-cycle": error("Params that refer to each other in a cycle."),
  "unknown-override": error("`-P NAME=...` names no declared param."),
  "unused-param": warning("A declared param that no stage uses."),
  sweep: error("A malformed `sweep` setting."),
  usage: error("A command-line argument that cannot be read."),

  // ---- the language: stages ----------------------------------------------------------------------
  "duplicate-stage": error("Two stages with one name."),
  "unknown-kind": error("A stage kind that does not exist."),
  "unexpected-block": error("A `{ ... }` block on a kind or item that takes none."),
  "missing-block": error("A kind or item that needs a `{ ... }` block is written without one."),
  "unknown-item": error("An item (layer) in a block that the block does not accept."),
  "unknown-param": error("A parameter (or input) that the kind, item or call does not have."),
  "missing-param": error("A required parameter is not given."),
  "duplicate-arg": error("A parameter or input given twice."),
  "positional-arg": error("A value without a name where only named arguments are accepted."),
  "extra-input": error("More positional inputs than the kind takes."),
  "missing-input": error("A required input is not given."),
  "input-ref": error("An input that is not a reference to a stage."),
  "input-type": error("An input of the wrong artifact type (a table where sequences are needed)."),
  "undefined-ref": error("A reference to a stage, output or name that does not exist."),
  "unknown-param-ref": error("`params.NAME` names no declared param."),
  "unknown-output": error("`stage.output` names an output the stage does not have."),
  "ambiguous-output": error("A stage with several outputs used where one is needed."),
  "param-type": error("A value of the wrong type or out of its range."),
  "non-finite": error(
    "A number that is not finite: a literal too large to represent (`1e400`), a division by zero, or a result that overflows.",
  ),
  "param-rule": error(
    "Parameters that break a rule of their kind together (fractions not summing to 1).",
  ),
  cycle: error("Stages that depend on each other in a cycle."),
  "too-large": error("A model or data shape beyond what rnnp can allocate."),

  // ---- planning and running ----------------------------------------------------------------------
  "no-file": error("The pipeline file cannot be read."),
  "missing-file": error("A data file a stage reads does not exist or cannot be read."),
  "no-runtime": error("A stage needs a numeric backend that cannot run here."),
  "missing-tool": error("A stage needs an external program that is not installed."),
  "stage-failed": error("A stage stopped with an error while running."),
  data: error("A data file's content is not what its stage needs (a bad row, a missing column)."),
  worker: error(
    "A worker (run --jobs, rnnp worker, a Slurm job) failed outside its stage, or its result reached no cache the run reads.",
  ),
  "job-refused": error(
    "A worker refused a job made by another rnnp version or runtime (it would give other bytes).",
  ),
  queue: error("The job queue (Redis) cannot be reached, or was lost during a run."),
  slurm: error("Slurm refused a job, or a Slurm job failed outside its stage."),
  frozen: error("`run --frozen`: a stage's key or bytes differ from the lockfile."),
  lockfile: error("A lockfile that cannot be read."),
  config: error("rnnp.config.json cannot be read or has a bad value."),
  interrupted: error("The run was interrupted."),

  // ---- the cache -----------------------------------------------------------------------------------
  "cache-corrupt": error("A cache entry (record or blob) is damaged."),
  bundle: error("A cache bundle that is refused (damaged, tampered or not a bundle)."),
  signature: error("A record whose signature does not verify."),
  remote: error("The remote cache misbehaved (an error status, a poisoned blob)."),
  codec: error("An artifact's bytes that cannot be decoded."),
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

export function severityOf(code: Code): Severity {
  return CODES[code].severity;
}
