import { flagTexts, type Co2eKey, type ConfigAggregate, type Figure } from "./aggregate.js";
import { describeSlo, SLO_ATTAINMENT } from "./slo.js";
import { energyMissingByReason, missingWhere, type ReportData } from "./report-data.js";

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

/** Four significant digits, for figures whose scale varies by orders of magnitude (J per request, gCO2e). */
const sig = (x: number) => String(Number(x.toPrecision(4)));
const figSig = (f: Figure | undefined) =>
  !f || f.stats === null ? "n/a" : f.stats.ci95 === null ? sig(f.stats.mean) : `${sig(f.stats.mean)} ± ${sig(f.stats.ci95)}`;
const co2e = (k: Co2eKey) => (c: ConfigAggregate) => figSig(c.co2e?.[k]);

const mib = (c: ConfigAggregate) => (c.figures.peak_memory_bytes.stats ? (c.figures.peak_memory_bytes.stats.mean / 2 ** 20).toFixed(0) : "n/a");

/**
 * A table column: its header, alignment and cell; energy columns are left out where no config has
 * energy, CO2e columns also where no grid intensity was given.
 */
interface Column { head: string; align: string; energy?: true; co2e?: true; phases?: true; serving?: true; slo?: true; cell(c: ConfigAggregate): string }
const COLUMNS: Column[] = [
  { head: "experiment", align: "---", cell: (c) => md(c.names[0]) },
  { head: "hash", align: "---", cell: (c) => `\`${c.hash}\`` },
  { head: "cycles", align: "--:", cell: (c) => String(c.cycles) },
  { head: "energy scope", align: "---", energy: true, cell: (c) => md([c.energyScope.join(", "), ...c.combinedScope.filter((s) => !c.energyScope.includes(s)).map((s) => `all read: ${s}`)].filter(Boolean).join("; ")) },
  { head: "J/token", align: "--:", energy: true, cell: (c) => fig(c.figures.energy_per_token_j, 4) },
  { head: "J/token (baseline-adj.)", align: "--:", energy: true, cell: (c) => fig(c.figures.energy_per_token_adjusted_j, 4) },
  { head: "J/request", align: "--:", energy: true, cell: (c) => figSig(c.figures.energy_per_request_j) },
  { head: "J/input token", align: "--:", energy: true, cell: (c) => figSig(c.figures.energy_per_input_token_j) },
  { head: "J/token (in+out)", align: "--:", energy: true, cell: (c) => figSig(c.figures.energy_per_total_token_j) },
  { head: "prefill J/input token", align: "--:", energy: true, phases: true, cell: (c) => figSig(c.figures.prefill_energy_per_input_token_j) },
  { head: "decode J/output token", align: "--:", energy: true, phases: true, cell: (c) => figSig(c.figures.decode_energy_per_output_token_j) },
  { head: "kWh/M output tokens", align: "--:", energy: true, cell: (c) => figSig(c.figures.kwh_per_million_output_tokens) },
  { head: "gCO2e/request", align: "--:", energy: true, co2e: true, cell: co2e("co2e_per_request_g") },
  { head: "gCO2e/M output tokens", align: "--:", energy: true, co2e: true, cell: co2e("co2e_per_million_output_tokens_g") },
  { head: "out tok/s", align: "--:", cell: (c) => fig(c.figures.output_tokens_per_s, 1) },
  { head: "req/s", align: "--:", serving: true, cell: (c) => figSig(c.figures.request_throughput) },
  { head: "goodput req/s", align: "--:", serving: true, slo: true, cell: (c) => figSig(c.figures.goodput_rps) },
  { head: "TPOT p90 ms", align: "--:", serving: true, cell: (c) => fig(c.figures.tpot_p90_ms, 2) },
  { head: "TTFT p50 ms", align: "--:", cell: (c) => fig(c.figures.ttft_p50_ms, 1) },
  { head: "ITL p50 ms", align: "--:", cell: (c) => fig(c.figures.itl_p50_ms, 2) },
  { head: "ITL p99 ms", align: "--:", cell: (c) => fig(c.figures.itl_p99_ms, 2) },
  { head: "avg W", align: "--:", energy: true, cell: (c) => fig(c.figures.avg_power_w, 1) },
  { head: "peak MiB", align: "--:", cell: mib },
  { head: "flags", align: "---", cell: (c) => flagTexts(c).map(md).join(", ") },
];

