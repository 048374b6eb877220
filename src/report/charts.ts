import type { Co2eKey, ConfigAggregate, Figure, MetricKey } from "./aggregate.js";
import { CO2E_KEYS, CO2E_METRICS, flagTexts, METRICS } from "./aggregate.js";
import { ENERGY_METRICS, SCATTERS, type HardwareSection, type ReportDimension, type ScatterId } from "./report-data.js";
import { servingRowFields } from "./serving-charts.js";
import type { ChartRow, VegaLiteSpec } from "./vega-types.js";
import { servingLines } from "./serving-lines.js";

// Vega-Lite specs of report.html. Each reads the named dataset "configs" (rows from chartRows),
// which the page supplies once per hardware section, so the data is not repeated per chart.
// Only figures that some config of the section measured are charted: a machine without an energy
// sensor still gets throughput and latency charts.

export type { ChartRow, VegaLiteSpec } from "./vega-types.js";

/** A figure as the page shows it: its row field, label and display unit (memory in MiB or GiB). */
export interface DisplayMetric {
  key: MetricKey | Co2eKey | "window_s";
  field: string;
  label: string;
  unit: string;
  /** Multiplies the stored value into the display unit. */
  scale: number;
  figure(c: ConfigAggregate): Figure;
}

/** Figures offered as the y of the sweep-dimension charts, in this order. */
const DIMENSION_Y: readonly MetricKey[] = ["energy_per_token_j", "energy_per_request_j", "output_tokens_per_s", "ttft_p50_ms", "tpot_p90_ms", "itl_p50_ms", "goodput_rps", "peak_memory_bytes", "avg_power_w"];

/** Bytes shown as GiB once any config reaches 1 GiB, else MiB: never raw bytes on an axis. */
function memoryUnit(section: HardwareSection): { unit: "GiB" | "MiB"; scale: number } {
  const most = Math.max(0, ...section.configs.map((c) => c.figures.peak_memory_bytes.stats?.mean ?? 0));
  return most >= 2 ** 30 ? { unit: "GiB", scale: 2 ** -30 } : { unit: "MiB", scale: 2 ** -20 };
}

function displayMetric(section: HardwareSection, key: MetricKey): DisplayMetric {
  const figure = (c: ConfigAggregate) => c.figures[key];
  if (METRICS[key].unit !== "bytes") return { key, field: key, label: METRICS[key].label, unit: METRICS[key].unit, scale: 1, figure };
  const { unit, scale } = memoryUnit(section);
  return { key, field: `${key.replace(/_bytes$/, "")}_${unit.toLowerCase()}`, label: METRICS[key].label, unit, scale, figure };
}

const WINDOW: DisplayMetric = { key: "window_s", field: "window_s", label: "measurement window", unit: "s", scale: 1, figure: (c) => c.windowS };

/** CO2e figures where the user gave a grid intensity and the energy they derive from was measured here. */
function co2eMetrics(section: HardwareSection): DisplayMetric[] {
  if (!section.configs.some((c) => c.co2e)) return [];
  return CO2E_KEYS.filter((k) => section.measured.has(CO2E_METRICS[k].from)).map((k) => ({
    key: k, field: k, label: CO2E_METRICS[k].label, unit: CO2E_METRICS[k].unit, scale: 1,
    figure: (c: ConfigAggregate) => c.co2e?.[k] ?? { unit: CO2E_METRICS[k].unit, stats: null, reason: "no grid intensity given" },
  }));
}

/** The table's figures: every metric some config measured, CO2e where an intensity was given, then the window. */
export function tableMetrics(section: HardwareSection): DisplayMetric[] {
  return [...(Object.keys(METRICS) as MetricKey[]).filter((k) => section.measured.has(k)).map((k) => displayMetric(section, k)), ...co2eMetrics(section), WINDOW];
}

/** The figures the sweep-dimension charts can plot here (measured ones only). */
export function dimensionMetrics(section: HardwareSection): DisplayMetric[] {
  return DIMENSION_Y.filter((k) => section.measured.has(k)).map((k) => displayMetric(section, k));
}

