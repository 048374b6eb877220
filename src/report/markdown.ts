import type { Figure } from "./aggregate.js";
import type { ReportData } from "./report-data.js";

// summary.md: a table per hardware for $GITHUB_STEP_SUMMARY, which refuses more than 1 MiB a step.

export const STEP_SUMMARY_LIMIT = 1024 * 1024;

/**
 * Text inside a Markdown line (a table cell, a list item): one line, so it can never start a
 * heading or a list, and no HTML, entity, emphasis, code or link (a backslash makes each literal).
 */
export const markdownText = (s: string) =>
  s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").replace(/[\\`*_{}[\]()!|<>~&]/g, "\\$&");

const md = markdownText;
const fig = (f: Figure, digits: number) =>
  f.stats === null ? "n/a" : f.stats.ci95 === null ? f.stats.mean.toFixed(digits) : `${f.stats.mean.toFixed(digits)} ± ${f.stats.ci95.toFixed(digits)}`;

/** One table per hardware, best energy per token first; rows past `limit` bytes are left out and counted. */
export function renderMarkdown(data: ReportData, limit = STEP_SUMMARY_LIMIT - 4096): string {
  const out = ["## lem report", "", "± is the 95 % confidence interval of the mean (Student t over the cycles); n/a: not measured (reason below the table).", ""];
  let size = out.join("\n").length;
  for (const s of data.sections) {
    const head = [`### ${md(s.hardware)}`, "", "| experiment | hash | cycles | J/token | J/token (baseline-adj.) | out tok/s | TTFT p50 ms | ITL p50 ms | ITL p99 ms | avg W | peak MiB | flags |",
      "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"];
    out.push(...head);
    size += head.join("\n").length;
    const sorted = [...s.configs].sort((a, b) => (a.figures.energy_per_token_j.stats?.mean ?? Infinity) - (b.figures.energy_per_token_j.stats?.mean ?? Infinity));
    let shown = 0;
    for (const c of sorted) {
      const f = c.figures;
      const mem = f.peak_memory_bytes.stats ? (f.peak_memory_bytes.stats.mean / 2 ** 20).toFixed(0) : "n/a";
      const line = `| ${md(c.names[0])} | \`${c.hash}\` | ${c.cycles} | ${fig(f.energy_per_token_j, 4)} | ${fig(f.energy_per_token_adjusted_j, 4)} | ${fig(f.output_tokens_per_s, 1)} | ${fig(f.ttft_p50_ms, 1)} | ${fig(f.itl_p50_ms, 2)} | ${fig(f.itl_p99_ms, 2)} | ${fig(f.avg_power_w, 1)} | ${mem} | ${c.qualityFlags.map((q) => md(q.flag)).join(", ")} |`;
      if (size + line.length + 1 > limit) break;
      out.push(line);
      size += line.length + 1;
      shown++;
    }
    if (shown < sorted.length) out.push("", `${sorted.length - shown} more configs left out to fit the step summary: see results.csv.`);
    const reasons = [...new Set(s.configs.flatMap((c) => [c.figures.energy_per_token_j.reason, c.figures.energy_per_token_adjusted_j.reason]).filter(Boolean))];
    if (reasons.length) out.push("", ...reasons.slice(0, 5).map((r) => `- n/a: ${md(r!)}`));
    out.push("");
  }
  if (data.sections.length === 0) out.push("No results stored for the selected experiments.");
  return `${out.join("\n")}\n`;
}
