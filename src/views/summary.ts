import { aggregate, aggregateResults, type Aggregate } from "../report/aggregate.js";
import { describeFlag } from "../report/measurement-flags.js";
import type { ExperimentResult } from "../store/result.js";

export interface SummaryRow {
  name: string;
  hash: string;
  cycles: number;
  tokensPerSecond: Aggregate | null;
  ttftP50Ms: Aggregate | null;
  itlP50Ms: Aggregate | null;
  joulesPerToken: Aggregate | null;
  energyNote: string | null;
  peakMemoryBytes: number | null;
  /** lem's own flags (short window, high CV, mixed software stacks), as text. */
  flags: string[];
}

/** One row per experiment over its stored cycles (on the given hardware). */
export function summarize(name: string, hash: string, results: ExperimentResult[]): SummaryRow {
  const peaks = results.map((r) => r.memory.peak_bytes).filter((v): v is number => v !== null);
  const unmeasured = results.find((r) => r.energy.total_j === null);
  const [agg] = aggregateResults(results);
  return {
    name, hash, cycles: results.length,
    tokensPerSecond: aggregate(results.map((r) => r.throughput.output_tokens_per_s)),
    ttftP50Ms: aggregate(results.map((r) => r.latency.ttft_ms.p50)),
    itlP50Ms: aggregate(results.map((r) => r.latency.itl_ms.p50)),
    joulesPerToken: aggregate(results.map((r) => r.energy.per_output_token_j)),
    energyNote: unmeasured?.energy.reason ?? null,
    peakMemoryBytes: peaks.length ? Math.max(...peaks) : null,
    flags: agg ? agg.measurementFlags.map(describeFlag) : [],
  };
}

const fmt = (a: Aggregate | null, digits: number) =>
  a === null ? "n/a" : a.ci95 === null ? a.mean.toFixed(digits) : `${a.mean.toFixed(digits)} ±${a.ci95.toFixed(digits)}`;

/** A plain-text table; ± is the 95% confidence half-width over cycles. */
export function renderSummary(rows: SummaryRow[]): string {
  if (rows.length === 0) return "";
  // Where no row has energy, the column would be n/a on every row: the reason below says it once.
  const energy = rows.some((r) => r.joulesPerToken !== null);
  const header = ["experiment", "cycles", "out tok/s", "TTFT p50 ms", "ITL p50 ms", ...(energy ? ["J/token"] : []), "peak MiB"];
  const body = rows.map((r) => [
    r.name, String(r.cycles), fmt(r.tokensPerSecond, 1), fmt(r.ttftP50Ms, 1), fmt(r.itlP50Ms, 2),
    ...(energy ? [fmt(r.joulesPerToken, 4)] : []), r.peakMemoryBytes === null ? "n/a" : (r.peakMemoryBytes / 2 ** 20).toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const notes = [...new Set(rows.map((r) => r.energyNote).filter(Boolean))].map((n) => `energy ${energy ? "n/a" : "not measured"}: ${n}`);
  const flags = rows.filter((r) => r.flags.length).map((r) => `${r.name}: ${r.flags.join("; ")}`);
  const legend = "± is the 95% confidence half-width (Student t) over the cycles column's n cycles; none where n = 1";
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line), legend, ...notes, ...flags].join("\n");
}
