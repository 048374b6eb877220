import { aggregateGroup, baselinePowerOf, combinedScopeOf, energyScopeOf, groupResults, METRIC_KEYS, METRICS, windowOf, type ConfigAggregate, type CycleValue, type GridIntensity, type MetricKey, type ResultGroup } from "./aggregate.js";
import { flattenConfig, sweepDimensions, type Dimension, type DimensionValue } from "./dimensions.js";
import type { ExperimentResult } from "../store/result.js";
import type { Slo } from "./slo.js";

// What report.html, results.csv, cycles.csv/.parquet and summary.md show, computed once: per
// hardware, one row per config with every figure and its cycles, the sweep dimensions and the
// Pareto fronts; timelines downsampled.

/** Total power samples kept in one report, shared by all its timelines (the ≤ 5 MB budget). */
export const TIMELINE_POINT_BUDGET = 150_000;
const TIMELINE_MIN = 20;
const TIMELINE_MAX = 600;

export interface ReportDimension extends Dimension {
  /** Field name in chart rows (Vega reads dots as nesting). */
  field: string;
}

export interface Timeline {
  hash: string;
  name: string;
  baselineW: number | null;
  /** [cycle, seconds since start, watts], downsampled (bucket means). */
  points: [number, number, number][];
  /** Samples stored before downsampling. */
  samples: number;
}

/** One stored cycle of one config: each figure's value or why it has none. */
export interface CycleRecord {
  cycle: number;
  values: Record<MetricKey, CycleValue>;
  baselinePowerW: CycleValue;
  windowS: CycleValue;
  energyStatus: ExperimentResult["energy"]["status"];
  energyScope: string | null;
  combinedScope: string | null;
  qualityFlags: string[];
}

export interface HardwareSection {
  hardware: string;
  configs: ConfigAggregate[];
  /** Each config's cycles, in cycle order (same order as configs). */
  cycles: CycleRecord[][];
  dimensions: ReportDimension[];
  /** dimension field → value, per config (same order as configs). */
  dimensionValues: Record<string, DimensionValue>[];
  /** Per scatter chart, the hashes on its Pareto front. */
  fronts: Record<ScatterId, Set<string>>;
  /** Figures that at least one config of this hardware has: only these are charted and tabled. */
  measured: Set<MetricKey>;
  /** Why energy per token is missing here, once per reason (empty where every config has it). */
  energyMissing: MissingEnergy[];
  timelines: Timeline[];
}

export interface ReportData {
  generatedAt: string;
  sections: HardwareSection[];
  /** Points per timeline at most, after downsampling (the page says so). */
  timelinePointsMax: number;
  downsampled: boolean;
  /** The grid intensity the user gave for CO2e, with its source; null: no CO2e anywhere in the report. */
  grid: GridIntensity | null;
  /** The SLOs the user gave (--slo) for goodput and the ranking; null: none. */
  slo: Slo | null;
}

const fieldOf = (key: string) => `dim_${key.replace(/[^A-Za-z0-9_]/g, "_")}`;

/**
 * Configs that no other beats on both axes: lower y (higher where `yHigherIsBetter`), and lower x
 * (higher where `xHigherIsBetter`). Points lacking either figure are not on the front.
 */
export function paretoFront(points: readonly { id: string; x: number | null; y: number | null }[], xHigherIsBetter = false, yHigherIsBetter = false): Set<string> {
  // Flip the signs so that lower is better on both axes.
  const usable = points.filter((p): p is { id: string; x: number; y: number } => p.x !== null && p.y !== null)
    .map((p) => ({ id: p.id, x: xHigherIsBetter ? -p.x : p.x, y: yHigherIsBetter ? -p.y : p.y }));
  usable.sort((a, b) => a.x - b.x || a.y - b.y);
  const front = new Set<string>();
  let best = Infinity;
  for (const p of usable) if (p.y < best) { front.add(p.id); best = p.y; }
  return front;
}

