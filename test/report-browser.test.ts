import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { buildReportData } from "../src/report/report-data.js";
import { renderHtml } from "../src/report/html.js";
import { servingSweep, syntheticResults } from "./report-fixtures.js";

// report.html in a real headless browser with the network cut off: it must draw from what it carries.

const CHROMIUM = process.env.LEM_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const PAGE_URL = "http://report.lem.invalid/report.html";

function haveChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === "true") throw new Error(`test/report-browser.test.ts: no chromium at ${CHROMIUM}, and CI=true (.ci/run installs Debian's chromium)`);
  console.warn(`\n!! SKIPPING test/report-browser.test.ts: no chromium at ${CHROMIUM} (apt-get install chromium, or set LEM_CHROMIUM)\n`);
  return false;
}

// Sections are sorted by hardware: #hw0 is the CPU, #hw1 the GPU.
// 60 configs (batch size × precision × 2 max-output-token values) × 3 cycles on a GPU, and 4 on a
// CPU without energy counters whose 41 ms windows vary a lot from cycle to cycle.
const CONFIGS = 60;
const REASON = "RAPL not readable: /sys/class/powercap is not mounted";
const results = [
  ...syntheticResults({ configs: CONFIGS, cycles: 3, timelineSamples: 1200 }),
  ...syntheticResults({ configs: 4, cycles: 3, hardware: "cpu:AMD EPYC 7B13", unmeasured: true, seed: 3, noise: 1.8, windowS: 0.041 }),
];
const html = renderHtml(buildReportData(results, { now: new Date("2026-01-01T00:00:00Z") }));

// A serving rate sweep on its own page: two engine configs (one with a hostile model name) × rates
// 16, inf, 2 × two cycles.
const HOSTILE = "<script>window.lemPwned = 1</script>";
const servingHtml = renderHtml(buildReportData(servingSweep({
  engines: [{ serving: { engine: { num_blocks: 64 } } }, { model: HOSTILE }], rates: [16, "inf", 2], cycles: 2,
}), { now: new Date("2026-01-01T00:00:00Z") }));

interface Loaded { page: Page; errors: string[]; requests: string[] }
let browser: Browser | undefined;

async function open(body = html): Promise<Loaded> {
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  // Every request but the page itself is aborted and recorded: the report must need none.
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url === PAGE_URL) return route.fulfill({ status: 200, contentType: "text/html", body });
    requests.push(url);
    return route.abort();
  });
  await page.goto(PAGE_URL);
  await page.waitForSelector('body[data-ready="true"]', { state: "attached", timeout: 30_000 });
  return { page, errors, requests };
}

const count = (page: Page, selector: string) => page.locator(selector).count();