/** The scatter charts whose two figures were both measured here. */
export function scattersOf(section: HardwareSection) {
  return SCATTERS.filter((sc) => section.measured.has(sc.x) && section.measured.has(sc.y))
    .map((sc) => ({ id: sc.id, x: displayMetric(section, sc.x), y: displayMetric(section, sc.y) }));
}

const frontField = (id: ScatterId) => `front_${id.replace(/-/g, "_")}`;

/**
 * Rows of the "configs" dataset: a config's names, flags, dimensions, its engine config and request
 * rate where it is a serving config, and each figure's mean and CI95 in display units.
 */
export function chartRows(section: HardwareSection): ChartRow[] {
  const metrics = tableMetrics(section);
  const serving = servingLines(section.configs).points;
  return section.configs.map((c, i) => {
    const row: ChartRow = { name: c.names[0], hash: c.hash, cycles: c.cycles, flags: flagTexts(c).join("; "), ...section.dimensionValues[i], ...servingRowFields(serving[i]) };
    for (const sc of SCATTERS) row[frontField(sc.id)] = section.fronts[sc.id].has(c.hash);
    // The page header says once why energy is missing; a config's cells do not repeat it.
    const noEnergy = c.figures.energy_per_token_j.stats === null;
    for (const m of metrics) {
      const f = m.figure(c);
      row[m.field] = f.stats ? round(f.stats.mean * m.scale) : null;
      row[`${m.field}_ci95`] = f.stats?.ci95 != null ? round(f.stats.ci95 * m.scale) : null;
      const saidOnce = noEnergy && ((ENERGY_METRICS as readonly string[]).includes(m.key) || m.key in CO2E_METRICS);
      if (f.reason && !saidOnce) row[`${m.field}_reason`] = f.reason;
    }
    return row;
  });
}

/** Five significant digits: more than any measurement here resolves, and a smaller page. */
export const round = (x: number) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(5)));

/**
 * A figure's axis. Every figure here is ≥ 0 and so is every plotted value, CI bars included (their low
 * end is clamped at 0), so zero: false never takes the domain below 0 (nice rounding stops at 0) and
 * still keeps configs whose values lie close together apart.
 */
const axisOf = (m: DisplayMetric) => ({ field: m.field, type: "quantitative", title: `${m.label} (${m.unit})`, scale: { zero: false } });

/** Rows with the figure, and its CI95 as lo/hi, the low end clamped at 0 (no figure here can be negative). */
const ciTransform = (m: DisplayMetric) => [
  { filter: `isValid(datum.${m.field})` },
  { calculate: `max(0, datum.${m.field} - (datum.${m.field}_ci95 || 0))`, as: "lo" },
  { calculate: `datum.${m.field} + (datum.${m.field}_ci95 || 0)`, as: "hi" },
];

function tooltip(dims: ReportDimension[], shown: DisplayMetric[]) {
  return [
    { field: "name", title: "name" }, { field: "hash", title: "hash" }, { field: "cycles", title: "cycles" },
    ...shown.flatMap((m) => [
      { field: m.field, title: `${m.label} (${m.unit})`, format: ".4g" },
      { field: `${m.field}_ci95`, title: `${m.label} ±CI95`, format: ".3g" },
    ]),
    ...dims.map((d) => ({ field: d.field, title: d.key })),
    { field: "flags", title: "flags" },
  ];
}

const colour = (dim: ReportDimension | undefined) => (dim ? { field: dim.field, type: "nominal", title: dim.key } : { value: "#4c78a8" });

/**
 * A sweep dimension's axis. Numbers spanning a factor of 8 or more (batch sizes 1…512) go on a log
 * axis with ticks at the swept values only; any other dimension (precision, two batch sizes) is
 * categorical, so no tick falls between swept values (no batch size 1.2).
 */
