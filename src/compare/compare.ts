import { METRICS, cycleNumbers, type MetricKey, type ResultGroup } from "../report/aggregate.js";
import { detectable, welch, type WelchResult } from "./stats.js";
import { stackDifferences, type StackDifference } from "../report/software-stack.js";

// `lem compare`: per config measured on the same hardware in both stores, whether each metric
// changed, by Welch's t-test over cycles, and whether the change is a regression worth failing CI.

/** The metrics compare looks at, in table order, and gates by default. */
export const COMPARE_METRICS = ["energy_per_token_j", "output_tokens_per_s", "ttft_p50_ms", "itl_p50_ms"] as const satisfies readonly MetricKey[];
/** Serving figures, compared where --gate names them (goodput needs --slo): an offline gate never waits on them. */
export const SERVING_COMPARE_METRICS = ["energy_per_request_j", "goodput_rps"] as const satisfies readonly MetricKey[];
export const GATEABLE_METRICS = [...COMPARE_METRICS, ...SERVING_COMPARE_METRICS] as const;
export type CompareMetric = (typeof GATEABLE_METRICS)[number];
/** Short names for flags (--min-effect energy=3%, --gate energy,throughput). */
export const METRIC_ALIASES: Record<string, CompareMetric> = {
  energy: "energy_per_token_j", throughput: "output_tokens_per_s", ttft: "ttft_p50_ms", itl: "itl_p50_ms",
  request: "energy_per_request_j", goodput: "goodput_rps",
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
  /** A gated metric that is not measured (or a config with too few cycles) does not fail the gate. */
  allowUnmeasured: boolean;
}

export const DEFAULT_OPTIONS: CompareOptions = {
  alpha: 0.05,
  minEffect: Object.fromEntries(GATEABLE_METRICS.map((m) => [m, 0.05])) as Record<CompareMetric, number>,
  gate: [...COMPARE_METRICS],
  minCycles: 2,
  allowUnmeasured: false,
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
  /** Not measured because a stored value is impossible (negative, not finite): worth a warning. */
  invalid?: true;
  /**
   * The smallest relative change these cycles detect (80 % power at alpha), and the cycles per side
   * that the minimum effect needs (null past 10,000); absent where nothing varies or the base mean is 0.
   */
  detectable?: { change: number; cyclesForMinEffect: number | null };
}

/** A gated figure the gate could not check: the metric on one side, or a whole config short of cycles. */
export interface Unchecked { hash: string; name: string; hardware: string; metric: CompareMetric | "all"; reason: string }

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
  /** Where one side's cycles ran on different software (runner, image, library versions): said in a note. */
  mixedStack: { base: StackDifference[]; current: StackDifference[] };
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
  /** Gated figures not checked: unless --allow-unmeasured, the gate did not pass (exit 3). */
  unchecked: Unchecked[];
  /** Why the gate checked nothing at all, if so (no config in common). */
  nothingCompared: string | null;
  /** Impossible stored values, one line each (config, hardware, what): the CLI prints them as warnings. */
  warnings: string[];
}

function compareMetric(metric: CompareMetric, base: ResultGroup, current: ResultGroup, options: CompareOptions): MetricComparison {
  const spec = METRICS[metric];
  const minEffect = options.minEffect[metric];
  const gated = options.gate.includes(metric);
  const common = { metric, unit: spec.unit, better: spec.better, minEffect, gated };
  const b = cycleNumbers(base, metric), c = cycleNumbers(current, metric);
  const unphysical = unphysicalValue(metric, base, current);
  if (unphysical) return { ...common, test: null, change: null, changeCi: null, verdict: "not measured", reason: unphysical, invalid: true };
  // Welch on values scaled by a power of two near the largest: sums and squares of figures near
  // 1e308 would overflow to Infinity and NaN; the ratios below are scale-free, the means exact.
  const unit = powerOfTwoScale([...b, ...c]);
  const scaled = welch(b.map((x) => x / unit), c.map((x) => x / unit), 1 - options.alpha);
  if (scaled === null) {
    const reason = [...base.values[metric], ...current.values[metric]].find((v) => v.value === null)?.reason ?? "fewer than 2 values";
    return { ...common, test: null, change: null, changeCi: null, verdict: "not measured", reason };
  }
  const test = rescale(scaled, unit);
  const scale = Math.abs(scaled.meanBase);
  const ratio = (x: number) => (Number.isFinite(x / scale) ? x / scale : null);
  const change = scale === 0 ? null : ratio(scaled.diff);
  const ci = [ratio(scaled.ci[0]), ratio(scaled.ci[1])];
  const changeCi: [number, number] | null = scale === 0 || ci[0] === null || ci[1] === null ? null : [ci[0], ci[1]];
  // A regression is a significant change in the worse direction at least as large as the minimum effect.
  const worse = spec.better === "lower" ? test.diff > 0 : test.diff < 0;
  const large = change === null ? test.diff !== 0 : Math.abs(change) >= minEffect;
  const verdict: Verdict = test.p >= options.alpha ? "no significant change" : !large ? "below min effect" : worse ? "regressed" : "improved";
  const power = detectable(b.map((x) => x / unit), c.map((x) => x / unit), options.alpha);
  const detect = power && scale > 0 ? { change: power.smallest / scale, cyclesForMinEffect: power.cyclesFor(minEffect * scale) } : undefined;
  return { ...common, test, change, changeCi, verdict, reason: null, ...(detect ? { detectable: detect } : {}) };
}

