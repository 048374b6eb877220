import jStat from "jstat";
import type { ExperimentConfig } from "../lemfile/types.js";
import type { ExperimentResult } from "../result.js";
import { describeFlag, measurementFlags, SUPERSEDED_HARNESS_FLAG, type MeasurementFlag } from "./measurement-flags.js";
import { stackDifferences } from "./software-stack.js";

// Aggregation over cycles, per config hash and per hardware (never across hardware: a J/token on
// one GPU says nothing about another). Pure: results in, figures out. The report, the build
// summary and `lem compare` all read figures from here.

/** Mean, sample standard deviation, 95% confidence half-width (Student t, n-1 dof) and CV of a series. */
export interface Aggregate { n: number; mean: number; std: number | null; ci95: number | null; cv: number | null }

/** Two-sided critical value of Student's t for a confidence level (0.95 → t such that P(|T| ≤ t) = 0.95). */
export function tCritical(dof: number, confidence = 0.95): number {
  return jStat.studentt.inv(1 - (1 - confidence) / 2, dof);
}

/** Aggregates the finite numbers of a series; null when there are none. std, ci95 and cv need n ≥ 2. */
export function aggregate(values: readonly (number | null | undefined)[]): Aggregate | null {
  const xs = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (xs.length === 0) return null;
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, std: null, ci95: null, cv: null };
  const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { n, mean, std, ci95: (tCritical(n - 1) * std) / Math.sqrt(n), cv: mean !== 0 ? std / Math.abs(mean) : null };
}

export type Unit = "J" | "J/token" | "J/request" | "kWh/Mtok" | "gCO2e/request" | "gCO2e/Mtok" | "tokens/s" | "ms" | "W" | "bytes" | "s";

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

const latency = (r: ExperimentResult, key: "ttft_ms" | "itl_ms", q: "p50" | "p99"): CycleValue => {
  const s = r.latency[key];
  return value(s[q], s.n === 0 ? `no ${key === "ttft_ms" ? "first-token" : "inter-token"} samples` : s.method, `${key} ${q} not recorded`);
};

