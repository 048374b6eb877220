import { test } from "uvu";
import * as assert from "uvu/assert";
import { aggregate, aggregateResults, cycleNumbers, groupResults, tCritical, METRIC_KEYS, METRICS } from "../src/report/aggregate.js";
import type { ExperimentResult } from "../src/result.js";
import { config, fakeResult } from "./helpers/fixtures.js";

const close = (actual: number | null | undefined, expected: number, tol = 1e-9) =>
  assert.ok(typeof actual === "number" && Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${actual} ≉ ${expected}`);

/** A measured cycle: `j` joules for 100 output tokens over 10 s, baseline 20 W. */
function measured(hash: string, cycle: number, j: number, hardware = "gpu:A100 x1", extra: Partial<ExperimentResult> = {}): ExperimentResult {
  const r = fakeResult({ hash, cycle, config: config(), names: [`exp-${hash.slice(0, 2)}`], hardware });
  r.tokens = { input: 50, output: 100, total: 150, prompts: 4 };
  r.throughput = { output_tokens_per_s: 100 / (j / 10), total_tokens_per_s: 15, requests_per_s: 0.4 };
  r.latency.itl_ms = { n: 96, mean: j, p50: j, p90: j, p95: j, p99: 2 * j };
  r.energy = {
    status: "measured", method: "nvml_total_energy", total_j: j, adjusted_j: j - 200, per_output_token_j: j / 100,
    avg_power_w: j / 10, peak_power_w: j / 5, window_s: 10, reason: null,
  };
  r.baseline = { power_w: 20, duration_s: 5, reason: null };
  return Object.assign(r, extra);
}

test("mean, sample std, Student-t CI95 and CV match hand-computed values", () => {
  // [1,2,3]: mean 2, deviations ±1 → s² = 2/2 = 1; t(0.975, 2) = 4.30265 (tables) → CI = 4.30265/√3.
  const a = aggregate([1, 2, 3])!;
  assert.is(a.n, 3);
  close(a.mean, 2);
  close(a.std, 1);
  close(a.ci95, 4.302652729749464 / Math.sqrt(3), 1e-7);
  close(a.cv, 0.5);
  // [0.5, 0.7]: s = 0.1·√2, t(0.975, 1) = 12.7062 → CI = 12.7062·0.1.
  const b = aggregate([0.5, 0.7])!;
  close(b.std, 0.1 * Math.SQRT2);
  close(b.ci95, 1.2706204736, 1e-8);
});

test("t critical values beyond the old 30-row table are exact, not 1.96", () => {
  close(tCritical(40), 2.021075382995, 1e-7);
  close(tCritical(3, 0.9), 2.353363434802, 1e-7);
});

test("one cycle has a mean but no spread; no finite value is null", () => {
  assert.equal(aggregate([5]), { n: 1, mean: 5, std: null, ci95: null, cv: null });
  assert.is(aggregate([null, undefined, Number.NaN]), null);
});

test("results are grouped per config and per hardware, never mixed", () => {
  const results = [
    measured("aaaaaaaaaaaaaaaa", 2, 300), measured("aaaaaaaaaaaaaaaa", 1, 200),
    measured("aaaaaaaaaaaaaaaa", 1, 900, "gpu:H100 x1"), measured("bbbbbbbbbbbbbbbb", 1, 400),
  ];
  const groups = groupResults(results);
  assert.equal(groups.map((g) => [g.hardware, g.hash, g.cycles]), [
    ["gpu:A100 x1", "aaaaaaaaaaaaaaaa", [1, 2]], ["gpu:A100 x1", "bbbbbbbbbbbbbbbb", [1]], ["gpu:H100 x1", "aaaaaaaaaaaaaaaa", [1]],
  ]);
  // compare reads per-cycle values in cycle order
  assert.equal(cycleNumbers(groups[0], "energy_total_j"), [200, 300]);
  const renamed = groupResults(results, (h) => (h.startsWith("a") ? ["named", "alias"] : undefined));
  assert.equal(renamed.find((g) => g.hash.startsWith("a"))?.names, ["named", "alias"]);
});

test("every figure of a config: energy raw and adjusted, throughput, latency, power, memory, with units", () => {
  const [agg] = aggregateResults([measured("aaaaaaaaaaaaaaaa", 1, 300), measured("aaaaaaaaaaaaaaaa", 2, 500)]);
  const f = agg.figures;
  assert.is(agg.cycles, 2);
  close(f.energy_per_token_j.stats?.mean, 4); // (3 + 5) / 2
  close(f.energy_per_token_j.stats?.std, Math.SQRT2); // deviations ±1 → s² = 2
  close(f.energy_per_token_adjusted_j.stats?.mean, 2); // ((300-200) + (500-200)) / 2 / 100
  close(f.energy_total_j.stats?.mean, 400);
  close(f.output_tokens_per_s.stats?.mean, (100 / 30 + 100 / 50) / 2);
  close(f.itl_p50_ms.stats?.mean, 400);
  close(f.itl_p99_ms.stats?.mean, 800);
  close(f.avg_power_w.stats?.mean, 40);
  close(f.peak_power_w.stats?.mean, 80);
  close(f.peak_memory_bytes.stats?.mean, 1024);
  close(agg.baselinePowerW.stats?.mean, 20);
  assert.is(f.energy_per_token_j.unit, "J/token");
  assert.is(f.energy_total_j.unit, "J");
  assert.is(f.output_tokens_per_s.unit, "tokens/s");
  assert.is(f.ttft_p50_ms.unit, "ms");
  assert.is(f.peak_power_w.unit, "W");
  assert.is(f.peak_memory_bytes.unit, "bytes");
  for (const key of METRIC_KEYS) assert.is(f[key].unit, METRICS[key].unit);
  assert.equal(agg.energyStatus, ["measured"]);
});

test("a figure null in the results stays null with its reason; a partial one says how many cycles lack it", () => {
  const unmeasured = fakeResult({ hash: "cccccccccccccccc", cycle: 1, config: config(), names: ["cpu"], hardware: "cpu:x" });
  unmeasured.energy.reason = "RAPL not readable: /sys/class/powercap is not mounted";
  const [cpu] = aggregateResults([unmeasured]);
  assert.is(cpu.figures.energy_per_token_j.stats, null);
  assert.is(cpu.figures.energy_per_token_j.reason, "RAPL not readable: /sys/class/powercap is not mounted");
  assert.is(cpu.figures.energy_per_token_adjusted_j.reason, "RAPL not readable: /sys/class/powercap is not mounted");
  assert.is(cpu.baselinePowerW.stats, null);

  const noBaseline = measured("aaaaaaaaaaaaaaaa", 2, 500);
  noBaseline.energy.adjusted_j = null;
  noBaseline.baseline = { power_w: null, duration_s: 0, reason: "baseline disabled" };
  const [partial] = aggregateResults([measured("aaaaaaaaaaaaaaaa", 1, 300), noBaseline]);
  assert.is(partial.figures.energy_per_token_adjusted_j.stats?.n, 1);
  assert.is(partial.figures.energy_per_token_adjusted_j.reason, "1 of 2 cycles: baseline disabled");
  assert.is(partial.figures.energy_per_token_j.reason, null);
});

test("quality flags are collected with the number of cycles that raised them", () => {
  const [agg] = aggregateResults([
    measured("aaaaaaaaaaaaaaaa", 1, 300, undefined, { quality_flags: ["energy_window_under_10s", "thermal_throttling"] }),
    measured("aaaaaaaaaaaaaaaa", 2, 300, undefined, { quality_flags: ["energy_window_under_10s"] }),
  ]);
  assert.equal(agg.qualityFlags, [{ flag: "energy_window_under_10s", cycles: 2 }, { flag: "thermal_throttling", cycles: 1 }]);
});

test.run();
