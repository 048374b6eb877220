// lem report's pure parts (dimensions, Pareto front, downsampling, CSV, Markdown, size at scale)
// and the command as a user runs it on a stored project.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { sweepDimensions } from "../src/report/dimensions.js";
import { buildReportData, downsample, paretoFront } from "../src/report/report-data.js";
import { renderCsv } from "../src/report/csv.js";
import { renderMarkdown } from "../src/report/markdown.js";
import { renderHtml } from "../src/report/html.js";
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
  assert.match(md, /- n\/a: RAPL not readable/);
  const cut = renderMarkdown(data, 1200);
  assert.ok(cut.length <= 1200 + 200, String(cut.length));
  assert.match(cut, /more configs left out to fit the step summary: see results\.csv/);
});

test("1,000 configs × 3 cycles with 10 Hz timelines make a report.html under 5 MB that says it downsampled", () => {
  const html = renderHtml(buildReportData(syntheticResults({ configs: 1000, cycles: 3, timelineSamples: 600 })));
  const bytes = Buffer.byteLength(html);
  assert.ok(bytes <= 5 * 1024 * 1024, `${bytes} bytes`);
  assert.match(html, /Power timelines are downsampled to at most \d+ points per cycle/);
  assert.not.match(html, /<script[^>]+src=|<link[^>]+href=/); // nothing fetched
});

test("lem report writes report.html, results.csv and summary.md for the selected experiments", async () => {
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
  const r = await project.json<{ html: string; csv: string; markdown: string; configs: number; hardware: string[] }>("report", "bs-1", "bs-2", "--out", outDir);
  assert.is(r.configs, 2);
  assert.is(r.html, join(outDir, "report.html"));
  for (const file of [r.html, r.csv, r.markdown]) assert.ok(existsSync(file), file);
  const csv = readFileSync(r.csv, "utf8").trim().split("\n");
  assert.is(csv.length, 3);
  assert.match(readFileSync(r.markdown, "utf8"), /\| bs-1 \|/);
  assert.match(readFileSync(r.html, "utf8"), /"hardware":/);

  const none = await project.run("report", "nothing-*", "--out", outDir);
  assert.is(none.code, 2);
  assert.match(none.stderr, /no experiment matches "nothing-\*"/);
});

test.run();
