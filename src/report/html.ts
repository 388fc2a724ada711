import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createRequire } from "node:module";
import { formatBytes, formatDuration } from "../core/units.js";
import { verdictLine } from "../artifacts/report.js";
import {
  balanceChart,
  confusionChart,
  curveChart,
  flowChart,
  forecastChart,
  gradientChart,
  groupChart,
  learningRateChart,
  lengthChart,
  perStepChart,
  rowsChart,
  sweepChart,
  verdictChart,
  type Chart,
} from "./charts.js";
import type { EvaluateView, ReportData, StageState, SweepView, TrainView } from "./collect.js";
import { STATE_COLORS } from "./dag.js";

/**
 * The report as one HTML file: its data, the DAG's SVG, the charts' Vega-Lite specs, and Vega and
 * Vega-Lite themselves inline, so it opens from disk with no network and no server.
 */
export function renderHtml(data: ReportData, dagSvg: string): string {
  const charts: Chart[] = [];
  const sections = [
    dagSection(dagSvg),
    trainSection(data.train, charts),
    evaluateSection(data.evaluate, charts),
    sweepSection(data.sweeps, charts),
    dataSection(data, charts),
  ].filter((s) => s !== "");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rnnp ${esc(data.made.rnnp)}">
<title>${esc(data.pipeline)} · rnnp report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>${esc(data.pipeline)} <small>${esc(data.file)}</small></h1>
  <p class="meta">${counts(data)} · made ${esc(data.made.at)} by rnnp ${esc(data.made.rnnp)}</p>
  <nav>${sections
    .map((s) => s.match(/<section id="([^"]+)"><h2>([^<]+)/))
    .map((m) => (m ? `<a href="#${m[1]}">${m[2]}</a>` : ""))
    .join("")}</nav>
</header>
<main>
${sections.join("\n")}
${notBuilt(data)}
</main>
<script type="application/json" id="report-data">${json({ ...data, facts: stageFacts(data) })}</script>
<script type="application/json" id="report-charts">${json(Object.fromEntries(charts.map((c) => [c.id, c.spec])))}</script>
<script>${asset("vega/build/vega.min.js")}</script>
<script>${asset("vega-lite/build/vega-lite.min.js")}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

const require = createRequire(import.meta.url);

/** A library's browser build, read from its installed package (whose `exports` may not list it). */
function asset(path: string): string {
  const name = path.split("/")[0]!;
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, "package.json")) || basename(dir) !== name) {
    if (dirname(dir) === dir) throw new Error(`cannot find the package ${name}`);
    dir = dirname(dir);
  }
  return readFileSync(join(dir, path.slice(name.length + 1)), "utf8");
}

/** JSON inside a <script> element: nothing in it can close the element. */
function json(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const fmt = (v: number | undefined) =>
  v === undefined ? "" : Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));

function counts(data: ReportData): string {
  const by = new Map<StageState, number>();
  for (const s of data.stages) by.set(s.state, (by.get(s.state) ?? 0) + 1);
  return `${data.stages.length} stages: ${[...by]
    .map(([state, n]) => `<span class="pill ${state}">${n} ${state}</span>`)
    .join(" ")}`;
}

/** A chart's place in the page; the page script draws it and marks it `data-rendered`. */
function figure(c: Chart | undefined, charts: Chart[]): string {
  if (!c) return "";
  charts.push(c);
  return `<figure><figcaption>${esc(c.title)}</figcaption><div class="chart" data-chart="${esc(c.id)}"></div>${c.caption ? `<p class="caption">${esc(c.caption)}</p>` : ""}</figure>`;
}

function table(head: string[], rows: string[][], cls = ""): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

function dagSection(svg: string): string {
  const legend = (Object.keys(STATE_COLORS) as StageState[])
    .map(
      (s) =>
        `<span class="key"><i style="background:${STATE_COLORS[s].fill};border-color:${STATE_COLORS[s].stroke}"></i>${esc(STATE_COLORS[s].text)}</span>`,
    )
    .join("");
  const inline = svg.slice(svg.indexOf("<svg"));
  return `<section id="dag"><h2>Pipeline</h2>
<p class="legend">${legend}</p>
<div class="dag">${inline}</div>
<aside id="details" class="details"><p class="hint">Click a stage to see its parameters, its key's manifest, provenance and why it is in its state.</p></aside>
</section>`;
}

