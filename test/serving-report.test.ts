// Serving results in lem report and lem compare: steady-state J/token, J/request, TPOT, request
// throughput; goodput only under SLOs given at report/compare time (never stored, never hashed);
// report.html's figures against the request rate, a line per engine config.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { aggregateResults, groupResults, type MetricKey } from "../src/report/aggregate.js";
import { buildReportData } from "../src/report/report-data.js";
import { pageData, renderHtml } from "../src/report/html.js";
import { servingLines } from "../src/report/serving-lines.js";
import { renderMarkdown } from "../src/report/markdown.js";
import { goodputOf, parseSlo, sloAttainment } from "../src/report/slo.js";
import { compareGroups, DEFAULT_OPTIONS } from "../src/compare/compare.js";
import { LemError } from "../src/errors.js";
import type { RequestRow } from "../src/store/result.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { served, servingSweep, syntheticResults } from "./report-fixtures.js";

/** Ten rows: `fast` of them meet TTFT ≤ 50 ms and TPOT ≤ 12 ms, the rest miss TTFT; one failed row when `failed`. */
const rows = (fast: number, failed = false): RequestRow[] => Array.from({ length: 10 }, (_, i): RequestRow =>
  failed && i === 9 ? [null, null, null, null, false] : i < fast ? [30, 10, 100, 8, true] : [80, 10, 150, 8, true]);

test("a serving config's figures: steady-state J/token and J/request, TPOT, request throughput; goodput needs SLOs", () => {
  const [agg] = aggregateResults([served("aaaaaaaaaaaaaaaa", 1, 0.5, rows(10)), served("aaaaaaaaaaaaaaaa", 2, 0.7, rows(10))]);
  const f = agg.figures;
  assert.is(f.energy_per_token_j.stats?.mean, 0.6, "the steady-state window's J/token, not the whole load's 1.25");
  assert.is(f.energy_per_request_j.stats?.mean, 4.8);
  assert.is(f.energy_per_request_p90_j.stats?.mean, 4.8);
  assert.is(f.tpot_p90_ms.stats?.mean, 20);
  assert.is(f.request_throughput.stats?.mean, 2);
  assert.is(f.goodput_rps.stats, null);
  assert.match(f.goodput_rps.reason ?? "", /--slo/);
  assert.is(agg.slo, null);
  const [offline] = aggregateResults([fakeResult({ hash: "bbbbbbbbbbbbbbbb", cycle: 1, config: config(), names: ["o"], hardware: "cpu:x" })]);
  assert.match(offline.figures.tpot_p90_ms.reason ?? "", /offline/);
});

test("goodput: requests meeting every SLO (failed ones never do) ÷ the load's duration, by hand", () => {
  const slo = parseSlo("ttft_ms=50,tpot_ms=12");
  assert.equal(slo, { ttft_ms: 50, tpot_ms: 12 });
  assert.equal(goodputOf(served("aaaaaaaaaaaaaaaa", 1, 1, rows(7)), slo), { value: 7 / 5, reason: null });
  assert.equal(goodputOf(served("aaaaaaaaaaaaaaaa", 1, 1, rows(10, true)), slo), { value: 9 / 5, reason: null });
  assert.equal(goodputOf(served("aaaaaaaaaaaaaaaa", 1, 1, rows(10)), { e2e_ms: 120 }), { value: 10 / 5, reason: null });
  assert.is(sloAttainment([served("aaaaaaaaaaaaaaaa", 1, 1, rows(9)), served("aaaaaaaaaaaaaaaa", 2, 1, rows(7))], slo), 16 / 20);
  const [agg] = aggregateResults([served("aaaaaaaaaaaaaaaa", 1, 1, rows(9))], undefined, null, slo);
  assert.equal(agg.slo, { attainment: 0.9, meets: true });
  assert.is(agg.figures.goodput_rps.stats?.mean, 9 / 5);
  for (const bad of ["ttft=50", "ttft_ms=-1", "ttft_ms=", "tpot_ms=abc", "", "ttft_ms=1=2"]) {
    try { parseSlo(bad); assert.unreachable(bad); } catch (e) { assert.instance(e, LemError, bad); assert.is((e as LemError).exitCode, 2); }
  }
});

test("lem report --slo: per hardware, the lowest-energy config that meets the SLOs", () => {
  const results = [
    served("1111111111111111", 1, 0.2, rows(5)), // cheapest, but half its requests miss TTFT
    served("2222222222222222", 1, 0.4, rows(10), 4),
    served("3333333333333333", 1, 0.9, rows(10), 8),
  ];
  const md = renderMarkdown(buildReportData(results, { slo: parseSlo("ttft_ms=50") }));
  assert.match(md, /SLOs: ttft\\_ms ≤ 50/);
  assert.match(md, /Lowest energy meeting the SLOs: \*\*serve-22\*\*/);
  assert.match(md, /2 of 3 serving configs meet them/);
  assert.match(md.split("\n").find((l) => l.startsWith("| experiment"))!, /goodput req\/s/);
  const none = renderMarkdown(buildReportData(results, { slo: parseSlo("ttft_ms=1") }));
  assert.match(none, /none of 3 serving configs meets them/);
  assert.not.match(renderMarkdown(buildReportData(results)), /goodput/, "no SLOs: no goodput column");
});

