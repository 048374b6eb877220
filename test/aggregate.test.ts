import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { aggregate, aggregateResults, cycleNumbers, flagTexts, groupResults, tCritical, CO2E_KEYS, METRIC_KEYS, METRICS } from "../src/report/aggregate.js";
import { resolveGridIntensity } from "../src/config/user-config.js";
import { SHORT_WINDOW_S } from "../src/report/measurement-flags.js";
import type { ExperimentResult } from "../src/store/result.js";
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

test("per request and per token: J per request, per input, output and total token, kWh per million output tokens", () => {
  // measured(): 50 input, 100 output, 150 tokens in all, 4 requests; 300 J and 500 J.
  const [agg] = aggregateResults([measured("aaaaaaaaaaaaaaaa", 1, 300), measured("aaaaaaaaaaaaaaaa", 2, 500)]);
  const f = agg.figures;
  close(f.energy_per_request_j.stats?.mean, (75 + 125) / 2);
  close(f.energy_per_request_j.stats?.std, 25 * Math.SQRT2); // deviations ±25
  close(f.energy_per_input_token_j.stats?.mean, (6 + 10) / 2);
  close(f.energy_per_token_j.stats?.mean, (3 + 5) / 2);
  close(f.energy_per_total_token_j.stats?.mean, (2 + 500 / 150) / 2);
  // 300 J = 300/3.6e6 kWh over 100 tokens = 1e-4 Mtok → 0.8333 kWh/Mtok; 500 J → 1.3889
  close(f.kwh_per_million_output_tokens.stats?.mean, (300 + 500) / 2 / 360);
  assert.is(f.energy_per_request_j.unit, "J/request");
  assert.is(f.kwh_per_million_output_tokens.unit, "kWh/Mtok");
  assert.is(agg.co2e, null, "no CO2e without a grid intensity");
});

test("energy.phase_split: prefill and decode figures from the result's phases; without the split, null saying so", () => {
  const withPhases = (cycle: number, prefill: number, total: number) => {
    const r = measured("bbbbbbbbbbbbbbbb", cycle, total);
    r.energy.phases = {
      method: "prefill pass", scope: "gpu", reason: null,
      prefill: { total_j: prefill, window_s: 1, input_tokens: 50, prompts: 4, per_input_token_j: prefill / 50, per_request_j: prefill / 4, flags: [] },
      decode: { total_j: total - prefill, window_s: 9, output_tokens: 96, per_output_token_j: (total - prefill) / 96 },
    };
    return r;
  };
  const [split] = aggregateResults([withPhases(1, 20, 300), withPhases(2, 40, 500)]);
  close(split.figures.prefill_energy_j.stats?.mean, 30);
  close(split.figures.prefill_energy_per_input_token_j.stats?.mean, (20 / 50 + 40 / 50) / 2);
  close(split.figures.decode_energy_j.stats?.mean, (280 + 460) / 2);
  close(split.figures.decode_energy_per_output_token_j.stats?.mean, (280 / 96 + 460 / 96) / 2);
  assert.is(split.figures.decode_energy_per_output_token_j.unit, "J/token");
  for (const key of METRIC_KEYS.filter((k) => /prefill|decode/.test(k))) assert.is(METRICS[key].better, "lower");

  const [plain] = aggregateResults([measured("cccccccccccccccc", 1, 300)]);
  assert.is(plain.figures.prefill_energy_j.stats, null);
  assert.is(plain.figures.decode_energy_per_output_token_j.reason, "energy.phase_split is not set");

  const unmeasured = withPhases(1, 0, 0);
  unmeasured.energy.phases!.reason = "no energy source";
  unmeasured.energy.phases!.prefill.total_j = null;
  const [none] = aggregateResults([unmeasured]);
  assert.is(none.figures.prefill_energy_j.reason, "no energy source");
});

