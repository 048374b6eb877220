/** A Vega-Lite spec as the page embeds it (vega-lite's own types would pull the library into lem's types). */
export type VegaLiteSpec = Record<string, unknown>;
/** One row of a chart's dataset. */
export type ChartRow = Record<string, string | number | boolean | null>;
