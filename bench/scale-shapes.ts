/**
 * Generated pipelines for the scale suite: three shapes at any size, every stage cheap (a `head` of
 * a 200-row table), so what grows is the engine's own work per stage, not the stages'. Every stage
 * has a key of its own (no two share parameters and inputs), so the cache holds one record each.
 */
export type Shape = "chain" | "fan" | "sweep";
export const SHAPES: readonly Shape[] = ["chain", "fan", "sweep"];

/** The 200-row CSV every generated pipeline loads. */
export const TINY_CSV = `name,label\n${Array.from({ length: 200 }, (_, i) => `n${i},${i % 2}`).join("\n")}\n`;

const LOAD = 'load.csv(path: "d.csv", text: "name", label: "label")';

/**
 * A pipeline of about `n` stages (exactly `n` for chains and fans; sweeps round to their grid):
 * - chain: each stage reads the one before (depth n), keeping all its rows;
 * - fan: one loader read by n - 1 stages (width n - 1);
 * - sweep: `first = head(raw, n: params.a)` and `second = head(first, n: params.b)` swept over a
 *   grid of a x b values, so 1 + a + a*b stages, most of them variants of a variant.
 */
export function pipelineOf(shape: Shape, n: number): { text: string; stages: number } {
  if (shape === "sweep") {
    const b = Math.max(1, Math.round(Math.sqrt(n)));
    const a = Math.max(1, Math.round((n - 1) / (b + 1)));
    const values = (k: number) => `[${Array.from({ length: k }, (_, i) => i + 1).join(", ")}]`;
    return {
      text: `pipeline sweep {
  params { a = 1, b = 1 }
  sweep {a: ${values(a)}, b: ${values(b)}}
  stage raw = ${LOAD}
  stage first = head(raw, n: params.a)
  stage second = head(first, n: params.b)
}
`,
      stages: 1 + a + a * b,
    };
  }
  const lines = [`  stage s0 = ${LOAD}`];
  for (let i = 1; i < n; i++)
    lines.push(
      shape === "chain"
        ? `  stage s${i} = head(s${i - 1}, n: ${200 + i})`
        : `  stage s${i} = head(s0, n: ${i})`,
    );
  return { text: `pipeline ${shape} {\n${lines.join("\n")}\n}\n`, stages: n };
}