/** The scatter charts of a section, y against x, each with its Pareto front (by each metric's `better`). */
export const SCATTERS = [
  { id: "energy-itl", x: "itl_p50_ms", y: "energy_per_token_j" },
  { id: "energy-tps", x: "output_tokens_per_s", y: "energy_per_token_j" },
  { id: "tps-ttft", x: "ttft_p50_ms", y: "output_tokens_per_s" },
  { id: "tps-itl", x: "itl_p50_ms", y: "output_tokens_per_s" },
  // Serving: the energy a token costs against the latency a user sees (ML.ENERGY's trade-off).
  { id: "energy-tpot", x: "tpot_p90_ms", y: "energy_per_token_j" },
] as const satisfies readonly { id: string; x: MetricKey; y: MetricKey }[];
export type ScatterId = (typeof SCATTERS)[number]["id"];

/** Energy figures share the result's energy.reason: where none was measured, the report says why once. */
export const ENERGY_METRICS = ["energy_per_token_j", "energy_per_token_adjusted_j", "energy_per_request_j", "energy_per_input_token_j",
  "energy_per_total_token_j", "kwh_per_million_output_tokens", "energy_total_j", "avg_power_w", "peak_power_w"] as const satisfies readonly MetricKey[];

/** Configs of one hardware without energy per token, per distinct reason. */
export interface MissingEnergy { hardware: string; reason: string; configs: number; of: number }

/** Bucket means down to at most `max` points per cycle, in time order. */
export function downsample(samples: readonly (number | null)[][], max: number): [number, number][] {
  const clean = samples.filter((s) => typeof s[0] === "number" && typeof s[1] === "number") as [number, number][];
  if (clean.length <= max) return clean.map(([t, w]) => [t, w]);
  const out: [number, number][] = [];
  for (let b = 0; b < max; b++) {
    const from = Math.floor((b * clean.length) / max);
    const to = Math.floor(((b + 1) * clean.length) / max);
    let t = 0, w = 0;
    for (let i = from; i < to; i++) { t += clean[i][0]; w += clean[i][1]; }
    out.push([t / (to - from), w / (to - from)]);
  }
  return out;
}

const mean = (g: ConfigAggregate, key: MetricKey) => g.figures[key].stats?.mean ?? null;

function missingEnergy(hardware: string, configs: readonly ConfigAggregate[]): MissingEnergy[] {
  const byReason = new Map<string, number>();
  for (const c of configs) {
    const f = c.figures.energy_per_token_j;
    if (f.stats === null) byReason.set(f.reason ?? "energy not measured", (byReason.get(f.reason ?? "energy not measured") ?? 0) + 1);
  }
  return [...byReason].map(([reason, n]) => ({ hardware, reason, configs: n, of: configs.length }));
}