/**
 * Every compared metric is a rate, a duration or energy per token: never negative. A negative or
 * non-finite cycle value is a broken measurement, not an improvement; the metric is not measured.
 */
function unphysicalValue(metric: CompareMetric, base: ResultGroup, current: ResultGroup): string | null {
  for (const [side, group] of [["base", base], ["current", current]] as const) {
    const at = group.values[metric].findIndex((v) => v.value !== null && !(Number.isFinite(v.value) && v.value >= 0));
    if (at >= 0) {
      const value = group.values[metric][at].value!;
      return `${metric} ${value} in ${side} cycle ${group.cycles[at]} is ${Number.isFinite(value) ? "negative" : "not a finite number"}: not a physical value (check that result)`;
    }
  }
  return null;
}

/** A power of two near the largest magnitude (1 for none or all zero): dividing by it is exact. */
function powerOfTwoScale(xs: number[]): number {
  const max = Math.max(0, ...xs.map(Math.abs));
  return max > 0 && Number.isFinite(max) ? 2 ** Math.floor(Math.log2(max)) : 1;
}

/** A scaled test's figures in the metric's own unit; t, p and df do not depend on the scale. */
function rescale(t: WelchResult, unit: number): WelchResult {
  return { ...t, meanBase: t.meanBase * unit, meanCurrent: t.meanCurrent * unit, diff: t.diff * unit, se: t.se * unit, ci: [t.ci[0] * unit, t.ci[1] * unit] };
}

/** Pairs groups by (hash, hardware) and compares each metric; pure. */
export function compareGroups(base: readonly ResultGroup[], current: readonly ResultGroup[], options: CompareOptions = DEFAULT_OPTIONS): Comparison {
  const key = (g: ResultGroup) => `${g.hash}\u0000${g.hardware}`;
  const baseBy = new Map(base.map((g) => [key(g), g]));
  const hashes = (gs: readonly ResultGroup[]) => new Map(gs.map((g) => [g.hash, g]));
  const baseHashes = hashes(base), currentHashes = hashes(current);
  const hardwareOf = (gs: readonly ResultGroup[], hash: string) => gs.filter((g) => g.hash === hash).map((g) => g.hardware);

  const configs: ConfigComparison[] = [];
  for (const cur of current) {
    const b = baseBy.get(key(cur));
    if (!b) continue;
    const enough = b.cycles.length >= options.minCycles && cur.cycles.length >= options.minCycles;
    const compared = [...COMPARE_METRICS, ...SERVING_COMPARE_METRICS.filter((m) => options.gate.includes(m))];
    const metrics = enough ? compared.map((m) => compareMetric(m, b, cur, options)) : [];
    configs.push({
      hash: cur.hash, name: cur.names[0], hardware: cur.hardware, baseCycles: b.cycles.length, currentCycles: cur.cycles.length,
      status: enough ? "compared" : "not enough cycles", metrics,
      regressions: metrics.filter((m) => m.gated && m.verdict === "regressed").map((m) => m.metric),
      mixedStack: { base: stackDifferences(b.results), current: stackDifferences(cur.results) },
    });
  }
  const onlyIn = (mine: Map<string, ResultGroup>, other: Map<string, ResultGroup>, gs: readonly ResultGroup[]): Unmatched[] =>
    [...mine.values()].filter((g) => !other.has(g.hash)).map((g) => ({ hash: g.hash, name: g.names[0], hardware: hardwareOf(gs, g.hash) }));
  const otherHardware = [...currentHashes.values()]
    .filter((g) => baseHashes.has(g.hash) && !current.some((c) => c.hash === g.hash && baseBy.has(key(c))))
    .map((g) => ({ hash: g.hash, name: g.names[0], base: hardwareOf(base, g.hash), current: hardwareOf(current, g.hash) }));
  const unchecked: Unchecked[] = options.gate.length === 0 ? [] : configs.flatMap((c): Unchecked[] => c.status === "not enough cycles"
    ? [{ hash: c.hash, name: c.name, hardware: c.hardware, metric: "all" as const,
      reason: `not enough cycles (base ${c.baseCycles}, current ${c.currentCycles}; need ${options.minCycles} each)` }]
    : c.metrics.filter((m) => m.gated && m.verdict === "not measured").map((m) => ({ hash: c.hash, name: c.name, hardware: c.hardware, metric: m.metric, reason: m.reason ?? "not measured" })));
  const nothingCompared = options.gate.length > 0 && configs.length === 0 ? "no config was measured on the same hardware in both stores" : null;
  return {
    options, configs, otherHardware, unchecked, nothingCompared,
    onlyInBase: onlyIn(baseHashes, currentHashes, base),
    onlyInCurrent: onlyIn(currentHashes, baseHashes, current),
    regressed: configs.some((c) => c.regressions.length > 0),
    warnings: configs.flatMap((c) => c.metrics.filter((m) => m.invalid).map((m) => `${c.name} (${c.hash}) on ${c.hardware}: ${m.reason}`)),
  };
}

/**
 * The gate's outcome: 1 a gated metric regressed; 3 a gated figure was not measured, or nothing was
 * compared, so the gate checked nothing there (unless --allow-unmeasured); 0 it passed.
 */
export function gateExit(c: Comparison): 0 | 1 | 3 {
  if (c.regressed) return 1;
  if (c.options.allowUnmeasured) return 0;
  return c.unchecked.length > 0 || c.nothingCompared ? 3 : 0;
}
