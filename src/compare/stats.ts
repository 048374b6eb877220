import jStat from "jstat";

/** Welch's unequal-variance t-test of current − base, with the confidence interval of that difference. */
export interface WelchResult {
  nBase: number;
  nCurrent: number;
  meanBase: number;
  meanCurrent: number;
  /** meanCurrent − meanBase */
  diff: number;
  /** Standard error of the difference; 0 when both series are constant. */
  se: number;
  /** Welch–Satterthwaite degrees of freedom; null when se is 0. */
  df: number | null;
  t: number | null;
  /** Two-sided p-value. */
  p: number;
  /** Two-sided interval of the difference at `confidence`. */
  ci: [number, number];
  confidence: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: readonly number[], m: number) => xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);

/**
 * Welch's t-test over per-cycle values (scipy.stats.ttest_ind(current, base, equal_var=False)).
 * Needs two values on each side; null otherwise. Two constant series give se 0: p is 1 when the
 * means are equal and 0 when they differ (scipy gives NaN there; a gate needs a decision).
 */
export function welch(base: readonly number[], current: readonly number[], confidence = 0.95): WelchResult | null {
  if (base.length < 2 || current.length < 2) return null;
  const mb = mean(base), mc = mean(current);
  const qb = variance(base, mb) / base.length, qc = variance(current, mc) / current.length;
  const se = Math.sqrt(qb + qc);
  const diff = mc - mb;
  const common = { nBase: base.length, nCurrent: current.length, meanBase: mb, meanCurrent: mc, diff, se, confidence };
  if (se === 0) return { ...common, df: null, t: null, p: diff === 0 ? 1 : 0, ci: [diff, diff] };
  const df = (qb + qc) ** 2 / (qb ** 2 / (base.length - 1) + qc ** 2 / (current.length - 1));
  const t = diff / se;
  const p = Math.min(1, 2 * (1 - jStat.studentt.cdf(Math.abs(t), df)));
  const half = jStat.studentt.inv(1 - (1 - confidence) / 2, df) * se;
  return { ...common, df, t, p, ci: [diff - half, diff + half] };
}

/** Power of the test a minimum detectable change is quoted at: the usual 80 %. */
export const POWER = 0.8;

/** Cycles per side past which lem stops counting: "more than this" is answer enough. */
const MAX_CYCLES = 10_000;

/**
 * What these cycles could detect: the smallest difference of means that Welch's test at `alpha`
 * finds with 80 % power, (t(1 − alpha/2, df) + t(power, df)) · se; and, for a wanted difference,
 * the cycles per side (equal on both) that the same per-cycle variances need for it (null past
 * 10,000). Null where the series are constant (se 0): any change is then detected.
 */
export function detectable(base: readonly number[], current: readonly number[], alpha: number):
  { smallest: number; cyclesFor: (difference: number) => number | null } | null {
  if (base.length < 2 || current.length < 2) return null;
  const vb = variance(base, mean(base)), vc = variance(current, mean(current));
  const at = (nb: number, nc: number) => {
    const qb = vb / nb, qc = vc / nc;
    const se = Math.sqrt(qb + qc);
    const df = (qb + qc) ** 2 / (qb ** 2 / (nb - 1) + qc ** 2 / (nc - 1));
    return (jStat.studentt.inv(1 - alpha / 2, df) + jStat.studentt.inv(POWER, df)) * se;
  };
  if (vb + vc === 0) return null;
  return {
    smallest: at(base.length, current.length),
    cyclesFor: (difference: number) => {
      for (let n = 2; n <= MAX_CYCLES; n++) if (at(n, n) <= Math.abs(difference)) return n;
      return null;
    },
  };
}
