/** Mean, sample standard deviation, 95% confidence half-width (t-distribution) and CV of a series. */
export interface Aggregate { n: number; mean: number; std: number | null; ci95: number | null; cv: number | null }

// Two-sided 95% t critical values for 1..30 degrees of freedom; 1.96 beyond.
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function aggregate(values: (number | null | undefined)[]): Aggregate | null {
  const xs = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (xs.length === 0) return null;
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, std: null, ci95: null, cv: null };
  const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const t = T95[n - 2] ?? 1.96;
  return { n, mean, std, ci95: (t * std) / Math.sqrt(n), cv: mean !== 0 ? std / Math.abs(mean) : null };
}