function trainSection(train: TrainView[], charts: Chart[]): string {
  if (!train.length) return "";
  const families = groupBy(train, (t) => t.family);
  const blocks = [...families].map(([family, runs]) => {
    const metrics = [
      ...new Set(
        runs.flatMap((t) =>
          t.history.flatMap((e) => [...Object.keys(e.metrics), ...Object.keys(e.valMetrics ?? {})]),
        ),
      ),
    ];
    const warnings = runs.flatMap((t) =>
      t.warnings.map((w) => `<li>${runs.length > 1 ? `${esc(t.stage)}: ` : ""}${esc(w)}</li>`),
    );
    const summary = table(
      ["stage", "epochs", "weights from", "loss", "val loss"],
      runs.map((t) => {
        const at = t.history.find((e) => e.epoch === t.weightsEpoch);
        return [
          esc(t.stage),
          String(t.history.length),
          t.weightsEpoch === undefined
            ? ""
            : `epoch ${t.weightsEpoch}${t.restored ? " (best, restored)" : ""}`,
          fmt(at?.loss),
          fmt(at?.valLoss),
        ];
      }),
    );
    return `<div class="block" id="train-${esc(family)}"><h3>${esc(family)}${runs.length > 1 ? ` <small>${runs.length} variants</small>` : ""}</h3>
${summary}
${warnings.length ? `<ul class="warnings">${warnings.join("")}</ul>` : ""}
<div class="grid">${[
      figure(curveChart(runs, "loss"), charts),
      ...metrics.map((m) => figure(curveChart(runs, m), charts)),
      figure(learningRateChart(runs), charts),
      figure(gradientChart(runs), charts),
      figure(flowChart(runs), charts),
    ].join("")}</div></div>`;
  });
  return `<section id="training"><h2>Training</h2>${blocks.join("\n")}</section>`;
}

function evaluateSection(evaluate: EvaluateView[], charts: Chart[]): string {
  if (!evaluate.length) return "";
  const blocks = evaluate.map((e) => {
    const r = e.report;
    const baselines = r.baselines ?? [];
    const metrics = Object.keys(r.metrics);
    const verdict = r.verdict
      ? `<p class="verdict ${r.verdict.beats ? "beats" : "loses"}">The model ${esc(verdictLine(r.verdict))}.</p>`
      : `<p class="verdict none">No baseline reports ${esc(e.metric)}: nothing to compare against.</p>`;
    const metricTable = table(
      [
        "metric",
        "model",
        ...baselines.map((b) => `${esc(b.name)}<br><small>${esc(b.doc)}</small>`),
      ],
      metrics.map((m) => [
        m === e.metric ? `<b>${esc(m)}</b>` : esc(m),
        fmt(r.metrics[m]),
        ...baselines.map((b) => fmt(b.metrics[m])),
      ]),
      "metrics",
    );
    const perClass = r.perClass?.length
      ? table(
          ["class", "precision", "recall", "F1", "support"],
          r.perClass.map((c) => [
            esc(c.label),
            fmt(c.precision),
            fmt(c.recall),
            fmt(c.f1),
            String(c.support),
          ]),
          "per-class",
        )
      : "";
    const perTarget = r.perTarget?.length
      ? table(
          ["target", "MAE", "RMSE", "MAPE"],
          r.perTarget.map((t) => [esc(t.name), fmt(t.mae), fmt(t.rmse), fmt(t.mape)]),
        )
      : "";
    const decoded =
      e.samples?.kind === "decoded"
        ? `<h4>Decoded samples</h4>${table(
            ["input", "truth", "predicted", "edits"],
            e.samples.rows.map((s) => [
              esc(s.input),
              esc(s.truth),
              s.errors ? `<span class="wrong">${esc(s.predicted)}</span>` : esc(s.predicted),
              String(s.errors),
            ]),
            "decoded",
          )}`
        : "";
    return `<div class="block" id="eval-${esc(e.stage)}"><h3>${esc(e.stage)} <small>${r.n} examples${e.model ? `, model of ${esc(e.model)}` : ""}</small></h3>
${verdict}
${metricTable}
<div class="grid">${[
      figure(verdictChart(e), charts),
      figure(confusionChart(e), charts),
      figure(perStepChart(e), charts),
      figure(forecastChart(e, e.samples), charts),
      figure(groupChart(e), charts),
    ].join("")}</div>
${perClass ? `<h4>Per class</h4>${perClass}` : ""}${perTarget ? `<h4>Per target</h4>${perTarget}` : ""}${decoded}</div>`;
  });
  return `<section id="evaluation"><h2>Evaluation</h2>${blocks.join("\n")}</section>`;
}