/** Every aggregated figure, in report order. The key is the column name (CSV, JSON, compare's metric names). */
export const METRICS = {
  energy_per_token_j: {
    label: "energy per output token", unit: "J/token", better: "lower",
    of: (r) => value(r.energy.per_output_token_j, r.energy.reason, "energy not measured"),
  },
  energy_per_token_adjusted_j: {
    label: "energy per output token, baseline-adjusted", unit: "J/token", better: "lower",
    of: (r) => r.energy.adjusted_j === null
      ? { value: null, reason: r.energy.total_j === null ? r.energy.reason ?? "energy not measured" : r.baseline.reason ?? "no baseline measured" }
      : value(r.tokens.output > 0 ? r.energy.adjusted_j / r.tokens.output : null, null, "no output tokens"),
  },
  // Per request and per token, from the cycle's total energy and token counts (DESIGN: "Per request").
  // The mean over requests of J per output token × that request's output tokens is total J ÷ requests.
  energy_per_request_j: {
    label: "energy per request", unit: "J/request", better: "lower",
    of: (r) => perCount(r, r.tokens.prompts, "no requests"),
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
  energy_total_j: {
    label: "total energy", unit: "J", better: "lower",
    of: (r) => value(r.energy.total_j, r.energy.reason, "energy not measured"),
  },
  output_tokens_per_s: {
    label: "output throughput", unit: "tokens/s", better: "higher",
    of: (r) => value(r.throughput.output_tokens_per_s, null, "throughput not recorded"),
  },
  ttft_p50_ms: { label: "TTFT p50", unit: "ms", better: "lower", of: (r) => latency(r, "ttft_ms", "p50") },
  ttft_p99_ms: { label: "TTFT p99", unit: "ms", better: "lower", of: (r) => latency(r, "ttft_ms", "p99") },
  itl_p50_ms: { label: "ITL p50", unit: "ms", better: "lower", of: (r) => latency(r, "itl_ms", "p50") },
  itl_p99_ms: { label: "ITL p99", unit: "ms", better: "lower", of: (r) => latency(r, "itl_ms", "p99") },
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

/** The cycles of one config hash measured on one hardware, with each metric's per-cycle values. */
export interface ResultGroup {
  hash: string;
  hardware: string;
  /** Every name the config has (first is the display name); from the results unless given. */
  names: string[];
  config: ExperimentConfig;
  /** The cycle numbers, sorted; values[m][i] belongs to cycles[i]. */
  cycles: number[];
  values: Record<MetricKey, CycleValue[]>;
  results: ExperimentResult[];
}

/**
 * Groups results by (config hash, hardware), cycles sorted, groups sorted by hardware then name.
 * `namesOf` supplies names where the results lack them (the store's config.json has them).
 */
export function groupResults(results: readonly ExperimentResult[], namesOf: (hash: string) => string[] | undefined = () => undefined): ResultGroup[] {
  const byKey = new Map<string, ExperimentResult[]>();
  for (const r of results) {
    const key = `${r.hardware}\u0000${r.hash}`;
    const list = byKey.get(key);
    if (list) list.push(r); else byKey.set(key, [r]);
  }
  const groups = [...byKey.values()].map((list): ResultGroup => {
    const sorted = [...list].sort((a, b) => a.cycle - b.cycle);
    const first = sorted[0];
    const names = namesOf(first.hash) ?? first.names ?? [];
    return {
      hash: first.hash, hardware: first.hardware, names: names.length ? names : [first.hash], config: first.config,
      cycles: sorted.map((r) => r.cycle),
      values: Object.fromEntries(METRIC_KEYS.map((k) => [k, sorted.map((r) => METRICS[k].of(r))])) as Record<MetricKey, CycleValue[]>,
      results: sorted,
    };
  });
  return groups.sort((a, b) => a.hardware.localeCompare(b.hardware) || a.names[0].localeCompare(b.names[0]) || a.hash.localeCompare(b.hash));
}

/** One metric's per-cycle values as plain numbers (nulls dropped): the input to Welch's t-test. */
export function cycleNumbers(group: ResultGroup, metric: MetricKey): number[] {
  return group.values[metric].map((v) => v.value).filter((v): v is number => v !== null);
}

/** Every figure of one (config, hardware) over its cycles. */
export interface ConfigAggregate {
  hash: string;
  hardware: string;
  names: string[];
  config: ExperimentConfig;
  cycles: number;
  figures: Record<MetricKey, Figure>;
  /** Mean baseline (idle) power over the cycles that measured it, in W; null with its reason. */
  baselinePowerW: Figure;
  /** Energy status per cycle, deduplicated ("measured", "estimated", "unavailable"). */
  energyStatus: ExperimentResult["energy"]["status"][];
  /** Every quality flag seen, with the number of cycles that raised it. */
  qualityFlags: { flag: string; cycles: number }[];
  /** Length of the measurement window over the cycles (measured with or without energy), in s. */
  windowS: Figure;
  /** Flags lem derives from the cycles (short window, high CV, mixed software stacks), energy or not. */
  measurementFlags: MeasurementFlag[];
  /** CO2e figures where the user gave a grid intensity; null otherwise. */
  co2e: Record<Co2eKey, Figure> | null;
}

/** A figure over cycles: null values keep their reason, and a partial figure says how many cycles lack it. */
export function figureOf(unit: Unit, values: readonly CycleValue[]): Figure {
  const stats = aggregate(values.map((v) => v.value));
  const missing = values.filter((v) => v.value === null);
  const reasons = [...new Set(missing.map((v) => v.reason ?? "not recorded"))].join("; ");
  const reason = missing.length === 0 ? null : stats === null ? reasons : `${missing.length} of ${values.length} cycles: ${reasons}`;
  return { unit, stats, reason };
}

/** A cycle's baseline (idle) power, in W, or why it has none. */
export const baselinePowerOf = (r: ExperimentResult): CycleValue => value(r.baseline.power_w, r.baseline.reason, "no baseline measured");
/** A cycle's measurement window, in s (measured with or without energy). */
export const windowOf = (r: ExperimentResult): CycleValue => value(r.energy.window_s, null, "window not recorded");

const LABELS = Object.fromEntries(METRIC_KEYS.map((k) => [k, METRICS[k].label])) as Record<MetricKey, string>;

export function aggregateGroup(group: ResultGroup, grid: GridIntensity | null = null): ConfigAggregate {
  const flags = new Map<string, number>();
  for (const r of group.results) for (const f of new Set(r.quality_flags)) flags.set(f, (flags.get(f) ?? 0) + 1);
  const figures = Object.fromEntries(METRIC_KEYS.map((k) => [k, figureOf(METRICS[k].unit, group.values[k])])) as Record<MetricKey, Figure>;
  return {
    hash: group.hash, hardware: group.hardware, names: group.names, config: group.config, cycles: group.cycles.length,
    figures,
    baselinePowerW: figureOf("W", group.results.map(baselinePowerOf)),
    energyStatus: [...new Set(group.results.map((r) => r.energy.status))],
    qualityFlags: [...flags].sort(([a], [b]) => a.localeCompare(b)).map(([flag, cycles]) => ({ flag, cycles })),
    windowS: figureOf("s", group.results.map(windowOf)),
    measurementFlags: measurementFlags(group.results.map((r) => r.energy.window_s), figures, LABELS, stackDifferences(group.results)),
    co2e: grid ? co2eFigures(figures, grid) : null,
  };
}

/** Every flag of a config as text: lem's own first, then the harness's with their cycle counts. */
export function flagTexts(c: ConfigAggregate): string[] {
  const short = c.measurementFlags.some((f) => f.kind === "short_window");
  return [
    ...c.measurementFlags.map(describeFlag),
    ...c.qualityFlags.filter((q) => !(short && q.flag === SUPERSEDED_HARNESS_FLAG)).map((q) => `${q.flag} (${q.cycles}/${c.cycles})`),
  ];
}

/** A grid's carbon intensity that the user gave, and where it came from; lem never guesses one. */
export interface GridIntensity {
  gco2ePerKwh: number;
  /** Where lem read it (the flag or the settings file), and the user's own note on its origin if any. */
  source: string;
}

/** CO2e figures: an energy figure × the grid intensity. Only where the user gave an intensity. */
export const CO2E_METRICS = {
  co2e_per_request_g: { label: "CO2e per request", unit: "gCO2e/request", from: "energy_per_request_j", perKwh: J_PER_KWH },
  co2e_per_million_output_tokens_g: { label: "CO2e per million output tokens", unit: "gCO2e/Mtok", from: "kwh_per_million_output_tokens", perKwh: 1 },
} as const satisfies Record<string, { label: string; unit: Unit; from: MetricKey; perKwh: number }>;
export type Co2eKey = keyof typeof CO2E_METRICS;
export const CO2E_KEYS = Object.keys(CO2E_METRICS) as Co2eKey[];

/** A figure multiplied by k ≥ 0: mean, std and CI scale, CV and n do not (no CV of zeros); a null figure keeps its reason. */
const scaled = (f: Figure, k: number, unit: Unit): Figure => ({
  unit, reason: f.reason,
  stats: f.stats && { n: f.stats.n, mean: f.stats.mean * k, std: f.stats.std === null ? null : f.stats.std * k, ci95: f.stats.ci95 === null ? null : f.stats.ci95 * k, cv: k === 0 ? null : f.stats.cv },
});

/** What a CO2e figure's source figure is multiplied by: gCO2e = kWh × gCO2e/kWh. */
export const co2eFactor = (key: Co2eKey, grid: GridIntensity): number => grid.gco2ePerKwh / CO2E_METRICS[key].perKwh;

/** gCO2e = kWh × gCO2e/kWh, per request and per million output tokens. */
export function co2eFigures(figures: Record<MetricKey, Figure>, grid: GridIntensity): Record<Co2eKey, Figure> {
  return Object.fromEntries(CO2E_KEYS.map((k) => [k, scaled(figures[CO2E_METRICS[k].from], co2eFactor(k, grid), CO2E_METRICS[k].unit)])) as Record<Co2eKey, Figure>;
}

/** groupResults then aggregateGroup: one ConfigAggregate per (config hash, hardware). */
export function aggregateResults(results: readonly ExperimentResult[], namesOf?: (hash: string) => string[] | undefined, grid: GridIntensity | null = null): ConfigAggregate[] {
  return groupResults(results, namesOf).map((g) => aggregateGroup(g, grid));
}
