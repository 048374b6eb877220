import type { ExperimentResult, ServingResult } from "../store/result.js";

// Every figure lem aggregates, with its unit and how a cycle's result gives it. Its own file so
// the flags and the aggregation both read it without importing each other.

/** Mean, sample standard deviation, 95% confidence half-width (Student t, n-1 dof) and CV of a series. */
export interface Aggregate { n: number; mean: number; std: number | null; ci95: number | null; cv: number | null }

export type Unit = "J" | "J/token" | "J/request" | "kWh/Mtok" | "gCO2e/request" | "gCO2e/Mtok" | "tokens/s" | "requests/s" | "ms" | "W" | "bytes" | "s";

/** Joules in a kWh. */
export const J_PER_KWH = 3.6e6;

/** One figure of one (config, hardware): its aggregate over cycles, its unit, and why it is null where it is. */
export interface Figure {
  unit: Unit;
  /** Null when no cycle measured it; `reason` then says why. */
  stats: Aggregate | null;
  /** Why the figure is null, or missing in some cycles ("2 of 3 cycles: ..."); null when every cycle has it. */
  reason: string | null;
}

/** A value a cycle measured, or null with the reason the result gives. */
export interface CycleValue { value: number | null; reason: string | null }

interface MetricSpec {
  label: string;
  unit: Unit;
  /** Which direction is an improvement (for Pareto fronts and regression gates). */
  better: "lower" | "higher";
  of(r: ExperimentResult): CycleValue;
}

const value = (v: number | null | undefined, reason: string | null | undefined, fallback: string): CycleValue =>
  typeof v === "number" && Number.isFinite(v) ? { value: v, reason: null } : { value: null, reason: reason ?? fallback };

/** The cycle's total energy ÷ a count (÷ `per` J, e.g. a kWh); null with the energy's reason where it has none. */
const perCount = (r: ExperimentResult, count: number, none: string, per = 1): CycleValue =>
  r.energy.total_j === null || !Number.isFinite(r.energy.total_j) ? { value: null, reason: r.energy.reason ?? "energy not measured" }
    : count > 0 ? { value: r.energy.total_j / per / count, reason: null } : { value: null, reason: none };

type Phases = NonNullable<ExperimentResult["energy"]["phases"]>;
/** A phase figure, or why there is none: the split was not asked for, or energy was not measured. */
export const PHASE_SPLIT_OFF = "energy.phase_split is not set";
const phase = (r: ExperimentResult, of: (p: Phases) => number | null): CycleValue =>
  r.energy.phases ? value(of(r.energy.phases), r.energy.phases.reason, "no energy for this phase") : { value: null, reason: PHASE_SPLIT_OFF };

/** A serving figure, or why an offline result has none. */
export const OFFLINE_ONLY = "offline run: no server under load";
export const NO_SLO = "no SLO given (--slo ttft_ms=…,tpot_ms=…)";
const serving = (r: ExperimentResult, of: (s: ServingResult) => CycleValue): CycleValue =>
  r.serving ? of(r.serving) : { value: null, reason: OFFLINE_ONLY };

const latency = (r: ExperimentResult, key: "ttft_ms" | "itl_ms", q: "p50" | "p99"): CycleValue => {
  const s = r.latency[key];
  return value(s[q], s.n === 0 ? `no ${key === "ttft_ms" ? "first-token" : "inter-token"} samples` : s.method, `${key} ${q} not recorded`);
};