test("a grid intensity gives CO2e per request and per million output tokens, CI scaled with it", () => {
  const results = [measured("aaaaaaaaaaaaaaaa", 1, 300), measured("aaaaaaaaaaaaaaaa", 2, 500)];
  const [agg] = aggregateResults(results, undefined, { gco2ePerKwh: 250, source: "--grid-intensity" });
  const co2e = agg.co2e!;
  // J per request 100 → 100/3.6e6 kWh × 250 g/kWh; 1.1111 kWh/Mtok × 250 = 277.8 g/Mtok
  close(co2e.co2e_per_request_g.stats?.mean, (100 * 250) / 3.6e6);
  close(co2e.co2e_per_million_output_tokens_g.stats?.mean, (800 / 2 / 360) * 250);
  close(co2e.co2e_per_request_g.stats?.ci95, (agg.figures.energy_per_request_j.stats!.ci95! * 250) / 3.6e6);
  close(co2e.co2e_per_million_output_tokens_g.stats?.cv, agg.figures.kwh_per_million_output_tokens.stats!.cv!);
  assert.is(co2e.co2e_per_million_output_tokens_g.unit, "gCO2e/Mtok");
  // an intensity of 0 is a given value, not an absent one
  const [zero] = aggregateResults(results, undefined, { gco2ePerKwh: 0, source: "x" });
  assert.is(zero.co2e?.co2e_per_request_g.stats?.mean, 0);
});

test("null energy: every per-request and per-token figure and CO2e is null with the energy's reason", () => {
  const why = "RAPL not readable: /sys/class/powercap is not mounted";
  const unmeasured = fakeResult({ hash: "cccccccccccccccc", cycle: 1, config: config(), names: ["cpu"], hardware: "cpu:x" });
  unmeasured.energy.reason = why;
  const [cpu] = aggregateResults([unmeasured], undefined, { gco2ePerKwh: 250, source: "--grid-intensity" });
  for (const k of ["energy_per_request_j", "energy_per_input_token_j", "energy_per_total_token_j", "kwh_per_million_output_tokens"] as const) {
    assert.is(cpu.figures[k].stats, null, k);
    assert.is(cpu.figures[k].reason, why, k);
  }
  for (const k of CO2E_KEYS) {
    assert.is(cpu.co2e![k].stats, null, k);
    assert.is(cpu.co2e![k].reason, why, k);
  }
  // measured energy but no input tokens: J per input token is null and says so, the rest stay
  const noInput = measured("aaaaaaaaaaaaaaaa", 1, 300);
  noInput.tokens = { input: 0, output: 100, total: 100, prompts: 4 };
  const [agg] = aggregateResults([noInput]);
  assert.is(agg.figures.energy_per_input_token_j.reason, "no input tokens");
  close(agg.figures.energy_per_total_token_j.stats?.mean, 3);
});

test("the grid intensity: --grid-intensity wins over .lem-config.yaml, which names its source; neither gives none", () => {
  const user = { grid_intensity: 100, grid_intensity_source: "Ember 2024, UK" };
  assert.equal(resolveGridIntensity(300, user), { gco2ePerKwh: 300, source: "--grid-intensity" });
  assert.equal(resolveGridIntensity(undefined, user), { gco2ePerKwh: 100, source: ".lem-config.yaml grid_intensity (Ember 2024, UK)" });
  assert.equal(resolveGridIntensity(undefined, { grid_intensity: 0 }), { gco2ePerKwh: 0, source: ".lem-config.yaml grid_intensity" });
  assert.is(resolveGridIntensity(undefined, {}), null);
});

test("quality flags are collected with the number of cycles that raised them", () => {
  const [agg] = aggregateResults([
    measured("aaaaaaaaaaaaaaaa", 1, 300, undefined, { quality_flags: ["energy_window_under_10s", "thermal_throttling"] }),
    measured("aaaaaaaaaaaaaaaa", 2, 300, undefined, { quality_flags: ["energy_window_under_10s"] }),
  ]);
  assert.equal(agg.qualityFlags, [{ flag: "energy_window_under_10s", cycles: 2 }, { flag: "thermal_throttling", cycles: 1 }]);
});

