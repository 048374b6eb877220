import { METRIC_KEYS } from "./aggregate.js";
import { describeFlag } from "./measurement-flags.js";
import { columnHeader, type ReportData } from "./report-data.js";

// results.csv: tidy, one row per config × hardware, one column per figure, units in the headers.

const cell = (v: string | number | boolean | null | undefined): string => {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function renderCsv(data: ReportData): string {
  const dimKeys = [...new Set(data.sections.flatMap((s) => s.dimensions.map((d) => d.key)))];
  const stats = ["mean", "std", "ci95", "cv", "n", "reason"] as const;
  const header = ["hardware", "hash", "name", "names", "cycles", ...dimKeys.map((k) => `config.${k}`),
    ...METRIC_KEYS.flatMap((k) => stats.map((s) => columnHeader(k, s))), "baseline_power_w mean [W]", "energy_status", "quality_flags",
    "window_s mean [s]", "measurement_flags"];
  const lines = [header.map(cell).join(",")];
  for (const s of data.sections) {
    s.configs.forEach((c, i) => {
      const dims = dimKeys.map((k) => {
        const d = s.dimensions.find((x) => x.key === k);
        return d ? s.dimensionValues[i][d.field] : null;
      });
      const figures = METRIC_KEYS.flatMap((k) => {
        const f = c.figures[k];
        return [f.stats?.mean, f.stats?.std, f.stats?.ci95, f.stats?.cv, f.stats?.n ?? 0, f.reason];
      });
      const flags = c.qualityFlags.map((f) => `${f.flag}:${f.cycles}`).join(";");
      lines.push([s.hardware, c.hash, c.names[0], c.names.join(";"), c.cycles, ...dims, ...figures,
        c.baselinePowerW.stats?.mean, c.energyStatus.join(";"), flags,
        c.windowS.stats?.mean, c.measurementFlags.map(describeFlag).join(";")].map(cell).join(","));
    });
  }
  return `${lines.join("\n")}\n`;
}