/** Every aggregated figure, in report order. The key is the column name (CSV, JSON, compare's metric names). */
export const METRICS = {
  // Serving: over ML.ENERGY's steady-state window, as the field publishes it (the whole load is energy_total_j).
  energy_per_token_j: {
    label: "energy per output token", unit: "J/token", better: "lower",
    of: (r) => r.serving
      ? value(r.serving.steady_state.energy_per_token_j, r.serving.steady_state.reason ?? r.energy.reason, "energy not measured")
      : value(r.energy.per_output_token_j, r.energy.reason, "energy not measured"),
  },
  energy_per_token_adjusted_j: {
    label: "energy per output token, baseline-adjusted", unit: "J/token", better: "lower",
    of: (r) => r.energy.adjusted_j === null
      ? { value: null, reason: r.energy.total_j === null ? r.energy.reason ?? "energy not measured" : r.baseline.reason ?? "no baseline measured" }
      : value(r.tokens.output > 0 ? r.energy.adjusted_j / r.tokens.output : null, null, "no output tokens"),
  },
  // Per request and per token, from the cycle's total energy and token counts (README "Reports": the energy_per_* table).
  // The mean over requests of J per output token × that request's output tokens is total J ÷ requests.
  energy_per_request_j: {
    label: "energy per request", unit: "J/request", better: "lower",
    of: (r) => r.serving
      ? value(r.serving.energy_per_request_j.mean, r.serving.energy_per_request_j.reason ?? r.energy.reason, "energy not measured")
      : perCount(r, r.tokens.prompts, "no requests"),
  },
  energy_per_request_p90_j: {
    label: "energy per request, p90", unit: "J/request", better: "lower",
    of: (r) => serving(r, (s) => value(s.energy_per_request_j.p90, s.energy_per_request_j.reason ?? r.energy.reason, "energy not measured")),
  },
  energy_per_input_token_j: {
    label: "energy per input token", unit: "J/token", better: "lower",
    of: (r) => perCount(r, r.tokens.input, "no input tokens"),
  },
  energy_per_total_token_j: {
    label: "energy per token, input and output", unit: "J/token", better: "lower",
    of: (r) => perCount(r, r.tokens.total, "no tokens"),
  },
  kwh_per_million_output_tokens: {
    label: "kWh per million output tokens", unit: "kWh/Mtok", better: "lower",
    of: (r) => perCount(r, r.tokens.output / 1e6, "no output tokens", J_PER_KWH),
  },
  energy_combined_j: {
    label: "energy, every source read (energy_combined_scope)", unit: "J", better: "lower",
    of: (r) => r.energy.total_j === null ? { value: null, reason: r.energy.reason ?? "energy not measured" }
      : value(r.energy.combined_j, null, "not recorded: a result from before energy.sources"),
  },
  energy_total_j: {
    label: "total energy", unit: "J", better: "lower",
    of: (r) => value(r.energy.total_j, r.energy.reason, "energy not measured"),
  },
  // energy.phase_split: prefill from a one-new-token pass over the same prompts, decode the rest.
  prefill_energy_j: {
    label: "prefill energy per pass", unit: "J", better: "lower",
    of: (r) => phase(r, (p) => p.prefill.total_j),
  },
  prefill_energy_per_input_token_j: {
    label: "prefill energy per input token", unit: "J/token", better: "lower",
    of: (r) => phase(r, (p) => p.prefill.per_input_token_j),
  },
  decode_energy_j: {
    label: "decode energy per pass", unit: "J", better: "lower",
    of: (r) => phase(r, (p) => p.decode.total_j),
  },
  decode_energy_per_output_token_j: {
    label: "decode energy per output token", unit: "J/token", better: "lower",
    of: (r) => phase(r, (p) => p.decode.per_output_token_j),
  },
  output_tokens_per_s: {
    label: "output throughput", unit: "tokens/s", better: "higher",
    of: (r) => value(r.throughput.output_tokens_per_s, null, "throughput not recorded"),
  },
  request_throughput: {
    label: "request throughput", unit: "requests/s", better: "higher",
    of: (r) => serving(r, (s) => value(s.request_throughput, null, "no request completed")),
  },
  goodput_rps: {
    label: "goodput (requests meeting every SLO per second)", unit: "requests/s", better: "higher",
    // Filled in where an SLO is given (report/slo.ts): SLOs are not part of a result.
    of: (r) => serving(r, () => ({ value: null, reason: NO_SLO })),
  },
  ttft_p50_ms: { label: "TTFT p50", unit: "ms", better: "lower", of: (r) => latency(r, "ttft_ms", "p50") },
  ttft_p99_ms: { label: "TTFT p99", unit: "ms", better: "lower", of: (r) => latency(r, "ttft_ms", "p99") },
  itl_p50_ms: { label: "ITL p50", unit: "ms", better: "lower", of: (r) => latency(r, "itl_ms", "p50") },
  itl_p99_ms: { label: "ITL p99", unit: "ms", better: "lower", of: (r) => latency(r, "itl_ms", "p99") },
  tpot_p50_ms: { label: "TPOT p50", unit: "ms", better: "lower", of: (r) => serving(r, (s) => value(s.tpot_ms.p50, s.tpot_ms.method ?? null, "no request with two or more output tokens")) },
  tpot_p90_ms: { label: "TPOT p90", unit: "ms", better: "lower", of: (r) => serving(r, (s) => value(s.tpot_ms.p90, s.tpot_ms.method ?? null, "no request with two or more output tokens")) },
  avg_power_w: {
    label: "average power", unit: "W", better: "lower",
    of: (r) => value(r.energy.avg_power_w, r.energy.reason, "power not measured"),
  },
  peak_power_w: {
    label: "peak power", unit: "W", better: "lower",
    of: (r) => value(r.energy.peak_power_w, r.energy.reason, "power not measured"),
  },
  peak_memory_bytes: {
    label: "peak memory", unit: "bytes", better: "lower",
    of: (r) => value(r.memory.peak_bytes, r.memory.method, "memory not measured"),
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;
export const METRIC_KEYS = Object.keys(METRICS) as MetricKey[];

/** A cycle's baseline (idle) power, in W, or why it has none. */
export const baselinePowerOf = (r: ExperimentResult): CycleValue => value(r.baseline.power_w, r.baseline.reason, "no baseline measured");
/** A cycle's measurement window, in s (measured with or without energy). */
export const windowOf = (r: ExperimentResult): CycleValue => value(r.energy.window_s, null, "window not recorded");

/**
 * What a cycle's headline energy counts ("gpu", "cpu"), null where it has none. Results stored
 * before energy.scope existed counted the devices the run computed on: GPUs on a GPU fingerprint.
 */
export const energyScopeOf = (r: ExperimentResult): string | null =>
  r.energy.total_j === null ? null : r.energy.scope ?? (r.hardware.startsWith("gpu:") ? "gpu" : "cpu");
/** Every source a cycle read over its window, summed in energy_combined_j ("gpu+cpu+dram"); null where not recorded. */
export const combinedScopeOf = (r: ExperimentResult): string | null => (r.energy.total_j === null ? null : r.energy.combined_scope ?? null);
