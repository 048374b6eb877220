import type { HardwareSection, ReportDimension } from "./report-data.js";
import { METRIC_KEYS, METRICS } from "./aggregate.js";

// Vega-Lite specs of report.html. Each reads the named dataset "configs" (rows from chartRows),
// which the page supplies once per hardware section, so the data is not repeated per chart.

export type VegaLiteSpec = Record<string, unknown>;
export type ChartRow = Record<string, string | number | boolean | null>;

/** Rows of the "configs" dataset: a config's names, flags, dimensions and each figure's mean and CI95. */
export function chartRows(section: HardwareSection): ChartRow[] {
  return section.configs.map((c, i) => {
    const row: ChartRow = {
      name: c.names[0], hash: c.hash, cycles: c.cycles,
      flags: c.qualityFlags.map((f) => `${f.flag} (${f.cycles}/${c.cycles})`).join(", "),
      pareto_itl: section.paretoItl.has(c.hash), pareto_tps: section.paretoThroughput.has(c.hash),
      ...section.dimensionValues[i],
    };
    for (const key of METRIC_KEYS) {
      const f = c.figures[key];
      row[key] = f.stats ? round(f.stats.mean) : null;
      row[`${key}_ci95`] = f.stats?.ci95 != null ? round(f.stats.ci95) : null;
      if (f.reason) row[`${key}_reason`] = f.reason;
    }
    return row;
  });
}

/** Five significant digits: more than any measurement here resolves, and a smaller page. */
export const round = (x: number) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(5)));

const J = "energy_per_token_j";
const yEnergy = { field: J, type: "quantitative", title: `energy per output token (${METRICS[J].unit})`, scale: { zero: false } };
const ciTransform = [
  { filter: `isValid(datum.${J})` },
  { calculate: `datum.${J} - (datum.${J}_ci95 || 0)`, as: "lo" },
  { calculate: `datum.${J} + (datum.${J}_ci95 || 0)`, as: "hi" },
];

function tooltip(dims: ReportDimension[], x?: { field: string; title: string }) {
  return [
    { field: "name", title: "name" }, { field: "hash", title: "hash" }, { field: "cycles", title: "cycles" },
    ...(x ? [x] : []),
    { field: J, title: `J/token (mean)`, format: ".4g" }, { field: `${J}_ci95`, title: "J/token ±CI95", format: ".3g" },
    ...dims.map((d) => ({ field: d.field, title: d.key })),
    { field: "flags", title: "quality flags" },
  ];
}

const colour = (dim: ReportDimension | undefined) => (dim ? { field: dim.field, type: "nominal", title: dim.key } : { value: "#4c78a8" });

/** Energy/token against another figure: a point per config with CI95 bars, the Pareto front drawn. */
export function energyScatter(section: HardwareSection, x: "itl_p50_ms" | "output_tokens_per_s"): VegaLiteSpec {
  const title = `${METRICS[x].label} (${METRICS[x].unit})`;
  const xEnc = { field: x, type: "quantitative", title, scale: { zero: false } };
  const front = x === "itl_p50_ms" ? "pareto_itl" : "pareto_tps";
  const dims = section.dimensions;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: "container", height: 320, data: { name: "configs" },
    transform: [...ciTransform, { filter: `isValid(datum.${x})` }],
    layer: [
      { name: "errorbars", mark: { type: "rule", opacity: 0.5 }, encoding: { x: xEnc, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: colour(dims[0]) } },
      { name: "points", mark: { type: "point", filled: true, size: 60 }, encoding: { x: xEnc, y: yEnergy, color: colour(dims[0]), tooltip: tooltip(dims, { field: x, title }) } },
      {
        name: "front", transform: [{ filter: `datum.${front}` }],
        mark: { type: "line", color: "black", strokeDash: [4, 3], point: false },
        encoding: { x: { ...xEnc, sort: null }, y: yEnergy, order: { field: x, type: "quantitative" } },
      },
    ],
  };
}

/** One sweep dimension on x, energy/token with CI95 on y, a line per combination of the other dimensions. */
export function dimensionChart(section: HardwareSection, dim: ReportDimension): VegaLiteSpec {
  const others = section.dimensions.filter((d) => d !== dim);
  const combo = others.length ? others.map((d) => `'${d.key}=' + datum.${d.field}`).join(" + ', ' + ") : "'all'";
  const numeric = dim.values.every((v) => typeof v === "number");
  const xEnc = { field: dim.field, type: numeric ? "quantitative" : "ordinal", title: dim.key, ...(numeric ? { scale: { zero: false } } : { sort: dim.values }) };
  // Past a dozen lines a legend only crowds the chart out; the tooltip names each point's values.
  const lines = others.reduce((n, d) => n * d.values.length, 1);
  const lineColour = { field: "others", type: "nominal", title: others.map((d) => d.key).join(", ") || "configs", ...(lines > 12 ? { legend: null } : {}) };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: "container", height: 260, data: { name: "configs" },
    transform: [...ciTransform, { calculate: combo, as: "others" }],
    layer: [
      { name: "lines", mark: { type: "line" }, encoding: { x: xEnc, y: yEnergy, color: lineColour, detail: { field: "others" } } },
      { name: "errorbars", mark: { type: "rule", opacity: 0.5 }, encoding: { x: xEnc, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: lineColour } },
      { name: "points", mark: { type: "point", filled: true }, encoding: { x: xEnc, y: yEnergy, color: lineColour, tooltip: tooltip(section.dimensions) } },
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
