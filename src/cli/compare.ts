import { parse, positiveInt } from "./args.js";
import { out, err, printable } from "./output.js";
import { inputError } from "../errors.js";
import { GATEABLE_METRICS, DEFAULT_OPTIONS, METRIC_ALIASES, compareGroups, gateExit, type CompareMetric, type CompareOptions } from "../compare/compare.js";
import { compareJson, renderCompareMarkdown, renderCompareTable } from "../compare/compare-render.js";
import { loadStore } from "../compare/compare-source.js";
import { parseSlo } from "../report/slo.js";

const NAMES = Object.keys(METRIC_ALIASES).join(", ");

export const COMPARE_HELP = `lem compare BASE CURRENT — did CURRENT regress against BASE? (exit 1 if so)

  BASE, CURRENT            results folders, or git:REF[:PATH] for a store as committed at REF
                           (PATH defaults to the other argument's folder, e.g. git:main results)
  --min-effect [METRIC=]X  smallest change that counts: X as 5% or 0.05 (default 5%); repeat per
                           metric, e.g. --min-effect energy=3% --min-effect ttft=10%
  --gate METRIC,...        metrics whose regression fails (default: all; "none" reports only)
  --alpha P                significance level of Welch's t-test (default 0.05)
  --min-cycles N           cycles needed on each side (default 2); fewer: "not enough cycles"
  --allow-unmeasured       a gated metric that is not measured (no energy sensor, too few cycles,
                           no config in common) does not fail the gate
  --slo ttft_ms=T,...      serving SLOs in ms (ttft_ms, tpot_ms, e2e_ms): each cycle's goodput, for --gate goodput
  --markdown               print Markdown (for a PR comment or $GITHUB_STEP_SUMMARY)
  --json                   print JSON

  Metrics: ${NAMES} (J/output token, output tokens/s, TTFT p50, ITL p50; serving, compared when
  gated: J/request, goodput). The default gate is the first four.
  Exit codes: 0 every gated metric was checked and none regressed significantly beyond its minimum
  effect; 1 one did; 2 bad arguments; 3 a gated metric was not measured on one side, a config had
  too few cycles, or no config was in both stores: the gate checked nothing there (--allow-unmeasured: 0).
`;

function metricName(name: string, flag: string): CompareMetric {
  const m = METRIC_ALIASES[name] ?? (GATEABLE_METRICS as readonly string[]).find((k) => k === name);
  if (!m) throw inputError(`${flag}: unknown metric "${name}"`, `one of ${NAMES}`);
  return m as CompareMetric;
}

function fraction(text: string, flag: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(%?)$/.exec(text.trim());
  const x = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!m || !(x >= 0 && x < 10)) throw inputError(`${flag}: expected a share like 5% or 0.05, got "${text}"`, `e.g. ${flag} energy=3%`);
  return x;
}

/** Flags → options; every mistake names its flag (exit 2). */
export function compareOptions(values: { "min-effect"?: string[]; gate?: string; alpha?: string; "min-cycles"?: string; "allow-unmeasured"?: boolean }): CompareOptions {
  const minEffect = { ...DEFAULT_OPTIONS.minEffect };
  const perMetric: [CompareMetric, number][] = [];
  for (const spec of values["min-effect"] ?? []) {
    const eq = spec.indexOf("=");
    if (eq < 0) for (const m of GATEABLE_METRICS) minEffect[m] = fraction(spec, "--min-effect");
    else perMetric.push([metricName(spec.slice(0, eq).trim(), "--min-effect"), fraction(spec.slice(eq + 1), "--min-effect")]);
  }
  for (const [m, x] of perMetric) minEffect[m] = x; // a metric's own value wins over a bare one, in any order
  const gate = values.gate === undefined ? [...DEFAULT_OPTIONS.gate]
    : values.gate.trim() === "none" ? [] : [...new Set(values.gate.split(",").map((s) => metricName(s.trim(), "--gate")))];
  let alpha = DEFAULT_OPTIONS.alpha;
  if (values.alpha !== undefined) {
    alpha = Number(values.alpha);
    if (!/^0?\.[0-9]+$/.test(values.alpha) || !(alpha > 0 && alpha < 1)) throw inputError(`--alpha: expected a number between 0 and 1, got "${values.alpha}"`, "e.g. --alpha 0.01");
  }
  const minCycles = positiveInt(values["min-cycles"], "--min-cycles") ?? DEFAULT_OPTIONS.minCycles;
  if (minCycles < 2) throw inputError("--min-cycles: Welch's t-test needs at least 2 cycles on each side", "e.g. --min-cycles 3");
  return { alpha, minEffect, gate, minCycles, allowUnmeasured: Boolean(values["allow-unmeasured"]) };
}

export async function compareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    "min-effect": { type: "string", multiple: true }, gate: { type: "string" }, alpha: { type: "string" },
    "min-cycles": { type: "string" }, "allow-unmeasured": { type: "boolean" }, slo: { type: "string" }, markdown: { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
  }, "compare");
  if (values.help) { out(COMPARE_HELP); return 0; }
  if (positionals.length !== 2) {
    throw inputError(`lem compare: expected BASE and CURRENT, got ${positionals.length} argument(s)`, "e.g. lem compare git:main results");
  }
  if (values.json && values.markdown) throw inputError("lem compare: --json and --markdown are exclusive", "pick one");
  const options = compareOptions(values);
  const [baseArg, currentArg] = positionals;
  const slo = values.slo === undefined ? null : parseSlo(values.slo);
  if (options.gate.includes("goodput_rps") && !slo) throw inputError("--gate goodput needs the SLOs that define it", "add --slo ttft_ms=…,tpot_ms=… (milliseconds)");
  const base = loadStore(baseArg, currentArg, slo);
  const current = loadStore(currentArg, baseArg, slo);
  for (const w of [...base.warnings, ...current.warnings]) err(`warning: ${printable(w)}`);
  const comparison = compareGroups(base.groups, current.groups, options);
  for (const w of comparison.warnings) err(`warning: ${printable(w)}`);
  if (values.json) out(JSON.stringify({ base: base.label, current: current.label, ...compareJson(comparison) }));
  else if (values.markdown) out(renderCompareMarkdown(comparison));
  else out(renderCompareTable(comparison, printable));
  return gateExit(comparison);
}
