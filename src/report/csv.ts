import { CO2E_KEYS, CO2E_METRICS, METRIC_KEYS, type Figure } from "./aggregate.js";
import { describeFlag } from "./measurement-flags.js";
import { cycleTable, type TableColumn } from "./cycle-table.js";
import { columnHeader, dimensionKeys, dimensionValue, type ReportData } from "./report-data.js";

// results.csv: tidy, one row per config × hardware, one column per figure, units in the headers.
// cycles.csv: the per-cycle table, one row per config × hardware × cycle. One cell escaper for both.

const cell = (v: string | number | boolean | null | undefined): string => {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const statCells = (f: Figure | undefined) => [f?.stats?.mean, f?.stats?.std, f?.stats?.ci95, f?.stats?.cv, f?.stats?.n ?? 0, f?.reason];

export function renderCsv(data: ReportData): string {
  const dimKeys = dimensionKeys(data);
  const stats = ["mean", "std", "ci95", "cv", "n", "reason"] as const;
  const header = ["hardware", "hash", "name", "names", "cycles", ...dimKeys.map((k) => `config.${k}`),
    ...METRIC_KEYS.flatMap((k) => stats.map((s) => columnHeader(k, s))), "baseline_power_w mean [W]", "energy_status", "energy_scope", "energy_combined_scope", "quality_flags",
    "window_s mean [s]", "measurement_flags",
    // CO2e only where the user gave a grid intensity: never a guessed one, never an empty column that looks measured.
    ...(data.grid ? [...CO2E_KEYS.flatMap((k) => stats.map((s) => (s === "cv" || s === "n" || s === "reason" ? `${k} ${s}` : `${k} ${s} [${CO2E_METRICS[k].unit}]`))),
      "grid_intensity [gCO2e/kWh]", "grid_intensity_source"] : [])];
  const lines = [header.map(cell).join(",")];
  for (const s of data.sections) {
    s.configs.forEach((c, i) => {
      const dims = dimKeys.map((k) => dimensionValue(s, i, k));
      const figures = METRIC_KEYS.flatMap((k) => statCells(c.figures[k]));
      const co2e = data.grid ? [...CO2E_KEYS.flatMap((k) => statCells(c.co2e?.[k])), data.grid.gco2ePerKwh, data.grid.source] : [];
      const flags = c.qualityFlags.map((f) => `${f.flag}:${f.cycles}`).join(";");
      lines.push([s.hardware, c.hash, c.names[0], c.names.join(";"), c.cycles, ...dims, ...figures,
        c.baselinePowerW.stats?.mean, c.energyStatus.join(";"), c.energyScope.join(";"), c.combinedScope.join(";"), flags,
        c.windowS.stats?.mean, c.measurementFlags.map(describeFlag).join(";"), ...co2e].map(cell).join(","));
    });
  }
  return `${lines.join("\n")}\n`;
}

/** A table as CSV: a header of column names, then one line per row, nulls empty. */
export function renderTableCsv(columns: readonly TableColumn[]): string {
  const rows = columns[0]?.values.length ?? 0;
  const lines = [columns.map((c) => cell(c.name)).join(",")];
  for (let i = 0; i < rows; i++) lines.push(columns.map((c) => cell(c.values[i])).join(","));
  return `${lines.join("\n")}\n`;
}

export const renderCyclesCsv = (data: ReportData): string => renderTableCsv(cycleTable(data));
