import { parse } from "../grammar/api.js";
import { lex } from "../grammar/lexer.js";
import { renderDiagnostics } from "../src/core/render.js";
import { checkSource } from "../src/lang/load.js";
import { Planner } from "../src/plan/planner.js";
import type { CacheStore } from "../src/cache/store.js";
import type { Row } from "./measure.js";

/**
 * The language front end on large and hostile files, against the lexer on the same text (the least
 * any front end must do) and against itself at a tenth of the size (a ratio near 10 means linear).
 */
function chain(n: number): string {
  const lines = ['  stage s0 = load.csv(path: "d.csv", text: "name", label: "label")'];
  for (let i = 1; i < n; i++) lines.push(`  stage s${i} = head(s${i - 1}, n: 1)`);
  return `pipeline chain {\n${lines.join("\n")}\n}\n`;
}

function best(fn: () => void, reps = 3): number {
  let ms = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

const NO_STORE = {} as CacheStore;

export function languageBench(): Row[] {
  const big = chain(100_000);
  const small = chain(10_000);
  const checkAndPlan = (src: string) => () => {
    const r = checkSource(src, "chain.rnnp");
    new Planner(r.ir!, NO_STORE).closure([`s${r.ir!.stages.length - 1}`]);
  };
  const lexBig = best(() => lex(big));
  const parseBig = best(() => parse(big, "chain.rnnp"));
  const fullBig = best(checkAndPlan(big));
  const fullSmall = best(checkAndPlan(small));
  const errors = `pipeline p {\n${Array.from({ length: 40_000 }, (_, i) => `  stage s${i} = lstn(x: 1)`).join("\n")}\n}\n`;
  const lexErrors = best(() => lex(errors));
  const shown = best(() => {
    const ds = checkSource(errors, "p.rnnp").diagnostics;
    renderDiagnostics(ds, { sources: new Map([["p.rnnp", errors]]) });
  });
  const xs = `pipeline p {\n params { ${"x ".repeat(512 * 1024)}}\n}\n`;
  const lexXs = best(() => lex(xs));
  const xsShown = best(() => {
    const ds = checkSource(xs, "p.rnnp").diagnostics;
    renderDiagnostics(ds, { sources: new Map([["p.rnnp", xs]]) });
  });
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  return [
    {
      suite: "language",
      measure: "parse, 100,000-stage chain (3.6 MB)",
      value: ms(parseBig),
      baseline: `lexing it: ${ms(lexBig)}`,
      ratio: `${(parseBig / lexBig).toFixed(1)}x`,
    },
    {
      suite: "language",
      measure: "parse + check + plan, 100,000-stage chain",
      value: ms(fullBig),
      baseline: `lexing it: ${ms(lexBig)}`,
      ratio: `${(fullBig / lexBig).toFixed(1)}x`,
    },
    {
      suite: "language",
      measure: "parse + check + plan, 100,000 vs 10,000 stages (linear: ~10x)",
      value: ms(fullBig),
      baseline: `10,000 stages: ${ms(fullSmall)}`,
      ratio: `${(fullBig / fullSmall).toFixed(1)}x`,
    },
    {
      suite: "language",
      measure: "check + render, 40,000 lines of unknown kinds",
      value: ms(shown),
      baseline: `lexing it: ${ms(lexErrors)}`,
      ratio: `${(shown / lexErrors).toFixed(1)}x`,
    },
    {
      suite: "language",
      measure: "check + render, 1 MB of `params { x x x ... }`",
      value: ms(xsShown),
      baseline: `lexing it: ${ms(lexXs)}`,
      ratio: `${(xsShown / lexXs).toFixed(1)}x`,
    },
  ];
}
