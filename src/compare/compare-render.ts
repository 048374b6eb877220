import { METRICS } from "../report/aggregate.js";
import { markdownText } from "../report/markdown.js";
import type { Comparison, ConfigComparison, MetricComparison } from "./compare.js";
import { describeStackDifferences, type StackDifference } from "../report/software-stack.js";

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
    // The reason is said once, under the table (notes), not in every row.
    m.verdict === "not measured" ? "not measured" : verdict,
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
  // Each reason a figure is missing, once, with how many it covers.
  const reasons = new Map<string, { metrics: Set<string>; configs: Set<string> }>();
  for (const x of c.configs) for (const m of x.metrics) {
    if (m.verdict !== "not measured") continue;
    const r = reasons.get(m.reason ?? "") ?? { metrics: new Set(), configs: new Set() };
    r.metrics.add(m.metric); r.configs.add(x.hash); reasons.set(m.reason ?? "", r);
  }
  for (const [reason, r] of reasons) lines.push(`not measured: ${[...r.metrics].join(", ")} in ${r.configs.size} config(s): ${reason || "no value"}`);
  // Too few cycles for the asked minimum effect: what these cycles can tell, and what it would take.
  for (const x of c.configs) for (const m of x.metrics) {
    const d = m.detectable;
    if (!d || d.change <= m.minEffect) continue;
    const need = d.cyclesForMinEffect === null ? "more than 10,000 cycles per side" : `${d.cyclesForMinEffect} cycles per side`;
    lines.push(`${x.name} ${m.metric}: these cycles detect changes of ${pct(d.change).slice(1)} or more (80% power); the ${(m.minEffect * 100).toFixed(1)}% minimum effect needs ${need}`);
  }
  // Cycles averaged on one side that ran on different software: the change may be the software's.
  for (const x of c.configs) for (const side of ["base", "current"] as const) {
    if (x.mixedStack[side].length) lines.push(`${x.name} on ${x.hardware}: ${side} cycles from mixed software stacks: ${describeStackDifferences(x.mixedStack[side])}`);
  }
  for (const u of c.otherHardware) lines.push(`${u.name} (${u.hash}): not compared, measured on other hardware (base ${u.base.join(", ")}; current ${u.current.join(", ")})`);
  if (c.onlyInBase.length) lines.push(`only in base: ${c.onlyInBase.map((u) => u.name).join(", ")}`);
  if (c.onlyInCurrent.length) lines.push(`only in current: ${c.onlyInCurrent.map((u) => u.name).join(", ")}`);
  lines.push(verdictLine(c));
  return lines;
}

export function verdictLine(c: Comparison): string {
  const bad = c.configs.filter((x) => x.regressions.length > 0);
  const compared = c.configs.filter((x) => x.status === "compared").length;
  if (bad.length) return `REGRESSION: ${bad.map((x) => `${x.name} (${x.regressions.join(", ")})`).join("; ")}`;
  const allowed = c.options.allowUnmeasured ? " (passed: --allow-unmeasured)" : " (exit 3; --allow-unmeasured passes it)";
  if (c.nothingCompared) return `GATE NOT CHECKED: ${c.nothingCompared}${allowed}`;
  if (c.unchecked.length) {
    const what = [...new Set(c.unchecked.map((u) => (u.metric === "all" ? "every metric" : u.metric)))].join(", ");
    return `GATE NOT CHECKED: ${what} not measured in ${new Set(c.unchecked.map((u) => u.hash)).size} config(s)${allowed}; no significant regression in what was measured`;
  }
  return `no significant regression beyond the minimum effect in ${compared} compared config(s)`;
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
    configs: c.configs.map((x) => ({
      ...x, name: text(x.name), hardware: text(x.hardware),
      mixedStack: { base: stackText(x.mixedStack.base, text), current: stackText(x.mixedStack.current, text) },
    })),
    onlyInBase: c.onlyInBase.map((u) => ({ ...u, name: text(u.name), hardware: all(u.hardware) })),
    onlyInCurrent: c.onlyInCurrent.map((u) => ({ ...u, name: text(u.name), hardware: all(u.hardware) })),
    otherHardware: c.otherHardware.map((u) => ({ ...u, name: text(u.name), base: all(u.base), current: all(u.current) })),
  };
}

/** Versions and digests come from the stores' result files. */
const stackText = (diffs: StackDifference[], text: (s: string) => string): StackDifference[] =>
  diffs.map((d) => ({ ...d, values: d.values.map((v) => ({ ...v, value: text(v.value) })) }));

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
  const title = c.regressed ? "❌ regression" : gateChecked(c) ? "✅ no regression" : "⚠️ gate not checked (figures not measured)";
  return [`### lem compare: ${title}`, "", ...table, "", `_${legend(c)}_`, "", ...notes(c).map((n) => `- ${n}`)].join("\n");
}

const gateChecked = (c: Comparison) => c.options.allowUnmeasured || (c.unchecked.length === 0 && !c.nothingCompared);

/** snake_case JSON (the shape scripts read). */
export function compareJson(c: Comparison): object {
  return {
    regressed: c.regressed,
    gate_checked: gateChecked(c),
    unchecked: c.unchecked, nothing_compared: c.nothingCompared,
    options: { alpha: c.options.alpha, min_cycles: c.options.minCycles, min_effect: c.options.minEffect, gate: c.options.gate, allow_unmeasured: c.options.allowUnmeasured },
    configs: c.configs.map((x) => ({
      hash: x.hash, name: x.name, hardware: x.hardware, base_cycles: x.baseCycles, current_cycles: x.currentCycles, status: x.status,
      regressions: x.regressions, mixed_stack: x.mixedStack,
      metrics: x.metrics.map((m) => ({
        metric: m.metric, unit: m.unit, better: m.better, verdict: m.verdict, gated: m.gated, min_effect: m.minEffect, reason: m.reason,
        base: m.test && { n: m.test.nBase, mean: m.test.meanBase }, current: m.test && { n: m.test.nCurrent, mean: m.test.meanCurrent },
        diff: m.test?.diff ?? null, diff_ci: m.test?.ci ?? null, change: m.change, change_ci: m.changeCi,
        p_value: m.test?.p ?? null, t: m.test?.t ?? null, df: m.test?.df ?? null,
        detectable_change: m.detectable?.change ?? null, cycles_for_min_effect: m.detectable?.cyclesForMinEffect ?? null,
      })),
    })),
    only_in_base: c.onlyInBase, only_in_current: c.onlyInCurrent, other_hardware: c.otherHardware,
  };
}
