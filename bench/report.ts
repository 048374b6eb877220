// Size of report.html and time to build it (aggregate, render HTML/CSV/Markdown, write) from
// synthetic results held in memory: N configs × 3 cycles, power sampled at 10 Hz over the window.
// Usage: bench/report [configs...] (default 100 1000)
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { buildReportData } from "../src/report/report-data.js";
import { writeReport } from "../src/report/write-report.js";
import { chromium } from "playwright-core";
import { syntheticResults } from "../test/report-fixtures.js";

const CHROMIUM = process.env.LEM_CHROMIUM ?? "/usr/bin/chromium";

/** Seconds from navigation until every chart of the page has drawn (SVG), in headless chromium, offline. */
async function pageReadySeconds(html: string): Promise<number> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.route("**/*", (route) => (route.request().url() === "http://bench.invalid/" ? route.fulfill({ contentType: "text/html", body: html }) : route.abort()));
    const t0 = performance.now();
    await page.goto("http://bench.invalid/");
    await page.waitForSelector('body[data-ready="true"]', { state: "attached", timeout: 120_000 });
    return (performance.now() - t0) / 1000;
  } finally {
    await browser.close();
  }
}

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const SAMPLES = 600; // 60 s at 10 Hz per cycle

console.log("configs × cycles   power samples   report.html   results.csv   summary.md   build (median of 3)   points/timeline   page ready (chromium)");
for (const configs of sizes.length ? sizes : [100, 1000]) {
  const results = syntheticResults({ configs, cycles: 3, timelineSamples: SAMPLES });
  const times: number[] = [];
  let line = "";
  let html = "";
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), "lem-report-bench-"));
    const t0 = performance.now();
    const data = buildReportData(results);
    const written = writeReport(dir, data);
    times.push(performance.now() - t0);
    const mb = (path: string) => `${(statSync(path).size / 1e6).toFixed(2)} MB`;
    line = `${`${configs} × 3`.padEnd(18)} ${String(configs * 3 * SAMPLES).padEnd(15)} ${mb(written.html).padEnd(13)} ${mb(written.csv).padEnd(13)} ${mb(written.markdown).padEnd(12)} `;
    line += `%TIME%   ${String(data.timelinePointsMax).padEnd(15)}`;
    html = readFileSync(written.html, "utf8");
    rmSync(dir, { recursive: true, force: true });
  }
  const median = times.sort((a, b) => a - b)[1];
  const ready = existsSync(CHROMIUM) ? `${(await pageReadySeconds(html)).toFixed(1)} s` : "n/a (no chromium)";
  console.log(`${line.replace("%TIME%", `${(median / 1000).toFixed(2)} s`.padEnd(19))}   ${ready}`);
}
