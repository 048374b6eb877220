import jStat from "jstat";
import type { ExperimentConfig } from "../lemfile/types.js";
import type { ExperimentResult } from "../store/result.js";
import type { GridIntensity } from "../config/user-config.js";

export type { GridIntensity };
import { describeFlag, measurementFlags, SUPERSEDED_HARNESS_FLAG, type MeasurementFlag } from "./measurement-flags.js";
import { stackDifferences } from "./software-stack.js";
import { goodputOf, sloAttainment, SLO_ATTAINMENT, type Slo } from "./slo.js";
import { METRICS, METRIC_KEYS, J_PER_KWH, baselinePowerOf, windowOf, energyScopeOf, combinedScopeOf, type Aggregate, type CycleValue, type Figure, type MetricKey, type Unit } from "./metrics.js";

export * from "./metrics.js";

// Aggregation over cycles, per config hash and per hardware (never across hardware: a J/token on
// one GPU says nothing about another). Pure: results in, figures out. The report, the build
// summary and `lem compare` all read figures from here.


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
export function groupResults(results: readonly ExperimentResult[], namesOf: (hash: string) => string[] | undefined = () => undefined, slo: Slo | null = null): ResultGroup[] {
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
      values: Object.fromEntries(METRIC_KEYS.map((k) => [k, sorted.map((r) => (k === "goodput_rps" && slo ? goodputOf(r, slo) : METRICS[k].of(r)))])) as Record<MetricKey, CycleValue[]>,
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
  /** What the headline energy counts over the cycles that have it ("gpu", "cpu"), deduplicated. */
  energyScope: string[];
  /** Every source read beside it, as summed in energy_combined_j ("gpu+cpu+dram"), deduplicated. */
  combinedScope: string[];
  /** Every quality flag seen, with the number of cycles that raised it. */
  qualityFlags: { flag: string; cycles: number }[];
  /** Length of the measurement window over the cycles (measured with or without energy), in s. */
  windowS: Figure;
  /** Flags lem derives from the cycles (short window, high CV, mixed software stacks), energy or not. */
  measurementFlags: MeasurementFlag[];
  /** CO2e figures where the user gave a grid intensity; null otherwise. */
  co2e: Record<Co2eKey, Figure> | null;
  /** Where SLOs were given: the share of this config's requests meeting every one, and whether that reaches SLO_ATTAINMENT. */
  slo: { attainment: number | null; meets: boolean } | null;
}

/** A figure over cycles: null values keep their reason, and a partial figure says how many cycles lack it. */
export function figureOf(unit: Unit, values: readonly CycleValue[]): Figure {
  const stats = aggregate(values.map((v) => v.value));
  const missing = values.filter((v) => v.value === null);
  const reasons = [...new Set(missing.map((v) => v.reason ?? "not recorded"))].join("; ");
  const reason = missing.length === 0 ? null : stats === null ? reasons : `${missing.length} of ${values.length} cycles: ${reasons}`;
  return { unit, stats, reason };
}

const LABELS = Object.fromEntries(METRIC_KEYS.map((k) => [k, METRICS[k].label])) as Record<MetricKey, string>;

export function aggregateGroup(group: ResultGroup, grid: GridIntensity | null = null, slo: Slo | null = null): ConfigAggregate {
  const flags = new Map<string, number>();
  for (const r of group.results) for (const f of new Set(r.quality_flags)) flags.set(f, (flags.get(f) ?? 0) + 1);
  const figures = Object.fromEntries(METRIC_KEYS.map((k) => [k, figureOf(METRICS[k].unit, group.values[k])])) as Record<MetricKey, Figure>;
  return {
    hash: group.hash, hardware: group.hardware, names: group.names, config: group.config, cycles: group.cycles.length,
    figures,
    baselinePowerW: figureOf("W", group.results.map(baselinePowerOf)),
    energyStatus: [...new Set(group.results.map((r) => r.energy.status))],
    energyScope: distinct(group.results.map(energyScopeOf)),
    combinedScope: distinct(group.results.map(combinedScopeOf)),
    qualityFlags: [...flags].sort(([a], [b]) => a.localeCompare(b)).map(([flag, cycles]) => ({ flag, cycles })),
    windowS: figureOf("s", group.results.map(windowOf)),
    measurementFlags: measurementFlags(group.results.map((r) => r.energy.window_s), figures, LABELS, stackDifferences(group.results)),
    co2e: grid ? co2eFigures(figures, grid) : null,
    slo: slo ? attained(sloAttainment(group.results, slo)) : null,
  };
}

const attained = (attainment: number | null) => ({ attainment, meets: attainment !== null && attainment >= SLO_ATTAINMENT });

const distinct = (values: (string | null)[]): string[] => [...new Set(values.filter((v): v is string => v !== null))];

/** Every flag of a config as text: lem's own first, then the harness's with their cycle counts. */
export function flagTexts(c: ConfigAggregate): string[] {
  const short = c.measurementFlags.some((f) => f.kind === "short_window");
  return [
    ...c.measurementFlags.map(describeFlag),
    ...c.qualityFlags.filter((q) => !(short && q.flag === SUPERSEDED_HARNESS_FLAG)).map((q) => `${q.flag} (${q.cycles}/${c.cycles})`),
  ];
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
export function aggregateResults(results: readonly ExperimentResult[], namesOf?: (hash: string) => string[] | undefined, grid: GridIntensity | null = null, slo: Slo | null = null): ConfigAggregate[] {
  return groupResults(results, namesOf, slo).map((g) => aggregateGroup(g, grid, slo));
}
