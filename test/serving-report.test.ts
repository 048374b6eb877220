// Serving results in lem report and lem compare: steady-state J/token, J/request, TPOT, request
// throughput; goodput only under SLOs given at report/compare time (never stored, never hashed).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { aggregateResults, groupResults } from "../src/report/aggregate.js";
import { buildReportData } from "../src/report/report-data.js";
import { renderMarkdown } from "../src/report/markdown.js";
import { goodputOf, parseSlo, sloAttainment } from "../src/report/slo.js";
import { compareGroups, DEFAULT_OPTIONS } from "../src/compare/compare.js";
import { LemError } from "../src/errors.js";
import type { ExperimentResult, RequestRow } from "../src/store/result.js";
import { config, fakeResult } from "./helpers/fixtures.js";

const lat = (p50: number, p90: number) => ({ n: 10, mean: p50, p50, p90, p95: p90, p99: p90 });

/** A serving cycle: `jPerToken` over the steady window, 10 requests of 8 tokens in 5 s, TTFT and TPOT per row. */
function served(hash: string, cycle: number, jPerToken: number, rows: RequestRow[], rate: number | "inf" = 2): ExperimentResult {
  const r = fakeResult({ hash, cycle, config: config({ scenario: "serving", serving: { request_rate: rate } }), names: [`serve-${hash.slice(0, 2)}`], hardware: "gpu:NVIDIA H100 x1" });
  r.energy = { status: "measured", method: "nvml", total_j: 100, adjusted_j: null, per_output_token_j: 100 / 80, avg_power_w: 20, peak_power_w: 30, window_s: 5, reason: null, scope: "gpu" };
  r.serving = {
    server: { kind: "transformers", startup_s: 6, batch: 2, batch_source: "max_concurrency", metrics: null },
    request_rate: rate, burstiness: 1, max_concurrency: 2, num_requests: rows.length, completed: rows.filter((x) => x[4]).length,
    failed: rows.filter((x) => !x[4]).length, duration_s: 5, request_throughput: rows.length / 5, output_throughput: 16,
    ttft_ms: lat(40, 90), tpot_ms: lat(10, 20), itl_ms: lat(10, 20), e2e_ms: lat(110, 200), arrival_error_ms: lat(0.5, 1), peak_concurrency: 2,
    steady_state: { start_s: 1, end_s: 4, duration_s: 3, tokens: 48, energy_j: jPerToken * 48, energy_per_token_j: jPerToken, reason: null },
    energy_per_request_j: { mean: jPerToken * 8, p90: jPerToken * 8, reason: null },
    goodput: { requests_per_s: null, slo: null, reason: "SLOs are applied by lem report and lem compare (--slo)" },
    requests: rows,
  };
  return r;
}

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

test.run();