/** The ML.ENERGY leaderboard's question: the lowest energy per output token among the configs that meet the SLOs. */
function sloPick(configs: readonly ConfigAggregate[]): string {
  const meeting = configs.filter((c) => c.slo?.meets && c.figures.energy_per_token_j.stats !== null)
    .sort((a, b) => a.figures.energy_per_token_j.stats!.mean - b.figures.energy_per_token_j.stats!.mean);
  const served = configs.filter((c) => c.slo?.attainment !== null && c.slo?.attainment !== undefined).length;
  if (meeting.length === 0) return `Lowest energy meeting the SLOs: none of ${served} serving configs meets them${served ? "" : " (no serving results)"}.`;
  const best = meeting[0];
  return `Lowest energy meeting the SLOs: **${md(best.names[0])}** (\`${best.hash}\`), ${figSig(best.figures.energy_per_token_j)} J/token, ` +
    `goodput ${figSig(best.figures.goodput_rps)} requests/s; ${meeting.length} of ${served} serving configs meet them.`;
}

/** One table per hardware, best energy per token first; rows past `limit` bytes are left out and counted. */
export function renderMarkdown(data: ReportData, limit = STEP_SUMMARY_LIMIT - 4096): string {
  const out = ["## lem report", "", "± is the 95 % confidence interval of the mean (Student t over the cycles); n/a: not measured (why: given once, above or below the table).", ""];
  // Why energy is missing, once for the whole report rather than on every row.
  const missing = energyMissingByReason(data);
  if (missing.length) out.push(...missing.map((m) => `- Energy not measured on ${md(missingWhere(m.where))}: ${md(m.reason)}`), "");
  if (data.grid) out.push(`CO2e at a grid intensity of ${data.grid.gco2ePerKwh} gCO2e/kWh, from ${md(data.grid.source)}.`, "");
  if (data.slo) out.push(`SLOs: ${md(describeSlo(data.slo))} (ms). Goodput counts the requests meeting every one; a config meets them when ${SLO_ATTAINMENT * 100} % of its requests do.`, "");
  let size = out.join("\n").length;
  for (const s of data.sections) {
    const columns = COLUMNS.filter((col) => (!col.energy || s.measured.has("energy_per_token_j")) && (!col.co2e || data.grid !== null)
      && (!col.phases || s.measured.has("prefill_energy_j")) && (!col.serving || s.measured.has("request_throughput")) && (!col.slo || data.slo !== null));
    const head = [`### ${md(s.hardware)}`, "", ...(data.slo ? [sloPick(s.configs), ""] : []),
      `| ${columns.map((col) => col.head).join(" | ")} |`, `|${columns.map((col) => col.align).join("|")}|`];
    out.push(...head);
    size += head.join("\n").length;
    const sorted = [...s.configs].sort((a, b) => (a.figures.energy_per_token_j.stats?.mean ?? Infinity) - (b.figures.energy_per_token_j.stats?.mean ?? Infinity));
    let shown = 0;
    for (const c of sorted) {
      const line = `| ${columns.map((col) => col.cell(c)).join(" | ")} |`;
      if (size + line.length + 1 > limit) break;
      out.push(line);
      size += line.length + 1;
      shown++;
    }
    if (shown < sorted.length) out.push("", `${sorted.length - shown} more configs left out to fit the step summary: see results.csv.`);
    // Reasons the header already gives (configs without energy at all) are not repeated here.
    const reasons = [...new Set(s.configs.filter((c) => c.figures.energy_per_token_j.stats !== null)
      .flatMap((c) => [c.figures.energy_per_token_j.reason, c.figures.energy_per_token_adjusted_j.reason]).filter(Boolean))];
    if (reasons.length) out.push("", ...reasons.slice(0, 5).map((r) => `- n/a: ${md(r!)}`));
    out.push("");
  }
  if (data.sections.length === 0) out.push("No results stored for the selected experiments.");
  return `${out.join("\n")}\n`;
}