export function dimensionAxis(dim: ReportDimension) {
  const nums = dim.values.filter((v): v is number => typeof v === "number");
  const log = nums.length === dim.values.length && nums.every((v) => v > 0) && Math.max(...nums) / Math.min(...nums) >= 8;
  return log
    ? { field: dim.field, type: "quantitative", title: dim.key, scale: { type: "log" }, axis: { values: nums, format: "~g" } }
    : { field: dim.field, type: "ordinal", title: dim.key, sort: dim.values };
}

/** y against x, a point per config with CI95 bars on y, the Pareto front drawn. */
export function scatterChart(section: HardwareSection, id: ScatterId): VegaLiteSpec {
  const sc = scattersOf(section).find((s) => s.id === id);
  if (!sc) throw new Error(`scatter ${id}: a figure is measured by no config of ${section.hardware}`);
  const xEnc = axisOf(sc.x), yEnc = axisOf(sc.y);
  const dims = section.dimensions;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: "container", height: 320, data: { name: "configs" },
    transform: [...ciTransform(sc.y), { filter: `isValid(datum.${sc.x.field})` }],
    layer: [
      { name: "errorbars", mark: { type: "rule", opacity: 0.5 }, encoding: { x: xEnc, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: colour(dims[0]) } },
      { name: "points", mark: { type: "point", filled: true, size: 60 }, encoding: { x: xEnc, y: yEnc, color: colour(dims[0]), tooltip: tooltip(dims, [sc.x, sc.y]) } },
      {
        name: "front", transform: [{ filter: `datum.${frontField(id)}` }],
        mark: { type: "line", color: "black", strokeDash: [4, 3], point: false },
        encoding: { x: { ...xEnc, sort: null }, y: yEnc, order: { field: sc.x.field, type: "quantitative" } },
      },
    ],
  };
}

/** One sweep dimension on x, a figure with CI95 on y, a line per combination of the other dimensions. */
export function dimensionChart(section: HardwareSection, dim: ReportDimension, y: DisplayMetric): VegaLiteSpec {
  const others = section.dimensions.filter((d) => d !== dim);
  const combo = others.length ? others.map((d) => `'${d.key}=' + datum.${d.field}`).join(" + ', ' + ") : "'all'";
  const xEnc = dimensionAxis(dim);
  const yEnc = axisOf(y);
  // Past a dozen lines a legend only crowds the chart out; the tooltip names each point's values.
  const lines = others.reduce((n, d) => n * d.values.length, 1);
  const lineColour = { field: "others", type: "nominal", title: others.map((d) => d.key).join(", ") || "configs", ...(lines > 12 ? { legend: null } : {}) };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: "container", height: 260, data: { name: "configs" },
    transform: [...ciTransform(y), { calculate: combo, as: "others" }],
    layer: [
      { name: "lines", mark: { type: "line" }, encoding: { x: xEnc, y: yEnc, color: lineColour, detail: { field: "others" } } },
      { name: "errorbars", mark: { type: "rule", opacity: 0.5 }, encoding: { x: xEnc, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: lineColour } },
      { name: "points", mark: { type: "point", filled: true }, encoding: { x: xEnc, y: yEnc, color: lineColour, tooltip: tooltip(section.dimensions, [y]) } },
    ],
  };
}

/** Power over the measurement window of one experiment (datasets "timeline" and "baseline"), a line per cycle. */
export function timelineChart(): VegaLiteSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: "container", height: 240,
    layer: [
      {
        name: "power", data: { name: "timeline" }, mark: { type: "line" },
        encoding: {
          x: { field: "t", type: "quantitative", title: "time since start of window (s)" },
          y: { field: "w", type: "quantitative", title: "power (W)" },
          color: { field: "cycle", type: "nominal", title: "cycle" },
          tooltip: [{ field: "cycle" }, { field: "t", format: ".2f" }, { field: "w", format: ".1f" }],
        },
      },
      {
        name: "baseline", data: { name: "baseline" }, mark: { type: "rule", color: "firebrick", strokeDash: [6, 4] },
        encoding: { y: { field: "w", type: "quantitative" }, tooltip: [{ field: "w", title: "baseline power (W)", format: ".1f" }] },
      },
    ],
  };
}
