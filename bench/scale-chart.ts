import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/**
 * The scale suite's curves as SVG: Vega-Lite specifications (as src/report draws its charts),
 * compiled and rendered headless by Vega, log-log so that a straight line of slope 1 is linear cost.
 */
export interface Point {
  /** The series (a shape, a stage, a command). */
  series: string;
  x: number;
  y: number;
}

export interface ChartSpec {
  title: string;
  x: string;
  y: string;
  points: readonly Point[];
  /** A dashed horizontal rule, labelled (a target such as "1 s"). */
  target?: { y: number; label: string };
}

export function chartSpec(c: ChartSpec): TopLevelSpec {
  const line = {
    data: { values: c.points as Point[] },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: c.x, scale: { type: "log" } },
      y: { field: "y", type: "quantitative", title: c.y, scale: { type: "log" } },
      color: { field: "series", type: "nominal", title: null, legend: { labelLimit: 360 } },
    },
  } as const;
  const rule = c.target
    ? [
        {
          data: { values: [c.target] },
          mark: { type: "rule", strokeDash: [4, 4], color: "#b91c1c" },
          encoding: { y: { field: "y", type: "quantitative" } },
        },
        {
          data: { values: [c.target] },
          mark: { type: "text", align: "left", dx: 4, dy: -6, color: "#b91c1c" },
          encoding: {
            y: { field: "y", type: "quantitative" },
            x: { value: 0 },
            text: { field: "label" },
          },
        },
      ]
    : [];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: c.title,
    width: 420,
    height: 240,
    config: { font: "Helvetica, Arial, sans-serif", view: { stroke: null } },
    layer: [line, ...rule],
  } as TopLevelSpec;
}

/** The chart as a standalone SVG document. */
export async function renderSvg(c: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(chartSpec(c)).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
