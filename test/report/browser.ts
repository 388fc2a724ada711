import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext } from "playwright-core";

/**
 * Opens an HTML report in a real browser, Debian's Chromium driven by playwright-core (headless, no
 * sandbox, every request that is not the file itself aborted), waits for every chart to be drawn, and
 * says what it found: each chart's marks, console errors, failed requests; then clicks a stage in
 * the DAG and reads its details panel, and saves screenshots. Used by the report's tests, and by
 * `.ci/run` on the report of the README's pipeline (`node --import tsx test/report/browser.ts FILE DIR`).
 */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * What Vega draws data as, in its SVG: lines, bars and cells, points, areas, in its data marks
 * (role-mark: not axes, legends or backgrounds; rules and texts are annotations here).
 */
const MARKS = ["line", "rect", "symbol", "area"]
  .map((m) => `svg g.mark-${m}.role-mark path`)
  .join(", ");

export interface BrowserCheck {
  /** Chart id -> marks drawn (SVG paths, rects, symbols, texts inside Vega's mark groups); -1: failed. */
  charts: Record<string, number>;
  /** The DAG's nodes: SVG id and stage name. */
  nodes: { id: string; title: string }[];
  consoleErrors: string[];
  /** Requests the page made beyond its own file (all aborted: the report must need none). */
  external: string[];
  failedRequests: string[];
  /** The details panel after clicking the stage `click` names (or the first stage). */
  details?: { stage: string | null; text: string };
  screenshots: string[];
}

/** Debian's Chromium, headless, without a sandbox (as root in CI). */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
}

/**
 * `browser`: a running Chromium to open the page in (a context of its own: nothing shared with
 * other pages), left running; otherwise one is launched for this check and closed after it.
 */
export async function checkReport(
  htmlFile: string,
  outDir: string,
  opts: { click?: string; name?: string; browser?: Browser } = {},
): Promise<BrowserCheck> {
  const browser = opts.browser ?? (await launchBrowser());
  let context: BrowserContext | undefined;
  try {
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const url = pathToFileURL(htmlFile).href;
    const out: BrowserCheck = {
      charts: {},
      nodes: [],
      consoleErrors: [],
      external: [],
      failedRequests: [],
      screenshots: [],
    };
    page.on("console", (m) => {
      if (m.type() === "error") out.consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => out.consoleErrors.push(String(e)));
    page.on("requestfailed", (r) => {
      if (r.url() !== url) return; // the aborted external ones are counted below
      out.failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`);
    });
    // The network is blocked: anything but the report itself is aborted, and recorded.
    await page.route("**/*", (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      out.external.push(u);
      return route.abort("blockedbyclient");
    });
    await page.goto(url);
    // In-page code as strings: it runs in the browser, whose DOM types this Node project leaves out.
    await page.waitForFunction(
      `[...document.querySelectorAll("[data-chart]")].every((e) => e.hasAttribute("data-rendered"))`,
      null,
      { timeout: 60_000 },
    );
    out.charts = await page.evaluate(`Object.fromEntries(
      [...document.querySelectorAll("[data-chart]")].map((e) => [
        e.getAttribute("data-chart"),
        e.getAttribute("data-rendered") === "true"
          ? e.querySelectorAll(${JSON.stringify(MARKS)}).length
          : -1,
      ]),
    )`);
    out.nodes = await page.evaluate(`[...document.querySelectorAll(".dag g.node")].map((e) => ({
      id: e.id,
      title: e.querySelector("title")?.textContent ?? "",
    }))`);
    const name = opts.name ?? "report";
    const shot = async (suffix: string, full: boolean) => {
      const path = `${outDir}/${name}-${suffix}.png`;
      await page.screenshot({ path, fullPage: full });
      out.screenshots.push(path);
    };
    await shot("full", true);
    const target = opts.click ?? out.nodes[0]?.title;
    if (target !== undefined) {
      const node = out.nodes.find((n) => n.title === target);
      if (node) {
        await page.click(`.dag g.node[id="${node.id}"]`);
        out.details = await page.evaluate(`(() => {
          const d = document.getElementById("details");
          return { stage: d.getAttribute("data-stage"), text: d.textContent };
        })()`);
        await shot("stage", false);
      }
    }
    return out;
  } finally {
    await context?.close();
    if (!opts.browser) await browser.close();
  }
}

/** CI: check a report file, save its screenshots in a folder, fail on any problem. */
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [file, dir] = process.argv.slice(2);
  if (!file || !dir) throw new Error("usage: browser.ts REPORT.html SCREENSHOT_DIR");
  const r = await checkReport(file, dir, { name: basename(file, ".html") });
  const empty = Object.entries(r.charts).filter(([, n]) => n <= 0);
  const problems = [
    ...(Object.keys(r.charts).length === 0 ? ["no charts"] : []),
    ...empty.map(([id, n]) => `chart ${id}: ${n < 0 ? "failed" : "no marks"}`),
    ...r.consoleErrors.map((e) => `console error: ${e}`),
    ...r.external.map((u) => `external request: ${u}`),
    ...r.failedRequests.map((u) => `failed request: ${u}`),
    ...(r.details?.stage ? [] : ["clicking a stage showed no details"]),
  ];
  console.log(
    `${file}: ${Object.keys(r.charts).length} charts drawn, ${r.nodes.length} stages; screenshots: ${r.screenshots.join(", ")}`,
  );
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
}