test("lem compare gates goodput (with SLOs) and J/request when asked; the default gate never waits on them", () => {
  const slo = parseSlo("ttft_ms=50");
  const base = groupResults([served("aaaaaaaaaaaaaaaa", 1, 0.5, rows(10)), served("aaaaaaaaaaaaaaaa", 2, 0.5, rows(9))], undefined, slo);
  const current = groupResults([served("aaaaaaaaaaaaaaaa", 1, 0.5, rows(4)), served("aaaaaaaaaaaaaaaa", 2, 0.5, rows(3))], undefined, slo);
  const gated = compareGroups(base, current, { ...DEFAULT_OPTIONS, gate: ["goodput_rps", "energy_per_request_j"] });
  const goodput = gated.configs[0].metrics.find((m) => m.metric === "goodput_rps")!;
  assert.is(goodput.verdict, "regressed");
  assert.equal(gated.configs[0].regressions, ["goodput_rps"]);
  const plain = compareGroups(base, current);
  assert.not.ok(plain.configs[0].metrics.some((m) => m.metric === "goodput_rps"), "not compared unless gated");
});

// Two engine configs (KV cache of 64 and 128 blocks) × three rates, given out of order, whose text
// order ("16" < "2") is not their numeric one × two cycles.
const engines = [{ serving: { engine: { num_blocks: 64 } } }, { serving: { engine: { num_blocks: 128 } } }];
const sweep = servingSweep({ engines, rates: [16, "inf", 2], cycles: 2 });
const RATES = ["2", "16", "inf"];
const RATE_CHARTS = ["rate-energy-token", "rate-energy-request", "rate-ttft", "rate-tpot"];

type Section = ReturnType<typeof pageData>["sections"][number];
const rowsOf = (s: Section) => s.rows.map((r) => Object.fromEntries(s.columns.map((c, i) => [c, r[i]])));

interface DrawnLine { engine: string; figure: string; rates: string[]; values: number[]; xs: number[] }
interface SceneItem { mark?: { name?: string }; items?: SceneItem[]; marktype?: string; name?: string; datum?: Record<string, unknown>; x?: number }

/** Runs a spec in Vega (headless, as the page would) over the section's rows: each drawn line, its points in path order. */
async function drawnLines(spec: Record<string, unknown>, rows: Record<string, unknown>[]): Promise<DrawnLine[]> {
  const view = new vega.View(vega.parse(compile({ ...spec, width: 400, datasets: { configs: rows } } as unknown as TopLevelSpec).spec), { renderer: "none" });
  await view.runAsync();
  const lines: DrawnLine[] = [];
  const walk = (node: SceneItem) => {
    if (node.marktype === "line" && node.name === "lines_marks" && node.items?.length) {
      const items = node.items;
      const d = (i: SceneItem) => i.datum!;
      lines.push({ engine: String(d(items[0]).serving_engine), figure: String(d(items[0]).figure), rates: items.map((i) => String(d(i).serving_rate)), values: items.map((i) => Number(d(i).value)), xs: items.map((i) => i.x!) });
    }
    for (const child of node.items ?? []) walk(child);
  };
  walk((view.scenegraph() as unknown as { root: SceneItem }).root);
  view.finalize();
  return lines;
}

