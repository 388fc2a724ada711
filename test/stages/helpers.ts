import seedrandom from "seedrandom";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { loadTf } from "../../src/numerics/tf.js";
import type { Table } from "../../src/artifacts/table.js";
import type { AnyKind, StageContext } from "../../src/stages/kind.js";
import { kinds } from "../../src/kinds/registry.js";
import { resolveDataPath } from "../../src/project/paths.js";

/** A stage context as the executor gives one; TF.js on $RNNP_TEST_BACKEND (default cpu) when asked for. */
export function ctx(dir: string, seed = 12345): StageContext & { logs: string[] } {
  const logs: string[] = [];
  const runtime = describeRuntime(process.env.RNNP_TEST_BACKEND ?? "cpu");
  return {
    runtime,
    tf: () => loadTf(runtime),
    problem: (param, message, hint) => ({
      code: "stage-failed",
      severity: "error",
      message: `${param ?? ""}: ${message}`,
      ...(hint ? { hint } : {}),
    }),
    seed,
    rng: (purpose) => seedrandom(`${seed}:${purpose}`),
    resolvePath: (p) => resolveDataPath(p, dir),
    inputDigest: () => undefined,
    progress: () => {},
    log: (m) => logs.push(m),
    signal: new AbortController().signal,
    logs,
  };
}

/** Runs a kind directly, with its declared defaults filled in like the checker does. */
export async function runKind(
  name: string,
  dir: string,
  inputs: Record<string, unknown>,
  params: Record<string, unknown>,
  seed?: number,
): Promise<Record<string, Table>> {
  const kind = kinds.get(name) as AnyKind;
  return (await kind.run(ctx(dir, seed), inputs, withDefaults(name, params))) as Record<
    string,
    Table
  >;
}

/** A kind's parameters with its declared defaults filled in, as the checker gives them. */
export function withDefaults(
  name: string,
  params: Record<string, unknown>,
): Record<string, unknown> {
  const full: Record<string, unknown> = {};
  for (const [k, p] of Object.entries((kinds.get(name) as AnyKind).params))
    if (p.fallback !== undefined) full[k] = p.fallback;
  return Object.assign(full, params);
}

export function col(t: Table, name: string): unknown[] {
  return Array.from(t.columns.find((c) => c.name === name)!.values as ArrayLike<unknown>);
}

export function table(
  columns: Record<string, string[] | number[]>,
  roles: Table["roles"] = {},
): Table {
  return {
    type: "table",
    roles,
    columns: Object.entries(columns).map(([name, v]) =>
      typeof v[0] === "number"
        ? { name, dtype: "number", values: Float64Array.from(v as number[]) }
        : { name, dtype: "string", values: v as string[] },
    ),
  };
}