function sweepSection(sweeps: SweepView[], charts: Chart[]): string {
  if (!sweeps.length) return "";
  const blocks = sweeps.map((s) => {
    const metrics = [...new Set(s.rows.flatMap((r) => Object.keys(r.metrics ?? {})))];
    const withValidation = s.rows.some((r) => r.validation !== undefined);
    const rows = s.rows.map((r) => [
      r.stage === s.chosen
        ? `<b>${esc(r.stage)}</b> <span class="chosen">chosen</span>`
        : esc(r.stage),
      ...s.swept.map((p) => esc(JSON.stringify(r.variant[p]))),
      ...(withValidation ? [fmt(r.validation)] : []),
      ...metrics.map((m) => (r.metrics ? fmt(r.metrics[m]) : "not built")),
    ]);
    return `<div class="block" id="sweep-${esc(s.stage)}"><h3>${esc(s.stage)} <small>${s.rows.length} variants</small></h3>
${figure(sweepChart(s), charts)}
${table(["stage", ...s.swept.map(esc), ...(withValidation ? ["val_loss (chooses)"] : []), ...metrics.map(esc)], rows)}</div>`;
  });
  return `<section id="sweeps"><h2>Sweeps</h2>${blocks.join("\n")}</section>`;
}

function dataSection(data: ReportData, charts: Chart[]): string {
  if (!data.data.length) return "";
  const overview = table(
    ["stage", "kind", "parts", "rows"],
    data.data.map((d) => [
      esc(d.stage),
      esc(d.kind),
      d.parts.map((p) => esc(p.part)).join(", "),
      d.parts.map((p) => String(p.rows)).join(" / "),
    ]),
  );
  const figures = data.data.flatMap((d) => [
    figure(rowsChart(d), charts),
    figure(balanceChart(d), charts),
    figure(lengthChart(d), charts),
  ]);
  return `<section id="data"><h2>Data</h2>${overview}<div class="grid">${figures.join("")}</div></section>`;
}

