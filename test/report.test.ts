// lem report's pure parts (dimensions, Pareto front, downsampling, CSV, Markdown, size at scale)
// and the command as a user runs it on a stored project.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sweepDimensions } from "../src/report/dimensions.js";
import { buildReportData, downsample, paretoFront } from "../src/report/report-data.js";
import { renderCsv } from "../src/report/csv.js";
import { markdownText, renderMarkdown } from "../src/report/markdown.js";
import { pageData, renderHtml } from "../src/report/html.js";
import { dimensionAxis, tableMetrics } from "../src/report/charts.js";
import { renderSummary, summarize } from "../src/views/summary.js";
import { expandLemfile } from "../src/config/expand.js";
import { buildNodes } from "../src/graph/nodes.js";
import { ResultStore } from "../src/store/store.js";
import { detectHardware, hardwareFor } from "../src/exec/hardware.js";
import { sweep } from "../src/index.js";
import { TempProject } from "./helpers/project.js";
import { tempDir } from "./helpers/temp.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { syntheticResults } from "./report-fixtures.js";

test("sweep dimensions are the config fields that vary, with their values in order", () => {
  const dims = sweepDimensions([
    config({ precision: "fp16", pytorch: { batch_size: 8 } }), config({ precision: "fp32", pytorch: { batch_size: 2 } }),
    config({ precision: "fp16", pytorch: { batch_size: 2 }, dataset_sha256: "ab".repeat(32) }),
  ]);
  assert.equal(dims.map((d) => [d.key, d.values]), [["precision", ["fp16", "fp32"]], ["pytorch.batch_size", [2, 8]]]);
  assert.equal(sweepDimensions([config(), config()]), []);
});

test("the Pareto front keeps the configs no other beats on both axes", () => {
  const points = [
    { id: "a", x: 10, y: 5 }, { id: "b", x: 20, y: 3 }, { id: "c", x: 25, y: 4 }, { id: "d", x: 30, y: 1 }, { id: "e", x: 5, y: null },
  ];
  assert.equal([...paretoFront(points)].sort(), ["a", "b", "d"]); // c is beaten by b (lower x and y)
  // throughput: higher x is better; d has the highest x and the lowest y, so it alone is on the front
  assert.equal([...paretoFront(points, true)], ["d"]);
  // throughput on y (higher is better) against latency on x (lower is better): a is fastest, b and
  // c trade latency for throughput, d has the most throughput; none beats another on both
  const tps = [{ id: "a", x: 10, y: 5 }, { id: "b", x: 20, y: 8 }, { id: "c", x: 25, y: 7 }, { id: "d", x: 30, y: 9 }];
  assert.equal([...paretoFront(tps, false, true)].sort(), ["a", "b", "d"]); // c: b has lower latency and more throughput
});

test("timelines are downsampled to bucket means in time order", () => {
  const samples = Array.from({ length: 10 }, (_, i) => [i, 100 + i, 50, 1000]);
  assert.equal(downsample(samples, 5), [[0.5, 100.5], [2.5, 102.5], [4.5, 104.5], [6.5, 106.5], [8.5, 108.5]]);
  assert.equal(downsample([[0, 1], [1, null], [2, 3]], 10), [[0, 1], [2, 3]]);
});

const twoHardware = () => [
  ...syntheticResults({ configs: 6, cycles: 3 }),
  ...syntheticResults({ configs: 2, cycles: 2, hardware: "cpu:Test CPU", unmeasured: true }),
];

test("results.csv: one row per config × hardware, units in the headers, nulls empty with their reason", () => {
  const csv = renderCsv(buildReportData(twoHardware())).trim().split("\n");
  const header = csv[0].split(",");
  assert.is(csv.length, 1 + 6 + 2);
  for (const h of ["energy_per_token_j mean [J/token]", "energy_per_token_j ci95 [J/token]", "output_tokens_per_s mean [tokens/s]", "itl_p99_ms mean [ms]", "peak_power_w mean [W]", "peak_memory_bytes mean [bytes]", "config.pytorch.batch_size", "quality_flags"]) {
    assert.ok(header.includes(h), h);
  }
  const cpu = csv.filter((l) => l.startsWith("cpu:Test CPU"));
  assert.is(cpu.length, 2);
  const row = cpu[0].split(",");
  assert.is(row[header.indexOf("energy_per_token_j mean [J/token]")], "");
  assert.is(row[header.indexOf("energy_per_token_j reason")], "RAPL not readable: /sys/class/powercap is not mounted");
  assert.is(row[header.indexOf("cycles")], "2");
});

