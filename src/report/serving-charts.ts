import { METRICS, type MetricKey } from "./metrics.js";
import type { HardwareSection } from "./report-data.js";
import { servingLines, type ServingPoint } from "./serving-lines.js";
import type { ChartRow, VegaLiteSpec } from "./vega-types.js";

// report.html's serving charts: a figure against the request rate, a line per engine config (one
// server key), each point a config's mean over its cycles with its 95 % confidence bar. They read
// the "configs" dataset like every other chart; only serving configs carry the fields below, so a
// report without serving results has neither the fields nor the charts.

const ENGINE = "serving_engine";
const RATE = "serving_rate";
const RATE_ORDER = "serving_rate_order";

/** A config's fields in the "configs" dataset: which line, which rate; none for an offline config. */
export const servingRowFields = (p: ServingPoint | null): ChartRow =>
  p ? { [ENGINE]: p.line, [RATE]: p.rate, [RATE_ORDER]: p.rateOrder } : {};

/** Each chart: its figures (two percentiles share a chart, dashed apart) and the y axis's title. */
const RATE_CHARTS = [
  { id: "rate-energy-token", title: "energy per output token", figures: ["energy_per_token_j"] },
  { id: "rate-energy-request", title: "energy per request", figures: ["energy_per_request_j"] },
  // TTFT's percentiles are the ones metrics.ts aggregates (p50, p99); TPOT's are p50 and p90.
  { id: "rate-ttft", title: "TTFT", figures: ["ttft_p50_ms", "ttft_p99_ms"] },
  { id: "rate-tpot", title: "TPOT", figures: ["tpot_p50_ms", "tpot_p90_ms"] },
] as const satisfies readonly { id: string; title: string; figures: readonly MetricKey[] }[];

export interface ServingChart { id: string; title: string; spec: VegaLiteSpec }

/** The request-rate charts of a section's serving configs, for the figures some serving config measured. */
export function servingCharts(section: HardwareSection): ServingChart[] {
  const { points, rates } = servingLines(section.configs);
  if (points.every((p) => p === null)) return [];
  const lines = new Set(points.filter((p) => p !== null).map((p) => p.line)).size;
  const measured = (k: MetricKey) => section.configs.some((c, i) => points[i] !== null && c.figures[k].stats !== null);
  return RATE_CHARTS.flatMap((chart) => {
    const figures = chart.figures.filter(measured);
    if (figures.length === 0) return [];
    const labels = figures.map((k) => METRICS[k].label);
    return [{ id: chart.id, title: `${labels.join(" and ")} against request rate, a line per engine config`, spec: rateChart(chart.title, figures, rates, lines) }];
  });
}

/**
 * The rate is an ordinal axis, numbers ascending and "inf" last: "inf" (every request at once) has
 * no place on a numeric scale, and sweeps double their rate (1, 2, 4, 8), which evenly spaced ticks
 * show as a log axis would. The line is drawn in that order (RATE_ORDER), not the labels' text order.
 */
function rateChart(title: string, figures: readonly MetricKey[], rates: readonly string[], lines: number): VegaLiteSpec {
  const unit = METRICS[figures[0]].unit;
  // One row per config and figure: its mean as `value`, its CI95 as `ci`, which figure as `figure`.
  const figureLabel = figures.map((k) => `datum.figure === ${JSON.stringify(k)} ? ${JSON.stringify(METRICS[k].label)} : `).join("") + "''";
  const y = { field: "value", type: "quantitative", title: `${title} (${unit})`, scale: { zero: false } };
  const dashed = figures.length > 1 ? { strokeDash: { field: "figure_label", type: "nominal", title: "percentile", sort: figures.map((k) => METRICS[k].label) } } : {};
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: "container", height: 260, data: { name: "configs" },
    transform: [
      { filter: `isValid(datum.${RATE})` },
      { fold: [...figures], as: ["figure", "value"] },
      { filter: "isValid(datum.value)" },
      { calculate: "datum[datum.figure + '_ci95'] || 0", as: "ci" },
      { calculate: "max(0, datum.value - datum.ci)", as: "lo" },
      { calculate: "datum.value + datum.ci", as: "hi" },
      { calculate: figureLabel, as: "figure_label" },
    ],
    // x and colour sit here, shared by the layers: the page's "colour by" picker recolours each
    // layer's own colour (the scatter charts'), and must leave a line per engine config as it is.
    encoding: {
      x: { field: RATE, type: "ordinal", title: "request rate (requests/s; inf: all at once)", sort: [...rates], axis: { labelAngle: 0 } },
      color: {
        field: ENGINE, type: "nominal", title: "engine config",
        // Past a dozen lines a legend only crowds the chart out; the tooltip names each point's line.
        legend: lines > 12 ? null : { orient: "bottom", direction: "vertical", labelLimit: 0 },
      },
    },
    layer: [
      { name: "lines", mark: { type: "line" }, encoding: { y, detail: { field: ENGINE }, order: { field: RATE_ORDER, type: "quantitative" }, ...dashed } },
      { name: "errorbars", mark: { type: "rule", opacity: 0.5 }, encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
      {
        name: "points", mark: { type: "point", filled: true },
        encoding: {
          y,
          tooltip: [
            { field: ENGINE, title: "engine config" }, { field: RATE, title: "request rate (requests/s)" },
            { field: "figure_label", title: "figure" }, { field: "value", title: unit, format: ".4g" }, { field: "ci", title: "±CI95", format: ".3g" },
            { field: "name", title: "name" }, { field: "hash", title: "hash" }, { field: "cycles", title: "cycles" }, { field: "flags", title: "flags" },
          ],
        },
      },
    ],
  };
}