export function buildReportData(results: readonly ExperimentResult[], options: { namesOf?: (hash: string) => string[] | undefined; now?: Date; grid?: GridIntensity | null; slo?: Slo | null } = {}): ReportData {
  const groups = groupResults(results, options.namesOf, options.slo ?? null);
  const byHardware = new Map<string, ResultGroup[]>();
  for (const g of groups) byHardware.set(g.hardware, [...(byHardware.get(g.hardware) ?? []), g]);
  const withTimeline = groups.reduce((n, g) => n + g.results.filter((r) => r.energy.timeline?.length).length, 0);
  const perTimeline = Math.max(TIMELINE_MIN, Math.min(TIMELINE_MAX, Math.floor(TIMELINE_POINT_BUDGET / Math.max(1, withTimeline))));
  let downsampled = false;
  const sections = [...byHardware].map(([hardware, list]): HardwareSection => {
    const configs = list.map((g) => aggregateGroup(g, options.grid ?? null, options.slo ?? null));
    const dims = sweepDimensions(configs.map((c) => c.config)).map((d) => ({ ...d, field: fieldOf(d.key) }));
    const dimensionValues = configs.map((c) => {
      const flat = flattenConfig(c.config);
      return Object.fromEntries(dims.map((d) => [d.field, flat.get(d.key) ?? null]));
    });
    const timelines = list.flatMap((g, i): Timeline[] => {
      const cycles = g.results.filter((r) => r.energy.timeline?.length);
      if (cycles.length === 0) return [];
      const samples = cycles.reduce((n, r) => n + r.energy.timeline!.length, 0);
      if (cycles.some((r) => r.energy.timeline!.length > perTimeline)) downsampled = true;
      const points = cycles.flatMap((r) => downsample(r.energy.timeline!, perTimeline).map(([t, w]): [number, number, number] => [r.cycle, t, w]));
      return [{ hash: g.hash, name: g.names[0], baselineW: configs[i].baselinePowerW.stats?.mean ?? null, points, samples }];
    });
    const cycles = list.map((g) => g.results.map((r, j): CycleRecord => ({
      cycle: g.cycles[j], values: Object.fromEntries(METRIC_KEYS.map((k) => [k, g.values[k][j]])) as Record<MetricKey, CycleValue>,
      baselinePowerW: baselinePowerOf(r), windowS: windowOf(r), energyStatus: r.energy.status, energyScope: energyScopeOf(r), combinedScope: combinedScopeOf(r), qualityFlags: r.quality_flags,
    })));
    return {
      hardware, configs, cycles, dimensions: dims, dimensionValues, timelines,
      fronts: Object.fromEntries(SCATTERS.map((sc) => [sc.id, paretoFront(configs.map((c) => ({ id: c.hash, x: mean(c, sc.x), y: mean(c, sc.y) })),
        METRICS[sc.x].better === "higher", METRICS[sc.y].better === "higher")])) as Record<ScatterId, Set<string>>,
      measured: new Set(METRIC_KEYS.filter((k) => configs.some((c) => c.figures[k].stats !== null))),
      energyMissing: missingEnergy(hardware, configs),
    };
  });
  return { generatedAt: (options.now ?? new Date()).toISOString(), sections, timelinePointsMax: perTimeline, downsampled, grid: options.grid ?? null, slo: options.slo ?? null };
}

/** Why energy is missing across the report, each distinct reason once with where it applies. */
export function energyMissingByReason(data: ReportData): { reason: string; where: MissingEnergy[] }[] {
  const byReason = new Map<string, MissingEnergy[]>();
  for (const m of data.sections.flatMap((s) => s.energyMissing)) byReason.set(m.reason, [...(byReason.get(m.reason) ?? []), m]);
  return [...byReason].map(([reason, where]) => ({ reason, where }));
}

/** "cpu:X (4 of 4 configs), gpu:Y (1 of 6 configs)": plain text; each writer escapes it. */
export const missingWhere = (where: readonly MissingEnergy[]) => where.map((m) => `${m.hardware} (${m.configs} of ${m.of} configs)`).join(", ");

/** The sweep dimensions of every section, first seen first: the config.<path> columns of results.csv and cycles.csv. */
export const dimensionKeys = (data: ReportData): string[] => [...new Set(data.sections.flatMap((s) => s.dimensions.map((d) => d.key)))];

/** Config `i` of a section's value of a dimension; null where that section does not vary it. */
export function dimensionValue(s: HardwareSection, i: number, key: string): DimensionValue {
  const d = s.dimensions.find((x) => x.key === key);
  return d ? s.dimensionValues[i][d.field] : null;
}

/** A figure's column header with its unit, e.g. "energy_per_token_j mean [J/token]". */
export const columnHeader = (key: MetricKey, stat: "mean" | "std" | "ci95" | "cv" | "n" | "reason") =>
  stat === "cv" || stat === "n" || stat === "reason" ? `${key} ${stat}` : `${key} ${stat} [${METRICS[key].unit}]`;

export { METRIC_KEYS, METRICS };