/** A cycle without energy (a CPU without RAPL): `tps` output tokens/s over a `windowS` window. */
function unmeasured(cycle: number, tps: number, windowS: number): ExperimentResult {
  const r = fakeResult({ hash: "dddddddddddddddd", cycle, config: config(), names: ["cpu"], hardware: "cpu:x" });
  r.throughput = { output_tokens_per_s: tps, total_tokens_per_s: tps, requests_per_s: 1 };
  r.energy = { ...r.energy, status: "unavailable", total_j: null, adjusted_j: null, per_output_token_j: null, window_s: windowS, reason: "no counter" };
  r.quality_flags = [];
  return r;
}

test("a window under 10 s is flagged where energy is not measured (the harness flags it only with a counter)", () => {
  const [short] = aggregateResults([unmeasured(1, 100, 0.041), unmeasured(2, 100, 12), unmeasured(3, 100, 0.05)]);
  assert.equal(short.measurementFlags, [{ kind: "short_window", shortestS: 0.041, cycles: 2, of: 3 }]);
  assert.equal(flagTexts(short), ["short window: 41 ms < 10 s (2 of 3 cycles)"]);
  close(short.windowS.stats?.mean, (0.041 + 12 + 0.05) / 3);
  const [long] = aggregateResults([unmeasured(1, 100, 10), unmeasured(2, 100, 12)]);
  assert.equal(long.measurementFlags, []);
  // with energy the harness's own flag says the same: it is shown once, as lem's
  const [gpu] = aggregateResults([1, 2].map((c) => measured("aaaaaaaaaaaaaaaa", c, 300, undefined, {
    quality_flags: ["energy_window_under_10s", "thermal_throttling"], energy: { ...measured("aaaaaaaaaaaaaaaa", c, 300).energy, window_s: 4 },
  })));
  assert.equal(flagTexts(gpu), ["short window: 4.0 s < 10 s (2 of 2 cycles)", "thermal_throttling (2/2)"]);
});

test("a cycle-to-cycle CV of throughput above 10 % is flagged, 2 % is not", () => {
  const [noisy] = aggregateResults([unmeasured(1, 100, 20), unmeasured(2, 130, 20), unmeasured(3, 80, 20)]);
  const cv = aggregate([100, 130, 80])!.cv!; // ≈ 0.24
  assert.equal(noisy.measurementFlags, [{ kind: "high_cv", metric: "output_tokens_per_s", label: "output throughput", cv }]);
  assert.equal(flagTexts(noisy), [`high CV: output throughput ${(cv * 100).toFixed(0)} % > 10 %`]);
  const [calm] = aggregateResults([unmeasured(1, 100, 20), unmeasured(2, 102, 20), unmeasured(3, 98, 20)]);
  assert.equal(calm.measurementFlags, []);
  // one cycle has no spread to judge
  assert.equal(aggregateResults([unmeasured(1, 100, 20)])[0].measurementFlags, []);
});

/** A calm unmeasured cycle run on the given stack. */
function onStack(cycle: number, stack: { torch?: string | null; runner?: "local" | "docker"; digest?: string | null; vllm?: string }, backend: "pytorch" | "vllm" = "pytorch"): ExperimentResult {
  const r = unmeasured(cycle, 100, 20);
  if (backend === "vllm") r.config = config({ backend: "vllm" });
  r.environment = { ...r.environment, torch: stack.torch ?? null, ...(stack.vllm ? { vllm: stack.vllm } : {}) };
  r.effective_config = { ...r.effective_config, runner_type: stack.runner ?? "local", image_digest: stack.digest ?? null };
  return r;
}