test("report.html draws J/token, J/request, TTFT and TPOT against request rate: a line per engine config, inf last, each point the mean over cycles", async () => {
  const [s] = pageData(buildReportData(sweep)).sections;
  const rows = rowsOf(s);
  const charts = s.scatters.filter((c) => c.id.startsWith("rate-"));
  assert.equal(charts.map((c) => c.id), RATE_CHARTS);
  assert.ok(s.scatters.some((c) => c.id === "energy-tpot"), "the J/token against TPOT p90 Pareto chart stays");
  assert.equal(buildReportData(sweep).sections[0].dimensions.find((d) => d.key === "serving.request_rate")?.values, [2, 16, "inf"], "the sweep-dimension chart orders rates alike");
  const means = new Map(aggregateResults(sweep).map((c) => [c.names[0], c.figures]));
  const labels = ["serving.engine.num_blocks=128", "serving.engine.num_blocks=64"];
  for (const chart of charts) {
    const spec = chart.spec as { encoding: { x: Record<string, unknown>; color: Record<string, unknown> }; layer: { name: string; mark: { type: string }; encoding: Record<string, { field?: string }> }[] };
    assert.equal([spec.encoding.x.field, spec.encoding.x.type, spec.encoding.x.sort], ["serving_rate", "ordinal", RATES], chart.id);
    assert.is(spec.encoding.color.field, "serving_engine");
    const line = spec.layer.find((l) => l.name === "lines")!;
    assert.equal([line.mark.type, line.encoding.detail.field, line.encoding.order.field], ["line", "serving_engine", "serving_rate_order"]);
    assert.not.ok(spec.layer.some((l) => l.encoding.color), "colour is the spec's own, so the page's colour-by picker leaves it");
    const drawn = await drawnLines(chart.spec, rows);
    const figures = [...new Set(drawn.map((l) => l.figure))] as MetricKey[];
    assert.is(drawn.length, labels.length * figures.length, `${chart.id}: a line per engine config (and percentile)`);
    assert.equal([...new Set(drawn.map((l) => l.engine))].sort(), labels);
    for (const l of drawn) {
      assert.equal(l.rates, RATES, `${chart.id} ${l.engine}: drawn in rate order`);
      assert.ok(l.xs[0] < l.xs[1] && l.xs[1] < l.xs[2], `${chart.id}: inf at the right end`);
      const e = l.engine.endsWith("=64") ? 0 : 1;
      const expected = l.rates.map((r) => means.get(`serve-e${e}-r${r}`)![l.figure as MetricKey].stats!.mean);
      l.values.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-4 * expected[i], `${chart.id} ${l.figure} at ${l.rates[i]}: ${v} vs ${expected[i]}`));
    }
    if (chart.id === "rate-ttft") assert.equal(figures, ["ttft_p50_ms", "ttft_p99_ms"]);
    if (chart.id === "rate-tpot") assert.equal(figures, ["tpot_p50_ms", "tpot_p90_ms"]);
  }
});

test("an engine config's line is labelled by the server fields that differ between keys, else by its key", () => {
  const serving = (rate: number | "inf", fields: Record<string, unknown> = {}, servingFields: Record<string, unknown> = {}) =>
    ({ config: config({ scenario: "serving", ...fields, serving: { request_rate: rate, ...servingFields } }) });
  const backends = servingLines([serving(2, { backend: "vllm" }), serving(1), serving("inf"), serving(0.5, { backend: "vllm" })]);
  assert.equal(backends.points.map((p) => p?.line), ["backend=vllm", "backend=pytorch", "backend=pytorch", "backend=vllm"]);
  assert.equal(backends.rates, ["0.5", "1", "2", "inf"]);
  assert.equal(backends.points.map((p) => p?.rateOrder), [2, 1, 3, 0]);
  const one = servingLines([serving(1), serving(2), { config: config() }]);
  assert.match(one.points[0]!.line, /^[0-9a-f]{16}$/, "one engine config: its server key");
  assert.is(one.points[1]!.line, one.points[0]!.line);
  assert.is(one.points[2], null, "an offline config is on no line");
  // a load field swept beside the rate would put two points of one line at one rate: it splits the line
  const split = servingLines([serving(1, {}, { max_concurrency: 2 }), serving(1, {}, { max_concurrency: 8 }), serving(2, {}, { max_concurrency: 2 })]);
  assert.equal(split.points.map((p) => p?.line.replace(/^[0-9a-f]{16}, /, "")), ["serving.max_concurrency=2", "serving.max_concurrency=8", "serving.max_concurrency=2"]);
});

test("an offline-only report has no request-rate chart and no serving field; beside a serving section neither has the other's", () => {
  const offline = pageData(buildReportData(syntheticResults({ configs: 6, cycles: 2 }))).sections[0];
  assert.equal(offline.scatters.map((c) => c.id), ["energy-itl", "energy-tps", "tps-ttft", "tps-itl"]);
  assert.not.ok(offline.columns.some((c) => c.startsWith("serving_")), offline.columns.join(", "));
  const mixed = pageData(buildReportData([...syntheticResults({ configs: 6, cycles: 2, hardware: "gpu:A" }), ...servingSweep({ engines, rates: [1, "inf"], cycles: 2, hardware: "gpu:B" })])).sections;
  assert.equal(mixed.map((s) => s.scatters.some((c) => c.id.startsWith("rate-"))), [false, true]);
  assert.equal(mixed.map((s) => s.columns.includes("serving_engine")), [false, true]);
});

test("a hostile model name labels its line as text: escaped in report.html, never inside a Vega expression", () => {
  const hostile = "<script>alert(1)</script>";
  const results = servingSweep({ engines: [{ model: hostile }, {}], rates: [1, "inf"], cycles: 2 });
  const [s] = pageData(buildReportData(results)).sections;
  assert.ok(rowsOf(s).some((r) => r.serving_engine === `model=${hostile}`), "the label is kept as text in the data");
  for (const c of s.scatters) assert.not.ok(JSON.stringify(c.spec).includes("alert"), `${c.id}: no label in the spec`);
  const html = renderHtml(buildReportData(results));
  assert.not.ok(html.includes(hostile), "never raw in the page");
  assert.ok(html.includes("model=\\u003cscript>alert(1)\\u003c/script>"), "only inside the JSON data block, < escaped");
  assert.not.match(renderMarkdown(buildReportData(results)), /<script>/);
});

test.run();