if (haveChromium()) {
  test("the page loads offline with no console error and no request", async () => {
    const { page, errors, requests } = await open();
    assert.equal(errors, []);
    assert.equal(requests, []);
    assert.is(await count(page, "section h2"), 2);
    assert.match(await page.locator("body").innerText(), /downsampled to at most \d+ points/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator("#hw1").screenshot({ path: join(ARTIFACTS, "report.png") }); // the GPU section: charts, timeline, table
    // LEM_UPDATE_DOCS=1 refreshes the README's screenshot from this run.
    if (process.env.LEM_UPDATE_DOCS === "1") copyFileSync(join(ARTIFACTS, "report.png"), fileURLToPath(new URL("../docs/report.png", import.meta.url)));
    await page.close();
  });

  test("each chart draws a mark per config, CI95 bars, the Pareto front and the timeline's cycles", async () => {
    const { page } = await open();
    for (const chart of ["energy-itl", "energy-tps"]) {
      assert.is(await count(page, `#hw1-${chart} g.points_marks > path`), CONFIGS, `${chart} points`);
      assert.is(await count(page, `#hw1-${chart} g.errorbars_marks > line`), CONFIGS, `${chart} CI95 bars`);
      assert.is(await count(page, `#hw1-${chart} g.front_marks > path`), 1, `${chart} Pareto front`);
    }
    // one chart per sweep dimension: precision, max_output_tokens, pytorch.batch_size
    const dims = await page.locator("#hw1 figcaption").allInnerTexts();
    assert.equal(dims.filter((t) => t.startsWith("energy per output token by")), [
      "energy per output token by precision", "energy per output token by max_output_tokens", "energy per output token by pytorch.batch_size"]);
    for (const j of [0, 1, 2]) assert.is(await count(page, `#hw1-dim${j} g.points_marks > path`), CONFIGS, `dim${j} points`);
    // lines for the other dimensions: precision has 10 × 2 combinations of the others
    assert.is(await count(page, "#hw1-dim0 g.lines_marks > path"), 20);
    // the timeline: one line per cycle, the baseline drawn, a new experiment when another is picked
    assert.is(await count(page, "#hw1 div.timeline g.power_marks > path"), 3);
    assert.is(await count(page, "#hw1 div.timeline g.baseline_marks > line"), 1);
    const before = await page.locator("#hw1 .timeline-note").innerText();
    assert.match(before, /3600 samples stored, drawn as \d+ bucket means; baseline 60 W/);
    // the page keeps its Vega views in window.lemViews (strings: this file is not compiled for the DOM)
    const firstWatts = () => page.evaluate('window.lemViews["hw1-timeline"].data("timeline")[0].w') as Promise<number>;
    const shown = await firstWatts();
    const last = String((await count(page, "#hw1 select.timeline option")) - 1);
    const picked = await page.locator("#hw1 select.timeline option").nth(Number(last)).innerText();
    await page.selectOption("#hw1 select.timeline", last);
    await page.waitForFunction(`window.lemViews["hw1-timeline"].data("timeline")[0].w !== ${shown}`);
    assert.match(picked, /^sweep-8-/); // names sort as text
    assert.is(await count(page, "#hw1 div.timeline g.power_marks > path"), 3);
    await page.close();
  });

  test("the scatter charts can be coloured by any sweep dimension, and a point's tooltip names it", async () => {
    const { page, errors } = await open();
    const legend = () => page.locator("#hw1-energy-itl .role-legend-title text").allTextContents();
    assert.equal(await legend(), ["precision"]);
    await page.selectOption("#hw1 select.colour", { label: "pytorch.batch_size" });
    await page.waitForFunction("window.lemRedraw !== undefined");
    await page.evaluate("window.lemRedraw.then(() => true)");
    assert.equal(await legend(), ["pytorch.batch_size"]);
    // hovering a point shows its name and hash
    await page.locator("#hw1-energy-itl g.points_marks > path").first().hover({ force: true });
    const tip = page.locator("#vg-tooltip-element");
    await tip.waitFor({ state: "visible" });
    assert.match(await tip.innerText(), /name\s+sweep-\S+[\s\S]*hash\s+[0-9a-f]{16}/);
    assert.is(await count(page, "#hw1-energy-itl g.points_marks > path"), CONFIGS);
    assert.equal(errors, []);
    await page.close();
  });

  test("the table lists every config with its figures and sorts by any column", async () => {
    const { page } = await open();
    assert.is(await count(page, "#hw1 tbody tr"), CONFIGS);
    const header = await page.locator("#hw1 thead th").allInnerTexts();
    assert.ok(header.includes("energy per output token [J/token]") && header.includes("flags"), header.join(" | "));
    const firstName = () => page.locator("#hw1 tbody tr:first-child td:first-child").innerText();
    assert.match(await firstName(), /^sweep-512-/); // least J/token first by default
    await page.locator("#hw1 thead th", { hasText: "energy per output token [J/token]" }).first().click();
    assert.match(await firstName(), /^sweep-1-fp32-/); // descending: the costliest
    await page.locator("#hw1 thead th", { hasText: /^name$/ }).click();
    assert.is(await firstName(), "sweep-1-bf16-32");
    await page.close();
  });

  test("a hardware section without energy counters says why once and charts throughput against TTFT and ITL", async () => {
    const { page, errors } = await open();
    assert.equal(errors, []);
    // the reason, once on the whole page: not in the section, the table or a tooltip
    const body = await page.locator("body").innerText();
    assert.is(body.split(REASON).length - 1, 1, "reason shown once");
    assert.is(await page.locator(`[title*="${REASON}"]`).count(), 0);
    assert.match(await page.locator("p.energy-missing").innerText(), /^Energy not measured on cpu:AMD EPYC 7B13 \(4 of 4 configs\): RAPL not readable/);
    // no energy chart or column; throughput against TTFT and ITL with their points and Pareto fronts
    assert.is(await count(page, "#hw0-energy-itl, #hw0-energy-tps"), 0);
    for (const chart of ["tps-ttft", "tps-itl"]) {
      assert.is(await count(page, `#hw0-${chart} g.points_marks > path`), 4, `${chart} points`);
      assert.is(await count(page, `#hw0-${chart} g.front_marks > path`), 1, `${chart} Pareto front`);
    }
    assert.equal(await page.locator("#hw0 figcaption").allInnerTexts(), [
      "output throughput against TTFT p50", "output throughput against ITL p50", "output throughput by pytorch.batch_size"]);
    assert.is(await count(page, "#hw0-dim0 g.points_marks > path"), 4);
    const header = await page.locator("#hw0 thead th").allInnerTexts();
    assert.not.ok(header.some((h) => /energy|power/.test(h)), header.join(" | "));
    assert.is(await count(page, "#hw0 tbody tr"), 4);
    await page.close();
  });

  test("a 41 ms window and a high CV are flagged in the section and in each config's row", async () => {
    const { page } = await open();
    const notes = await page.locator("#hw0 p.note").allInnerTexts();
    assert.ok(notes.some((n) => /4 of 4 configs have a measurement window under 10 s/.test(n)), notes.join(" / "));
    assert.ok(notes.some((n) => /configs vary by more than 10 % \(CV\)/.test(n)), notes.join(" / "));
    const flags = await page.locator("#hw0 tbody tr td:last-child").allInnerTexts();
    for (const f of flags) assert.match(f, /short window: 41 ms < 10 s \(3 of 3 cycles\)/);
    assert.ok(flags.some((f) => /high CV: output throughput \d+ % > 10 %/.test(f)), flags.join(" / "));
    await page.close();
  });

  test("no axis runs below zero, even where a CI95 is wider than its mean", async () => {
    const { page } = await open();
    // every axis label of every chart, on the noisy CPU section and the GPU one, for every figure
    const labels = async () => page.locator(".chart .role-axis-label text").allTextContents();
    const all = [...await labels()];
    for (const figure of ["output throughput", "TTFT p50", "ITL p50", "peak memory"]) {
      await page.selectOption("#hw0 select.figure", { label: figure });
      await page.evaluate("window.lemRedraw.then(() => true)");
      all.push(...await labels());
    }
    assert.ok(all.length > 100, String(all.length));
    assert.equal(all.filter((t) => /^[-−]/.test(t)), []);
    await page.close();
  });

  test("batch size is on a log axis ticked only at swept values, precision categorical, memory in GiB", async () => {
    const { page } = await open();
    const xLabels = (id: string) => page.locator(`#${id} .role-axis[aria-label^="X-axis"] .role-axis-label text`).allTextContents();
    const swept = ["1", "2", "4", "8", "16", "32", "64", "128", "256", "512"];
    const batch = await xLabels("hw1-dim2");
    assert.ok(batch.length >= 2 && batch.every((t) => swept.includes(t)), batch.join(" "));
    assert.match(await page.locator("#hw1-dim2 .role-axis[aria-label^=\"X-axis\"]").getAttribute("aria-label") ?? "", /for a log scale/);
    const cpuBatch = await xLabels("hw0-dim0");
    assert.ok(cpuBatch.length >= 2 && cpuBatch.every((t) => ["1", "2", "4", "8"].includes(t)), cpuBatch.join(" "));
    assert.equal((await xLabels("hw1-dim0")).sort(), ["bf16", "fp16", "fp32"]); // one tick per precision
    await page.selectOption("#hw1 select.figure", { label: "peak memory" });
    await page.evaluate("window.lemRedraw.then(() => true)");
    assert.is(await page.locator("#hw1-dim0-caption").innerText(), "peak memory by precision");
    assert.equal(await page.locator("#hw1-dim0 .role-axis[aria-label^=\"Y-axis\"] .role-axis-title text").allTextContents(), ["peak memory (GiB)"]);
    const gib = await page.evaluate('window.lemViews["hw1-dim0"].data("configs").map((r) => r.peak_memory_gib)') as number[];
    assert.ok(gib.length === CONFIGS && gib.every((g) => g >= 1 && g < 10), gib.join(" "));
    await page.close();
  });

  test("serving: J/token, J/request, TTFT and TPOT against request rate, a line per engine config, inf last, labels drawn as text", async () => {
    const { page, errors, requests } = await open(servingHtml);
    assert.equal(errors, []);
    assert.equal(requests, []);
    // 2 engine configs × 3 rates; TTFT and TPOT draw two percentiles each (p50 solid, the tail dashed)
    for (const [chart, lines] of [["rate-energy-token", 2], ["rate-energy-request", 2], ["rate-ttft", 4], ["rate-tpot", 4]] as const) {
      assert.is(await count(page, `#hw0-${chart} g.lines_marks > path`), lines, `${chart} lines`);
      assert.is(await count(page, `#hw0-${chart} g.points_marks > path`), 3 * lines, `${chart} points`);
      assert.equal(await page.locator(`#hw0-${chart} .role-axis[aria-label^="X-axis"] .role-axis-label text`).allTextContents(), ["2", "16", "inf"]);
    }
    const legend = () => page.locator("#hw0-rate-energy-token .role-legend-label text").allTextContents();
    assert.equal((await legend()).sort(), [`model=${HOSTILE}, serving.engine.num_blocks=256`, "model=synthetic:tiny, serving.engine.num_blocks=64"]);
    assert.is(await page.evaluate("window.lemPwned"), undefined);
    // colouring the scatter charts by a sweep dimension leaves a line per engine config
    await page.selectOption("#hw0 select.colour", { label: "serving.request_rate" });
    await page.evaluate("window.lemRedraw.then(() => true)");
    assert.equal(await page.locator("#hw0-energy-tpot .role-legend-title text").allTextContents(), ["serving.request_rate"]);
    assert.equal(await page.locator("#hw0-rate-energy-token .role-legend-title text").allTextContents(), ["engine config"]);
    assert.is(await count(page, "#hw0-rate-energy-token g.lines_marks > path"), 2);
    assert.equal(errors, []);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "serving-report.png"), fullPage: true });
    await page.close();
  });

  test.after(async () => { await browser?.close(); });
}

test.run();
