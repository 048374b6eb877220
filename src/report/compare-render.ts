import { METRICS } from "./aggregate.js";
import { markdownText } from "./markdown.js";
import type { Comparison, ConfigComparison, MetricComparison } from "./compare.js";

// The three views of one Comparison: a terminal table, Markdown for a PR comment, and JSON.

const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3));
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;

function cells(c: ConfigComparison, m: MetricComparison): string[] {
  const t = m.test;
  const verdict = m.verdict === "regressed" && m.gated ? "REGRESSED" : m.verdict === "regressed" ? "regressed (not gated)" : m.verdict;
  return [
    c.name, c.hardware, METRICS[m.metric].label, m.unit,
    t ? num(t.meanBase) : "n/a", t ? num(t.meanCurrent) : "n/a",
    m.change === null ? "n/a" : pct(m.change),
    m.changeCi ? `[${pct(m.changeCi[0])}, ${pct(m.changeCi[1])}]` : "n/a",
    t ? t.p.toPrecision(2) : "n/a", `${(m.minEffect * 100).toFixed(1)}%`,
    m.verdict === "not measured" && m.reason ? `not measured: ${m.reason}` : verdict,
  ];
}

function header(c: Comparison): string[] {
  return ["config", "hardware", "metric", "unit", "base", "current", "change", `CI${Math.round((1 - c.options.alpha) * 100)} of change`, "p", "min effect", "verdict"];
}

function rows(c: Comparison): string[][] {
  return c.configs.flatMap((cfg) => cfg.status === "compared"
    ? cfg.metrics.map((m) => cells(cfg, m))
    : [[cfg.name, cfg.hardware, "—", "", "", "", "", "", "", "", `not enough cycles (base ${cfg.baseCycles}, current ${cfg.currentCycles}; need ${c.options.minCycles} each)`]]);
}

function notes(c: Comparison): string[] {
  const lines: string[] = [];
  const thin = c.configs.filter((x) => x.status === "not enough cycles").length;
  if (thin) lines.push(`${thin} config(s) not compared: not enough cycles (raise execution.cycles, or --min-cycles)`);
  for (const u of c.otherHardware) lines.push(`${u.name} (${u.hash}): not compared, measured on other hardware (base ${u.base.join(", ")}; current ${u.current.join(", ")})`);
  if (c.onlyInBase.length) lines.push(`only in base: ${c.onlyInBase.map((u) => u.name).join(", ")}`);
  if (c.onlyInCurrent.length) lines.push(`only in current: ${c.onlyInCurrent.map((u) => u.name).join(", ")}`);
  lines.push(verdictLine(c));
  return lines;
}

export function verdictLine(c: Comparison): string {
  const bad = c.configs.filter((x) => x.regressions.length > 0);
  const compared = c.configs.filter((x) => x.status === "compared").length;
  return bad.length
    ? `REGRESSION: ${bad.map((x) => `${x.name} (${x.regressions.join(", ")})`).join("; ")}`
    : `no significant regression beyond the minimum effect in ${compared} compared config(s)`;
}

const legend = (c: Comparison) =>
  `change = (current − base) / base mean; Welch's t-test over cycles, significant at p < ${c.options.alpha}; gated: ${c.options.gate.join(", ") || "none"}`;

/**
 * The comparison with every text that came from a store (names, hardware) passed through `text`:
 * the writer of each medium escapes them for it, and the numbers lem wrote stay as they are.
 */
function withText(c: Comparison, text: (s: string) => string): Comparison {
  const all = (xs: string[]) => xs.map(text);
  return {
    ...c,
    configs: c.configs.map((x) => ({ ...x, name: text(x.name), hardware: text(x.hardware) })),
    onlyInBase: c.onlyInBase.map((u) => ({ ...u, name: text(u.name), hardware: all(u.hardware) })),
    onlyInCurrent: c.onlyInCurrent.map((u) => ({ ...u, name: text(u.name), hardware: all(u.hardware) })),
    otherHardware: c.otherHardware.map((u) => ({ ...u, name: text(u.name), base: all(u.base), current: all(u.current) })),
  };
}

/** A terminal table; `text` escapes what came from a store (the CLI passes its printable). */
export function renderCompareTable(comparison: Comparison, text: (s: string) => string = (s) => s): string {
  const c = withText(comparison, text);
  const head = header(c), body = rows(c);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]))).join("  ").trimEnd();
  const table = body.length ? [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)] : ["no config measured on the same hardware in both stores"];
  return [...table, "", legend(c), ...notes(c)].join("\n");
}

export function renderCompareMarkdown(comparison: Comparison): string {
  const c = withText(comparison, markdownText);
  const esc = (s: string) => s.replace(/(?<!\\)\|/g, "\\|");
  const body = rows(c);
  const table = body.length
    ? [`| ${header(c).join(" | ")} |`, `|${header(c).map(() => "---").join("|")}|`, ...body.map((r) => `| ${r.map(esc).join(" | ")} |`)]
    : ["No config was measured on the same hardware in both stores."];
  return [`### lem compare: ${c.regressed ? "❌ regression" : "✅ no regression"}`, "", ...table, "", `_${legend(c)}_`, "", ...notes(c).map((n) => `- ${n}`)].join("\n");
}

/** snake_case JSON (the shape scripts read). */
export function compareJson(c: Comparison): object {
  return {
    regressed: c.regressed,
    options: { alpha: c.options.alpha, min_cycles: c.options.minCycles, min_effect: c.options.minEffect, gate: c.options.gate },
    configs: c.configs.map((x) => ({
      hash: x.hash, name: x.name, hardware: x.hardware, base_cycles: x.baseCycles, current_cycles: x.currentCycles, status: x.status,
      regressions: x.regressions,
      metrics: x.metrics.map((m) => ({
        metric: m.metric, unit: m.unit, better: m.better, verdict: m.verdict, gated: m.gated, min_effect: m.minEffect, reason: m.reason,
        base: m.test && { n: m.test.nBase, mean: m.test.meanBase }, current: m.test && { n: m.test.nCurrent, mean: m.test.meanCurrent },
        diff: m.test?.diff ?? null, diff_ci: m.test?.ci ?? null, change: m.change, change_ci: m.changeCi,
        p_value: m.test?.p ?? null, t: m.test?.t ?? null, df: m.test?.df ?? null,
      })),
    })),
    only_in_base: c.onlyInBase, only_in_current: c.onlyInCurrent, other_hardware: c.otherHardware,
  };
}