test("summary.md labels ± and stays under the step-summary limit, saying what it left out", () => {
  const data = buildReportData(twoHardware());
  const md = renderMarkdown(data);
  assert.match(md, /± is the 95 % confidence interval of the mean \(Student t over the cycles\)/);
  assert.match(md, /### gpu:NVIDIA H100 80GB HBM3 x1/);
  const cut = renderMarkdown(data, 1200);
  assert.ok(cut.length <= 1200 + 200, String(cut.length));
  assert.match(cut, /more configs left out to fit the step summary: see results\.csv/);
});

test("per-request and per-token figures in results.csv, report.html and summary.md; CO2e only with a grid intensity, its source named", () => {
  // One config, one cycle, hand-made: 720 J for 2 requests, 40 input and 200 output tokens.
  const r = fakeResult({ hash: "aaaaaaaaaaaaaaaa", cycle: 1, config: config(), names: ["one"], hardware: "gpu:Test x1" });
  r.tokens = { input: 40, output: 200, total: 240, prompts: 2 };
  r.energy = { status: "measured", method: "nvml_total_energy", total_j: 720, adjusted_j: null, per_output_token_j: 3.6, avg_power_w: 72, peak_power_w: 80, window_s: 10, reason: null };
  const rows = (csv: string) => { const [h, ...b] = csv.trim().split("\n").map((l) => l.split(",")); return b.map((l) => Object.fromEntries(h.map((k, i) => [k, l[i]]))); };

  const plain = buildReportData([r]);
  const [row] = rows(renderCsv(plain));
  assert.is(row["energy_per_request_j mean [J/request]"], "360");
  assert.is(row["energy_per_input_token_j mean [J/token]"], "18");
  assert.is(row["energy_per_total_token_j mean [J/token]"], "3");
  assert.is(row["kwh_per_million_output_tokens mean [kWh/Mtok]"], "1"); // 3.6 J/token × 1e6 / 3.6e6
  assert.not.ok(Object.keys(row).some((k) => /co2e|grid/i.test(k)), "no CO2e column without an intensity");
  const md = renderMarkdown(plain);
  assert.match(md, /\| J\/request \| J\/input token \| J\/token \(in\+out\) \| kWh\/M output tokens \|/);
  assert.match(md, /\| 360 \| 18 \| 3 \| 1 \|/);
  assert.not.match(md, /CO2e/);
  assert.not.match(renderHtml(plain), /CO2e/);

  const grid = { gco2ePerKwh: 400, source: ".lem-config.yaml grid_intensity (Ember 2024, UK)" };
  const withGrid = buildReportData([r], { grid });
  const [g] = rows(renderCsv(withGrid));
  // 360 J = 1e-4 kWh × 400 g/kWh = 0.04 g per request; 1 kWh/Mtok × 400 = 400 g/Mtok
  assert.ok(Math.abs(Number(g["co2e_per_request_g mean [gCO2e/request]"]) - 0.04) < 1e-12, g["co2e_per_request_g mean [gCO2e/request]"]);
  assert.is(g["co2e_per_million_output_tokens_g mean [gCO2e/Mtok]"], "400");
  assert.is(g["grid_intensity [gCO2e/kWh]"], "400");
  assert.ok(renderCsv(withGrid).trim().endsWith(',400,".lem-config.yaml grid_intensity (Ember 2024, UK)"'), "the intensity and its source, quoted");
  const mdGrid = renderMarkdown(withGrid);
  assert.match(mdGrid, /CO2e at a grid intensity of 400 gCO2e\/kWh, from \.lem-config\.yaml grid\\_intensity \\\(Ember 2024, UK\\\)/);
  assert.match(mdGrid, /\| gCO2e\/request \| gCO2e\/M output tokens \|/);
  assert.match(mdGrid, /\| 0\.04 \| 400 \|/);
  const html = renderHtml(withGrid);
  assert.match(html, /grid intensity of 400 gCO2e\/kWh, from \.lem-config\.yaml grid_intensity \(Ember 2024, UK\)/);
  const [section] = pageData(withGrid).sections;
  assert.ok(section.metrics.some((m) => m.field === "co2e_per_million_output_tokens_g" && m.unit === "gCO2e/Mtok"));
});

test("with an intensity but no energy, no CO2e column or figure appears, and the reason is still said once", () => {
  const data = buildReportData(cpuOnly(), { grid: { gco2ePerKwh: 250, source: "--grid-intensity" } });
  const md = renderMarkdown(data);
  assert.not.match(md.split("### ")[1], /gCO2e|J\/request/);
  assert.is(occurrences(md, markdownText(REASON)), 1);
  const [s] = pageData(data).sections;
  assert.not.ok(s.metrics.some((m) => /co2e|request/i.test(m.field)), s.metrics.map((m) => m.field).join(", "));
  const csv = renderCsv(data).trim().split("\n");
  const header = csv[0].split(",");
  assert.is(csv[1].split(",")[header.indexOf("co2e_per_request_g mean [gCO2e/request]")], "");
  assert.is(csv[1].split(",")[header.indexOf("co2e_per_request_g reason")], REASON);
});

const REASON = "RAPL not readable: /sys/class/powercap is not mounted";
const cpuOnly = (o: { noise?: number; windowS?: number } = {}) =>
  syntheticResults({ configs: 6, cycles: 3, hardware: "cpu:Test CPU", unmeasured: true, ...o });
const occurrences = (text: string, what: string) => text.split(what).length - 1;

test("without energy, report.html charts throughput against TTFT and ITL with Pareto fronts, and no energy chart", () => {
  const [s] = pageData(buildReportData(cpuOnly())).sections;
  assert.equal(s.scatters.map((c) => c.id), ["tps-ttft", "tps-itl"]);
  assert.equal(s.figures.map((f) => f.field), ["output_tokens_per_s", "ttft_p50_ms", "itl_p50_ms", "peak_memory_gib"]);
  assert.not.ok(s.metrics.some((m) => /energy|power/.test(m.label)), s.metrics.map((m) => m.label).join(", "));
  const rows = s.rows.map((r) => Object.fromEntries(s.columns.map((c, i) => [c, r[i]])));
  for (const r of rows) for (const k of ["output_tokens_per_s", "ttft_p50_ms", "itl_p50_ms"]) assert.type(r[k], "number", k);
  // the fronts are computed: batch size 1 has the lowest latency, 32 the most throughput; both are on them
  for (const front of ["front_tps_ttft", "front_tps_itl"]) {
    const on = rows.filter((r) => r[front] === true).map((r) => r.name as string);
    assert.ok(on.some((n) => n.startsWith("sweep-1-")) && on.some((n) => n.startsWith("sweep-32-")), `${front}: ${on.join(" ")}`);
  }
  assert.is(s.dimensionCharts.length, 1);
  assert.equal(Object.keys(s.dimensionCharts[0].specs), s.figures.map((f) => f.field));
  // with energy, the energy charts come first and the dimension charts start with energy per token
  const [gpu] = pageData(buildReportData(syntheticResults({ configs: 6, cycles: 2 }))).sections;
  assert.equal(gpu.scatters.map((c) => c.id), ["energy-itl", "energy-tps", "tps-ttft", "tps-itl"]);
  assert.is(gpu.figures[0].field, "energy_per_token_j");
});

test("why energy is missing is said once in report.html, summary.md and the build summary", () => {
  const data = buildReportData(twoHardware());
  const html = renderHtml(data);
  assert.is(occurrences(html, REASON), 1);
  assert.match(html, /<p class="note energy-missing">Energy not measured on cpu:Test CPU \(2 of 2 configs\): RAPL not readable/);
  const md = renderMarkdown(data);
  assert.is(occurrences(md, markdownText(REASON)), 1);
  assert.match(md, /- Energy not measured on cpu:Test CPU \\\(2 of 2 configs\\\): RAPL/);
  // the CPU's table has no energy columns (n/a on every row); the GPU's keeps them
  const tableHead = (hw: string) => md.split(`### ${hw}`)[1].split("\n")[2];
  assert.not.match(tableHead("cpu:Test CPU"), /J\/token|avg W/);
  assert.match(tableHead("gpu:NVIDIA H100 80GB HBM3 x1"), /\| J\/token \|.*\| avg W \|/);

  const cpu = cpuOnly();
  const rows = [1, 2].map((k) => cpu.filter((r) => r.hash === cpu[k * 3].hash)).map((rs) => summarize(rs[0].names![0], rs[0].hash, rs));
  const table = renderSummary(rows);
  assert.is(occurrences(table, REASON), 1);
  assert.match(table, /^energy not measured: RAPL/m);
  assert.not.match(table, /J\/token/);
});

test("charts: batch size on a log axis ticked at its values, few values and precision categorical, memory in GiB or MiB", () => {
  const dim = (key: string, values: (string | number)[]) => ({ key, values, field: `dim_${key}` });
  assert.equal(dimensionAxis(dim("pytorch.batch_size", [1, 2, 4, 8, 16, 32])), {
    field: "dim_pytorch.batch_size", type: "quantitative", title: "pytorch.batch_size", scale: { type: "log" }, axis: { values: [1, 2, 4, 8, 16, 32], format: "~g" },
  });
  assert.is(dimensionAxis(dim("pytorch.batch_size", [1, 2])).type, "ordinal"); // no tick at 1.2
  assert.is(dimensionAxis(dim("pytorch.batch_size", [4, 6, 8])).type, "ordinal");
  assert.equal(dimensionAxis(dim("precision", ["fp32", "fp16", "bf16"])), { field: "dim_precision", type: "ordinal", title: "precision", sort: ["fp32", "fp16", "bf16"] });

  // the fixtures peak at 1–9 GiB: GiB; 300 MiB: MiB. Never bytes.
  const big = buildReportData(syntheticResults({ configs: 3, cycles: 2 })).sections[0];
  const mem = tableMetrics(big).find((m) => m.key === "peak_memory_bytes")!;
  assert.equal([mem.field, mem.unit], ["peak_memory_gib", "GiB"]);
  const first = pageData(buildReportData(syntheticResults({ configs: 3, cycles: 2 }))).sections[0];
  const col = first.columns.indexOf("peak_memory_gib");
  assert.ok(Math.abs((first.rows[0][col] as number) - (1 + 1 / 64)) < 1e-3, String(first.rows[0][col])); // batch 1: 1 + 1/64 GiB
  assert.not.ok(first.columns.includes("peak_memory_bytes"));
  const small = syntheticResults({ configs: 3, cycles: 2 });
  for (const r of small) r.memory.peak_bytes = 300 * 2 ** 20;
  const smallMem = tableMetrics(buildReportData(small).sections[0]).find((m) => m.key === "peak_memory_bytes")!;
  assert.equal([smallMem.field, smallMem.unit], ["peak_memory_mib", "MiB"]);
  assert.is(pageData(buildReportData(small)).sections[0].rows[0][pageData(buildReportData(small)).sections[0].columns.indexOf("peak_memory_mib")], 300);
});

test("the CI95 bars of every chart stop at 0, so no axis runs below zero", () => {
  const [s] = pageData(buildReportData(cpuOnly({ noise: 1.8 }))).sections;
  const specs = [...s.scatters.map((c) => c.spec), ...s.dimensionCharts.flatMap((c) => Object.values(c.specs))];
  for (const spec of specs) {
    const lo = (spec.transform as { calculate?: string; as?: string }[]).find((t) => t.as === "lo");
    assert.match(lo?.calculate ?? "", /^max\(0, /);
  }
});

test("a 41 ms window and a high throughput CV are flagged in report.html, summary.md and results.csv, energy or not", () => {
  const data = buildReportData(cpuOnly({ windowS: 0.041, noise: 1.2 }));
  const html = renderHtml(data);
  assert.match(html, /6 of 6 configs have a measurement window under 10 s/);
  assert.match(html, /configs vary by more than 10 % \(CV\) from cycle to cycle/);
  const flags = pageData(data).sections[0].rows.map((r) => r[pageData(data).sections[0].columns.indexOf("flags")] as string);
  for (const f of flags) assert.match(f, /^short window: 41 ms < 10 s \(3 of 3 cycles\)/);
  assert.ok(flags.some((f) => /high CV: output throughput \d+ % > 10 %/.test(f)), flags.join(" / "));
  assert.ok(renderMarkdown(data).includes(markdownText("short window: 41 ms < 10 s (3 of 3 cycles)")));
  assert.match(renderCsv(data), /short window: 41 ms < 10 s \(3 of 3 cycles\)/);
  // a calm, long-enough sweep is not flagged
  const calm = buildReportData(cpuOnly({ windowS: 30, noise: 0.02 }));
  assert.not.match(renderHtml(calm), /measurement window under|more than 10 % \(CV\)/);
});

test("cycles of one config run on different torch versions are flagged in report.html and summary.md, not averaged silently", () => {
  const mixed = buildReportData(syntheticResults({ configs: 3, cycles: 3, noise: 0.02, torch: (cycle) => (cycle === 3 ? "2.6.0" : "2.5.1") }));
  assert.match(renderHtml(mixed), /3 of 3 configs average cycles run on different software/);
  const [s] = pageData(mixed).sections;
  const flags = s.rows.map((r) => r[s.columns.indexOf("flags")] as string);
  for (const f of flags) assert.ok(f.includes("mixed software stacks: torch 2.5.1 (cycles 1, 2) vs 2.6.0 (cycle 3)"), f);
  assert.ok(renderMarkdown(mixed).includes(markdownText("mixed software stacks: torch 2.5.1 (cycles 1, 2) vs 2.6.0 (cycle 3)")));
  // one stack throughout: no flag
  const same = buildReportData(syntheticResults({ configs: 3, cycles: 3, noise: 0.02 }));
  assert.not.match(renderHtml(same) + renderMarkdown(same), /mixed software stacks|different software/);
});

test("1,000 configs × 3 cycles with 10 Hz timelines make a report.html under 5 MB that says it downsampled", () => {
  const html = renderHtml(buildReportData(syntheticResults({ configs: 1000, cycles: 3, timelineSamples: 600 })));
  const bytes = Buffer.byteLength(html);
  assert.ok(bytes <= 5 * 1024 * 1024, `${bytes} bytes`);
  assert.match(html, /Power timelines are downsampled to at most \d+ points per cycle/);
  assert.not.match(html, /<script[^>]+src=|<link[^>]+href=/); // nothing fetched
});

test("lem report writes report.html, results.csv, cycles.csv, cycles.parquet and summary.md for the selected experiments", async () => {
  const spec = { defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": [1, 2, 4] }), execution: { cycles: 2 } };
  const project = new TempProject(`{ defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": [1, 2, 4] }), execution: { cycles: 2 } }`, { LEM_RUNNER_PYTORCH: "local" });
  const { experiments, execution } = expandLemfile(spec, "l");
  const store = new ResultStore(join(project.dir, "results"));
  const hw = hardwareFor(detectHardware());
  for (const n of buildNodes(experiments, execution)) {
    store.saveConfig(n.hash, n.names, n.groups, n.config, 1);
    store.saveResult(fakeResult({ ...n, hardware: hw(n.config) }));
  }
  const outDir = tempDir("lem-report-");
  const r = await project.json<{ html: string; csv: string; cycles_csv: string; cycles_parquet: string; markdown: string; configs: number; hardware: string[] }>("report", "bs-1", "bs-2", "--out", outDir);
  assert.is(r.configs, 2);
  assert.is(r.html, join(outDir, "report.html"));
  assert.is(r.cycles_parquet, join(outDir, "cycles.parquet"));
  for (const file of [r.html, r.csv, r.cycles_csv, r.cycles_parquet, r.markdown]) assert.ok(existsSync(file), file);
  const csv = readFileSync(r.csv, "utf8").trim().split("\n");
  assert.is(csv.length, 3);
  assert.is(readFileSync(r.cycles_csv, "utf8").trim().split("\n").length, 1 + 2 * 2, "2 configs × 2 cycles");
  assert.match(readFileSync(r.markdown, "utf8"), /\| bs-1 \|/);
  assert.match(readFileSync(r.html, "utf8"), /"hardware":/);

  const none = await project.run("report", "nothing-*", "--out", outDir);
  assert.is(none.code, 2);
  assert.match(none.stderr, /no experiment matches "nothing-\*"/);
});

test("lem report: --grid-intensity wins over grid_intensity in .lem-config.yaml; the report names which it used", async () => {
  const project = new TempProject(`{ defaults: { model: "synthetic:tiny" }, experiments: [{ name: "one" }], execution: { cycles: 1 } }`, { LEM_RUNNER_PYTORCH: "local" });
  const { experiments, execution } = expandLemfile({ defaults: { model: "synthetic:tiny" }, experiments: [{ name: "one" }], execution: { cycles: 1 } }, "l");
  const store = new ResultStore(join(project.dir, "results"));
  const hw = hardwareFor(detectHardware());
  for (const n of buildNodes(experiments, execution)) {
    store.saveConfig(n.hash, n.names, n.groups, n.config, 1);
    const r = fakeResult({ ...n, hardware: hw(n.config) });
    r.tokens = { input: 40, output: 200, total: 240, prompts: 2 };
    r.energy = { status: "measured", method: "rapl", total_j: 720, adjusted_j: null, per_output_token_j: 3.6, avg_power_w: 72, peak_power_w: 80, window_s: 10, reason: null };
    store.saveResult(r);
  }
  writeFileSync(join(project.dir, ".lem-config.yaml"), "grid_intensity: 100\ngrid_intensity_source: my utility's 2024 mix\n");
  const outDir = tempDir("lem-report-grid-");
  type Out = { csv: string; markdown: string; grid_intensity: { gco2e_per_kwh: number; source: string } | null };
  const fromFile = await project.json<Out>("report", "--out", outDir);
  assert.equal(fromFile.grid_intensity, { gco2e_per_kwh: 100, source: ".lem-config.yaml grid_intensity (my utility's 2024 mix)" });
  assert.match(readFileSync(fromFile.markdown, "utf8"), /\| 100 \|/); // 1 kWh/Mtok × 100 g/kWh
  const fromFlag = await project.json<Out>("report", "--out", outDir, "--grid-intensity", "300");
  assert.equal(fromFlag.grid_intensity, { gco2e_per_kwh: 300, source: "--grid-intensity" });
  assert.match(readFileSync(fromFlag.csv, "utf8"), /,300,--grid-intensity\n$/);
  assert.match(readFileSync(fromFlag.markdown, "utf8"), /from --grid-intensity\./);
  writeFileSync(join(project.dir, ".lem-config.yaml"), "jobs: 1\n");
  const none = await project.json<Out>("report", "--out", outDir);
  assert.is(none.grid_intensity, null);
  assert.not.match(readFileSync(none.csv, "utf8"), /co2e|grid_intensity/i);
});

test("the report says what energy counts (scope, and every source read) and shows prefill and decode where split", () => {
  const gpu = syntheticResults({ configs: 2, cycles: 2, hardware: "gpu:NVIDIA H100 x1" });
  for (const r of gpu) {
    const j = r.energy.total_j!;
    r.energy.scope = "gpu";
    r.energy.combined_scope = "gpu+cpu+dram";
    r.energy.combined_j = j * 1.5;
    if (r.hash === gpu[0].hash) {
      r.energy.phases = {
        method: "prefill pass", scope: "gpu", reason: null,
        prefill: { total_j: j / 10, window_s: 1, input_tokens: r.tokens.input, prompts: r.tokens.prompts, per_input_token_j: j / 10 / r.tokens.input, per_request_j: j / 10 / r.tokens.prompts, flags: [] },
        decode: { total_j: j * 0.9, window_s: 9, output_tokens: r.tokens.output - r.tokens.prompts, per_output_token_j: (j * 0.9) / (r.tokens.output - r.tokens.prompts) },
      };
    }
  }
  const data = buildReportData(gpu);
  const md = renderMarkdown(data);
  const header = md.split("\n").find((l) => l.startsWith("| experiment"))!;
  assert.match(header, /energy scope/);
  assert.match(header, /prefill J\/input token/);
  assert.match(header, /decode J\/output token/);
  assert.match(md, /\| gpu; all read: gpu\+cpu\+dram \|/);
  const csv = renderCsv(data).split("\n");
  const cols = csv[0].split(",");
  const row = csv[1].split(",");
  assert.is(row[cols.indexOf("energy_scope")], "gpu");
  assert.is(row[cols.indexOf("energy_combined_scope")], "gpu+cpu+dram");
  assert.ok(Number(row[cols.indexOf("energy_combined_j mean [J]")]) > Number(row[cols.indexOf("energy_total_j mean [J]")]));
  assert.ok(cols.includes("prefill_energy_per_input_token_j mean [J/token]"), "phase figures are CSV columns");

  // No split anywhere: no phase columns; no energy: no scope column either.
  const plain = renderMarkdown(buildReportData(syntheticResults({ configs: 1, cycles: 2, hardware: "gpu:NVIDIA H100 x1" })));
  assert.not.match(plain, /prefill J/);
  assert.match(plain, /\| gpu \|/, "an old result without energy.scope counted the GPU it ran on");
  const none = renderMarkdown(buildReportData(syntheticResults({ configs: 1, cycles: 2, hardware: "cpu:Test CPU", unmeasured: true })));
  assert.not.match(none, /energy scope/);
});

test.run();
