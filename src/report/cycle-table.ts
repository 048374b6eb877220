import { CO2E_KEYS, CO2E_METRICS, co2eFactor, METRIC_KEYS, METRICS } from "./aggregate.js";
import { dimensionKeys, dimensionValue, type ReportData } from "./report-data.js";

// The per-cycle table: long format, one row per config × hardware × cycle, each figure's value in
// that cycle (units in the headers) and, where it is null, why. cycles.csv and cycles.parquet are
// two writers of these same columns, so a script reads the same frame from either.

export type CellValue = string | number | boolean | null;
/** integer: whole numbers only (cycle, batch size); number: any finite number. */
export type ColumnType = "string" | "integer" | "number" | "boolean";
export interface TableColumn { name: string; type: ColumnType; values: CellValue[] }

/** The narrowest type that holds every non-null value; values of mixed kinds become their text. */
function typed(name: string, values: CellValue[]): TableColumn {
  const present = values.filter((v) => v !== null);
  if (present.length > 0 && present.every((v) => typeof v === "boolean")) return { name, type: "boolean", values };
  if (present.length > 0 && present.every((v) => typeof v === "number")) {
    return { name, type: present.every((v) => Number.isSafeInteger(v)) ? "integer" : "number", values };
  }
  return { name, type: "string", values: values.map((v) => (v === null ? null : String(v))) };
}

export function cycleTable(data: ReportData): TableColumn[] {
  const rows = data.sections.flatMap((s) => s.configs.flatMap((c, i) => s.cycles[i].map((cycle) => ({ s, c, i, cycle }))));
  type Row = (typeof rows)[number];
  const col = (name: string, type: ColumnType, of: (r: Row) => CellValue): TableColumn => ({ name, type, values: rows.map(of) });
  const grid = data.grid;
  return [
    col("hardware", "string", (r) => r.s.hardware),
    col("hash", "string", (r) => r.c.hash),
    col("name", "string", (r) => r.c.names[0]),
    col("names", "string", (r) => r.c.names.join(";")),
    col("cycle", "integer", (r) => r.cycle.cycle),
    ...dimensionKeys(data).map((k) => typed(`config.${k}`, rows.map((r) => dimensionValue(r.s, r.i, k)))),
    ...METRIC_KEYS.flatMap((k) => [
      col(`${k} [${METRICS[k].unit}]`, "number", (r) => r.cycle.values[k].value),
      col(`${k} reason`, "string", (r) => r.cycle.values[k].reason),
    ]),
    col("baseline_power_w [W]", "number", (r) => r.cycle.baselinePowerW.value),
    col("baseline_power_w reason", "string", (r) => r.cycle.baselinePowerW.reason),
    col("window_s [s]", "number", (r) => r.cycle.windowS.value),
    col("energy_status", "string", (r) => r.cycle.energyStatus),
    col("energy_scope", "string", (r) => r.cycle.energyScope),
    col("energy_combined_scope", "string", (r) => r.cycle.combinedScope),
    // None is null rather than "": CSV writes both empty, so pandas reads the same frame from either file.
    col("quality_flags", "string", (r) => r.cycle.qualityFlags.join(";") || null),
    // CO2e only where the user gave a grid intensity, as in results.csv.
    ...(grid ? [
      ...CO2E_KEYS.flatMap((k) => {
        const from = CO2E_METRICS[k].from;
        return [
          col(`${k} [${CO2E_METRICS[k].unit}]`, "number", (r) => { const v = r.cycle.values[from].value; return v === null ? null : v * co2eFactor(k, grid); }),
          col(`${k} reason`, "string", (r) => r.cycle.values[from].reason),
        ];
      }),
      col("grid_intensity [gCO2e/kWh]", "number", () => grid.gco2ePerKwh),
      col("grid_intensity_source", "string", () => grid.source),
    ] : []),
  ];
}
