import { METRICS, cycleNumbers, type MetricKey, type ResultGroup } from "./aggregate.js";
import { welch, type WelchResult } from "./stats.js";

// `lem compare`: per config measured on the same hardware in both stores, whether each metric
// changed, by Welch's t-test over cycles, and whether the change is a regression worth failing CI.

/** The metrics compare looks at, in table order. */
export const COMPARE_METRICS = ["energy_per_token_j", "output_tokens_per_s", "ttft_p50_ms", "itl_p50_ms"] as const satisfies readonly MetricKey[];
export type CompareMetric = (typeof COMPARE_METRICS)[number];
/** Short names for flags (--min-effect energy=3%, --gate energy,throughput). */
export const METRIC_ALIASES: Record<string, CompareMetric> = {
  energy: "energy_per_token_j", throughput: "output_tokens_per_s", ttft: "ttft_p50_ms", itl: "itl_p50_ms",
};

export interface CompareOptions {
  /** Significance level of the t-test; the interval of the difference is at 1 − alpha. */
  alpha: number;
  /** Smallest relative change (0.05 = 5 %) that counts, per metric. */
  minEffect: Record<CompareMetric, number>;
  /** Metrics whose regression fails the comparison. */
  gate: CompareMetric[];
  /** Cycles needed on each side (≥ 2: the t-test needs a variance). */
  minCycles: number;
}

export const DEFAULT_OPTIONS: CompareOptions = {
  alpha: 0.05,
  minEffect: Object.fromEntries(COMPARE_METRICS.map((m) => [m, 0.05])) as Record<CompareMetric, number>,
  gate: [...COMPARE_METRICS],
  minCycles: 2,
};

export type Verdict = "regressed" | "improved" | "below min effect" | "no significant change" | "not measured";

export interface MetricComparison {
  metric: CompareMetric;
  unit: string;
  better: "lower" | "higher";
  test: WelchResult | null;
  /** diff / base mean; null when not measured or base mean is 0. */
  change: number | null;
  /** The interval of the difference relative to the base mean (the base mean taken as exact). */
  changeCi: [number, number] | null;
  minEffect: number;
  gated: boolean;
  verdict: Verdict;
  /** Why a metric is not measured (e.g. no energy counter). */
  reason: string | null;
}

export interface ConfigComparison {
  hash: string;
  name: string;
  hardware: string;
  baseCycles: number;
  currentCycles: number;
  status: "compared" | "not enough cycles";
  metrics: MetricComparison[];
  /** Gated metrics that regressed. */
  regressions: CompareMetric[];
}

export interface Unmatched { hash: string; name: string; hardware: string[] }

export interface Comparison {
  options: CompareOptions;
  configs: ConfigComparison[];
  onlyInBase: Unmatched[];
  onlyInCurrent: Unmatched[];
  /** In both stores, but never on the same hardware: nothing to compare. */
  otherHardware: { hash: string; name: string; base: string[]; current: string[] }[];
  regressed: boolean;
}

function compareMetric(metric: CompareMetric, base: ResultGroup, current: ResultGroup, options: CompareOptions): MetricComparison {
  const spec = METRICS[metric];
  const minEffect = options.minEffect[metric];
  const gated = options.gate.includes(metric);
  const common = { metric, unit: spec.unit, better: spec.better, minEffect, gated };
  const b = cycleNumbers(base, metric), c = cycleNumbers(current, metric);
  const test = welch(b, c, 1 - options.alpha);
  if (test === null) {
    const reason = [...base.values[metric], ...current.values[metric]].find((v) => v.value === null)?.reason ?? "fewer than 2 values";
    return { ...common, test: null, change: null, changeCi: null, verdict: "not measured", reason };
  }
  const scale = Math.abs(test.meanBase);
  const change = scale === 0 ? null : test.diff / scale;
  const changeCi: [number, number] | null = scale === 0 ? null : [test.ci[0] / scale, test.ci[1] / scale];
  // A regression is a significant change in the worse direction at least as large as the minimum effect.
  const worse = spec.better === "lower" ? test.diff > 0 : test.diff < 0;
  const large = change === null ? test.diff !== 0 : Math.abs(change) >= minEffect;
  const verdict: Verdict = test.p >= options.alpha ? "no significant change" : !large ? "below min effect" : worse ? "regressed" : "improved";
  return { ...common, test, change, changeCi, verdict, reason: null };
}

/** Pairs groups by (hash, hardware) and compares each metric; pure. */
export function compareGroups(base: readonly ResultGroup[], current: readonly ResultGroup[], options: CompareOptions = DEFAULT_OPTIONS): Comparison {
  const key = (g: ResultGroup) => `${g.hash}\u0000${g.hardware}`;
  const baseBy = new Map(base.map((g) => [key(g), g]));
  const currentBy = new Map(current.map((g) => [key(g), g]));
  const hashes = (gs: readonly ResultGroup[]) => new Map(gs.map((g) => [g.hash, g]));
  const baseHashes = hashes(base), currentHashes = hashes(current);
  const hardwareOf = (gs: readonly ResultGroup[], hash: string) => gs.filter((g) => g.hash === hash).map((g) => g.hardware);

  const configs: ConfigComparison[] = [];
  for (const cur of current) {
    const b = baseBy.get(key(cur));
    if (!b) continue;
    const enough = b.cycles.length >= options.minCycles && cur.cycles.length >= options.minCycles;
    const metrics = enough ? COMPARE_METRICS.map((m) => compareMetric(m, b, cur, options)) : [];
    configs.push({
      hash: cur.hash, name: cur.names[0], hardware: cur.hardware, baseCycles: b.cycles.length, currentCycles: cur.cycles.length,
      status: enough ? "compared" : "not enough cycles", metrics,
      regressions: metrics.filter((m) => m.gated && m.verdict === "regressed").map((m) => m.metric),
    });
  }
  const onlyIn = (mine: Map<string, ResultGroup>, other: Map<string, ResultGroup>, gs: readonly ResultGroup[]): Unmatched[] =>
    [...mine.values()].filter((g) => !other.has(g.hash)).map((g) => ({ hash: g.hash, name: g.names[0], hardware: hardwareOf(gs, g.hash) }));
  const otherHardware = [...currentHashes.values()]
    .filter((g) => baseHashes.has(g.hash) && !current.some((c) => c.hash === g.hash && baseBy.has(key(c))))
    .map((g) => ({ hash: g.hash, name: g.names[0], base: hardwareOf(base, g.hash), current: hardwareOf(current, g.hash) }));
  return {
    options, configs, otherHardware,
    onlyInBase: onlyIn(baseHashes, currentHashes, base),
    onlyInCurrent: onlyIn(currentHashes, baseHashes, current),
    regressed: configs.some((c) => c.regressions.length > 0),
  };
}