test("cycles from different software stacks are flagged with each part and its cycles; a part not recorded is no difference", () => {
  const a = `sha256:${"a".repeat(64)}`, b = `sha256:${"b".repeat(64)}`;
  const [mixed] = aggregateResults([
    onStack(1, { torch: "2.3.0", runner: "docker", digest: a }), onStack(2, { torch: "2.3.0", runner: "docker", digest: a }),
    onStack(3, { torch: "2.4.0", runner: "docker", digest: b }),
  ]);
  assert.equal(mixed.measurementFlags, [{ kind: "mixed_stack", differences: [
    { field: "image", values: [{ value: a, cycles: [1, 2] }, { value: b, cycles: [3] }] },
    { field: "torch", values: [{ value: "2.3.0", cycles: [1, 2] }, { value: "2.4.0", cycles: [3] }] },
  ] }]);
  assert.equal(flagTexts(mixed), ["mixed software stacks: image sha256:aaaaaaaaaaaa (cycles 1, 2) vs sha256:bbbbbbbbbbbb (cycle 3); torch 2.3.0 (cycles 1, 2) vs 2.4.0 (cycle 3)"]);
  // local, then docker: the runner differs
  const [runners] = aggregateResults([onStack(1, { torch: "2.3.0" }), onStack(2, { torch: "2.3.0", runner: "docker", digest: a })]);
  assert.equal(flagTexts(runners), ["mixed software stacks: runner local (cycle 1) vs docker (cycle 2)"]);
  // an older result without a torch version is not a different stack
  assert.equal(aggregateResults([onStack(1, { torch: "2.3.0" }), onStack(2, {})])[0].measurementFlags, []);
  // vLLM's version counts for vLLM runs only
  assert.equal(aggregateResults([onStack(1, { vllm: "0.6.0" }), onStack(2, { vllm: "0.7.0" })])[0].measurementFlags, []);
  assert.equal(flagTexts(aggregateResults([onStack(1, { vllm: "0.6.0" }, "vllm"), onStack(2, { vllm: "0.7.0" }, "vllm")])[0]),
    ["mixed software stacks: vllm 0.6.0 (cycle 1) vs 0.7.0 (cycle 2)"]);
});

test("cycles run under a different GPU power limit or application clocks are flagged; unread settings are no difference", () => {
  const on = (cycle: number, power: number | null, sm: number | null) => {
    const r = onStack(cycle, { torch: "2.3.0" });
    r.environment = { ...r.environment, gpu_settings: [{ uuid: "GPU-a", power_limit_w: power, default_power_limit_w: 700,
      applications_clocks_mhz: sm === null ? null : { sm, memory: 2619 }, default_applications_clocks_mhz: { sm: 1980, memory: 2619 } }] };
    return r;
  };
  const [mixed] = aggregateResults([on(1, 700, 1980), on(2, 700, 1980), on(3, 450, 1410)]);
  assert.equal(mixed.measurementFlags, [{ kind: "mixed_stack", differences: [
    { field: "power_limit", values: [{ value: "700 W", cycles: [1, 2] }, { value: "450 W", cycles: [3] }] },
    { field: "gpu_clocks", values: [{ value: "SM 1980 / memory 2619 MHz", cycles: [1, 2] }, { value: "SM 1410 / memory 2619 MHz", cycles: [3] }] },
  ] }]);
  assert.equal(flagTexts(mixed), ["mixed software stacks: power_limit 700 W (cycles 1, 2) vs 450 W (cycle 3); gpu_clocks SM 1980 / memory 2619 MHz (cycles 1, 2) vs SM 1410 / memory 2619 MHz (cycle 3)"]);
  // the same settings, settings NVML could not read, and results from before they were recorded: no flag
  assert.equal(aggregateResults([on(1, 700, 1980), on(2, 700, 1980)])[0].measurementFlags, []);
  assert.equal(aggregateResults([on(1, 700, 1980), on(2, null, null), onStack(3, { torch: "2.3.0" })])[0].measurementFlags, []);
});

// The harness's constant, read by the harness's own Python; without one the check skips loudly.
const harnessShortWindow = spawnSync("python3", ["-c", "from lem_harness.energy.session import SHORT_WINDOW_S; print(SHORT_WINDOW_S)"],
  { cwd: fileURLToPath(new URL("../docker/harness/", import.meta.url)), encoding: "utf8" });
if (harnessShortWindow.status === 0) {
  test("the report's short window is the harness's SHORT_WINDOW_S", () => {
    assert.is(Number(harnessShortWindow.stdout.trim()), SHORT_WINDOW_S);
  });
} else if (process.env.CI === "true") {
  throw new Error(`test/aggregate.test.ts: python3 could not import docker/harness (${harnessShortWindow.stderr || harnessShortWindow.error}), and CI=true`);
} else {
  console.warn("\n!! SKIPPING the SHORT_WINDOW_S check of test/aggregate.test.ts: python3 could not import docker/harness\n");
}

test.run();