/** Where nothing is built, say so and how to fill the report in, rather than show empty sections. */
function notBuilt(data: ReportData): string {
  if (data.stages.some((s) => s.outputs.length > 0)) return "";
  return `<p class="empty">No stage of this pipeline is built in this cache yet: run <code>rnnp run ${esc(data.file)}</code>, then make the report again.</p>`;
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

/** Durations and sizes formatted once here, so the page script needs no formatting code of its own. */
export function stageFacts(data: ReportData): Record<string, string>[] {
  return data.stages.map((s) => ({
    ...(s.durationMs !== undefined ? { duration: formatDuration(s.durationMs) } : {}),
    ...(s.bytes !== undefined ? { size: formatBytes(s.bytes) } : {}),
  }));
}

const STYLE = `
:root { --fg:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#fafafa; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { padding:16px 28px 8px; background:white; border-bottom:1px solid var(--line); position:sticky; top:0; z-index:2; }
h1 { margin:0; font-size:22px; } h1 small { font-weight:400; color:var(--muted); font-size:14px; margin-left:8px; }
.meta { margin:4px 0; color:var(--muted); }
nav a { margin-right:16px; color:var(--accent); text-decoration:none; font-weight:500; }
main { padding:8px 28px 40px; }
section { margin-top:24px; } h2 { font-size:18px; border-bottom:2px solid var(--line); padding-bottom:4px; }
h3 { font-size:16px; margin:18px 0 8px; } h3 small, h4 small { color:var(--muted); font-weight:400; }
.block { background:white; border:1px solid var(--line); border-radius:8px; padding:4px 16px 12px; margin-bottom:16px; }
.grid { display:flex; flex-wrap:wrap; gap:18px; }
figure { margin:8px 0; } figcaption { font-weight:600; margin-bottom:4px; }
.caption { color:var(--muted); max-width:520px; font-size:12px; margin:4px 0 0; }
table { border-collapse:collapse; margin:8px 0; font-variant-numeric:tabular-nums; }
th, td { border-bottom:1px solid var(--line); padding:3px 10px; text-align:left; vertical-align:top; }
th { font-weight:600; background:#f3f4f6; } th small { font-weight:400; color:var(--muted); }
.pill { display:inline-block; border-radius:10px; padding:0 8px; font-size:12px; border:1px solid; }
${(Object.keys(STATE_COLORS) as StageState[]).map((s) => `.pill.${s}, .state.${s} { background:${STATE_COLORS[s].fill}; border-color:${STATE_COLORS[s].stroke}; }`).join("\n")}
.legend .key { margin-right:14px; color:var(--muted); font-size:12px; }
.legend i { display:inline-block; width:12px; height:12px; border:1.5px solid; border-radius:3px; margin-right:4px; vertical-align:-2px; }
.dag { overflow:auto; background:white; border:1px solid var(--line); border-radius:8px; padding:8px; }
.dag svg { width:100%; min-width:720px; height:auto; max-height:60vh; } .dag g.node { cursor:pointer; } .dag g.node:hover path { stroke-width:2.5; }
.dag g.node.selected path { stroke:#111827; stroke-width:3; }
.details { background:white; border:1px solid var(--line); border-radius:8px; padding:10px 14px; margin-top:12px; font-size:13px; columns:2 420px; column-gap:28px; }
.details > * { break-inside:avoid; } .details h3 { column-span:all; }
.details h3 { margin-top:4px; } .details pre { background:#f3f4f6; padding:6px; border-radius:4px; overflow:auto; max-height:260px; font-size:12px; }
.details .hint { color:var(--muted); }
.state { border:1px solid; border-radius:4px; padding:0 6px; }
.verdict { font-weight:600; padding:6px 10px; border-radius:6px; display:inline-block; }
.verdict.beats { background:#dcfce7; color:#166534; } .verdict.loses { background:#fee2e2; color:#991b1b; } .verdict.none { background:#f3f4f6; }
.warnings { color:#9a3412; }
.wrong { color:#b91c1c; }
.chosen { background:#dbeafe; color:#1e40af; border-radius:4px; padding:0 5px; font-size:12px; }
.chart-error { color:#b91c1c; }
.empty { background:#fff7ed; border:1px solid #fed7aa; border-radius:8px; padding:10px 14px; }
`;

/**
 * What runs in the page: draws every chart with Vega (SVG renderer), and shows a stage's details when
 * its node in the DAG is clicked. Plain ES2017, no imports.
 */
const PAGE_SCRIPT = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var specs = JSON.parse(document.getElementById("report-charts").textContent);
  var base = { $schema: "https://vega.github.io/schema/vega-lite/v6.json", config: { view: { stroke: null }, font: "system-ui, Helvetica, Arial, sans-serif" } };
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = Object.assign({}, base, specs[el.getAttribute("data-chart")]);
    try {
      var compiled = vegaLite.compile(spec).spec;
      var view = new vega.View(vega.parse(compiled), { renderer: "svg", container: el, hover: true });
      view.runAsync().then(function () { el.setAttribute("data-rendered", "true"); }, fail);
    } catch (e) { fail(e); }
    function fail(e) {
      el.setAttribute("data-rendered", "error");
      el.innerHTML = "<p class=chart-error></p>";
      el.firstChild.textContent = "this chart could not be drawn: " + (e && e.message);
      console.error(e);
    }
  });

  var details = document.getElementById("details");
  function h(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function kv(rows) {
    var t = h("table");
    rows.forEach(function (r) { var tr = h("tr"); tr.appendChild(h("th", r[0])); var td = h("td"); if (r[1] instanceof Node) td.appendChild(r[1]); else td.textContent = r[1]; tr.appendChild(td); t.appendChild(tr); });
    return t;
  }
  function reasons(list) {
    var ul = h("ul");
    (list || []).forEach(function (r) { var li = h("li", r.text); if (r.because) li.appendChild(reasons(r.because)); ul.appendChild(li); });
    return ul;
  }
  function show(i) {
    var s = data.stages[i];
    var f = data.facts[i] || {};
    details.innerHTML = "";
    details.setAttribute("data-stage", s.name);
    var title = h("h3", s.name + " "); title.appendChild(h("span", s.state, "state " + s.state)); details.appendChild(title);
    details.appendChild(kv([["kind", s.kind]].concat(s.key ? [["key", s.key]] : []).concat(f.duration ? [["took", f.duration]] : []).concat(f.size ? [["outputs", f.size]] : [])));
    details.appendChild(h("h4", "Parameters"));
    var params = Object.keys(s.params);
    details.appendChild(params.length ? kv(params.map(function (k) { var from = s.paramOrigins[k]; return [k, JSON.stringify(s.params[k]) + (from && from.length ? "  (from " + from.join(", ") + ")" : "")]; })) : h("p", "none"));
    if (s.outputs.length) {
      details.appendChild(h("h4", "Outputs"));
      details.appendChild(kv(s.outputs.map(function (o) { return [o.name, o.summary]; })));
    }
    details.appendChild(h("h4", "Why: " + s.why.state));
    details.appendChild(reasons(s.why.reasons));
    if (s.provenance) {
      details.appendChild(h("h4", "Provenance"));
      var p = s.provenance;
      details.appendChild(kv([["made", p.createdAt], ["rnnp", p.rnnpVersion], ["took", f.duration || ""]].concat(p.runtime ? [["runtime", p.runtime]] : []).concat(p.tools ? [["tools", JSON.stringify(p.tools)]] : [])));
    }
    if (s.manifest) {
      details.appendChild(h("h4", "Key manifest (what the key is the hash of)"));
      details.appendChild(h("pre", JSON.stringify(s.manifest, null, 2)));
    }
    document.querySelectorAll(".dag g.node").forEach(function (n) { n.classList.toggle("selected", n.id === "stage-" + i); });
  }
  document.querySelectorAll(".dag g.node").forEach(function (n) {
    var i = Number(n.id.replace("stage-", ""));
    if (!isNaN(i) && data.stages[i]) n.addEventListener("click", function () { show(i); });
  });
})();
`;
