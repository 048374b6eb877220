import { resolve } from "node:path";
import { nonNegativeNumber, parse } from "./args.js";
import { loadProject, requireMatch } from "../project/project.js";
import { out, err } from "./output.js";
import { makeSelector } from "../graph/select.js";
import { buildReportData } from "../report/report-data.js";
import { writeReport } from "../report/write-report.js";
import { checkOutputFolder, writeFailed } from "./output-target.js";
import { resolveGridIntensity } from "../config/user-config.js";
import { parseSlo } from "../report/slo.js";

export const REPORT_HELP = `lem report [SELECTOR...] — report.html (charts, offline), results.csv, cycles.csv, cycles.parquet
and summary.md of stored results

  --lemfile PATH       the lemfile (default ./lemfile.ts)
  --out DIR            where to write them (default ./lem-report)
  --grid-intensity G   gCO2e per kWh of the grid that powered the machine: adds CO2e figures
                       (wins over grid_intensity in .lem-config.yaml; neither: no CO2e, never a guess)
  --slo ttft_ms=T,tpot_ms=T,e2e_ms=T
                       serving SLOs in ms (any of them): goodput per config, and per hardware the
                       lowest-energy config that meets them (90 % of its requests meet every one)
  --json               {"html","csv","cycles_csv","cycles_parquet","markdown","configs","hardware":[...],"grid_intensity","slo"}

Figures are per config and per hardware, over the stored cycles: mean ± 95 % confidence interval.
cycles.csv and cycles.parquet hold the same per-cycle table: one row per config × hardware × cycle.
summary.md fits $GITHUB_STEP_SUMMARY:  cat lem-report/summary.md >> "$GITHUB_STEP_SUMMARY"
`;

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { lemfile: { type: "string" }, out: { type: "string" }, json: { type: "boolean" }, "grid-intensity": { type: "string" }, slo: { type: "string" }, help: { type: "boolean", short: "h" } }, "report");
  if (values.help) { out(REPORT_HELP); return 0; }
  const gridFlag = nonNegativeNumber(values["grid-intensity"], "--grid-intensity", "250 (gCO2e/kWh)");
  const slo = values.slo === undefined ? null : parseSlo(values.slo);
  const outDir = resolve(values.out ?? "lem-report");
  checkOutputFolder(outDir, "--out");
  const project = await loadProject(values.lemfile);
  const select = makeSelector(positionals);
  const experiments = project.expanded.experiments.filter((e) => select({ hash: e.hash, names: e.names, groups: e.groups, config: e.config, cycle: 1 }));
  requireMatch(positionals, experiments.length);
  const names = new Map(experiments.map((e) => [e.hash, e.names]));
  const results = experiments.flatMap((e) => project.store.results(e.hash));
  if (results.length === 0) err("warning: no results stored for the selected experiments yet (lem build measures them); the report is empty");
  const grid = resolveGridIntensity(gridFlag, project.user);
  const data = buildReportData(results, { namesOf: (hash) => names.get(hash), grid, slo });
  let written;
  try {
    written = writeReport(outDir, data);
  } catch (error) {
    throw writeFailed(error, outDir, "--out");
  }
  const configs = data.sections.reduce((n, s) => n + s.configs.length, 0);
  if (values.json) {
    out(JSON.stringify({ html: written.html, csv: written.csv, cycles_csv: written.cyclesCsv, cycles_parquet: written.cyclesParquet, markdown: written.markdown, configs, hardware: data.sections.map((s) => s.hardware),
      grid_intensity: grid && { gco2e_per_kwh: grid.gco2ePerKwh, source: grid.source }, slo }));
    return 0;
  }
  out(`${configs} configs on ${data.sections.length} hardware, ${results.length} cycles`);
  out(`  ${written.html}  (${(written.htmlBytes / 1e6).toFixed(2)} MB)\n  ${written.csv}\n  ${written.cyclesCsv}\n  ${written.cyclesParquet}\n  ${written.markdown}`);
  return 0;
}
