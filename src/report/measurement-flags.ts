import type { Figure, MetricKey } from "./metrics.js";
import { describeStackDifferences, type StackDifference } from "./software-stack.js";

// Flags lem raises from the cycles themselves, so they hold where energy is not measured: the
// harness flags a short window only when it has an energy counter to read over it, and no single
// cycle can see that the others ran on different software.

/** A measurement window under 10 s is flagged `short window` (README "Reports"). The harness's SHORT_WINDOW_S; a test ties the two. */
export const SHORT_WINDOW_S = 10;

/**
 * Cycle-to-cycle CV above which a figure is flagged. At 10 % with 3 cycles the CI95 is about ±25 %
 * of the mean (t = 4.3), wider than most effects a sweep looks for.
 */
export const HIGH_CV = 0.1;

/** Figures whose spread over cycles is checked; energy only counts where it was measured. */
export const CV_METRICS = ["output_tokens_per_s", "ttft_p50_ms", "itl_p50_ms", "energy_per_token_j"] as const satisfies readonly MetricKey[];

export type MeasurementFlag =
  | { kind: "short_window"; shortestS: number; cycles: number; of: number }
  | { kind: "high_cv"; metric: MetricKey; label: string; cv: number }
  /** The cycles ran on different software (runner, image, torch, transformers, vLLM): averaged, but not alike. */
  | { kind: "mixed_stack"; differences: StackDifference[] };

/** The harness's flag that short_window supersedes (it says the same, and only when energy exists). */
export const SUPERSEDED_HARNESS_FLAG = "energy_window_under_10s";

/** Flags for one config from its cycles' window lengths (s), its aggregated figures and where its cycles' stacks differ. */
export function measurementFlags(windowsS: readonly number[], figures: Record<MetricKey, Figure>, labels: Record<MetricKey, string>, stack: readonly StackDifference[] = []): MeasurementFlag[] {
  const flags: MeasurementFlag[] = [];
  const short = windowsS.filter((w) => Number.isFinite(w) && w < SHORT_WINDOW_S);
  if (short.length) flags.push({ kind: "short_window", shortestS: Math.min(...short), cycles: short.length, of: windowsS.length });
  for (const metric of CV_METRICS) {
    const cv = figures[metric].stats?.cv;
    if (cv != null && cv > HIGH_CV) flags.push({ kind: "high_cv", metric, label: labels[metric], cv });
  }
  if (stack.length) flags.push({ kind: "mixed_stack", differences: [...stack] });
  return flags;
}

const seconds = (s: number) => (s >= 1 ? `${s.toFixed(1)} s` : `${(s * 1000).toPrecision(2)} ms`);

/** One line of plain text; each writer escapes it for where it lands. */
export function describeFlag(f: MeasurementFlag): string {
  switch (f.kind) {
    case "short_window": return `short window: ${seconds(f.shortestS)} < ${SHORT_WINDOW_S} s (${f.cycles} of ${f.of} cycles)`;
    case "high_cv": return `high CV: ${f.label} ${(f.cv * 100).toFixed(0)} % > ${HIGH_CV * 100} %`;
    case "mixed_stack": return `mixed software stacks: ${describeStackDifferences(f.differences)}`;
  }
}
