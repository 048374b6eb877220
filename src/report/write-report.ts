import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderCsv, renderTableCsv } from "./csv.js";
import { cycleTable } from "./cycle-table.js";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import { renderParquet } from "./parquet.js";
import type { ReportData } from "./report-data.js";

export interface WrittenReport { html: string; csv: string; cyclesCsv: string; cyclesParquet: string; markdown: string; htmlBytes: number }

/** Writes report.html, results.csv, cycles.csv, cycles.parquet and summary.md into `dir` (made if missing). */
export function writeReport(dir: string, data: ReportData): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const html = renderHtml(data);
  const paths = {
    html: join(dir, "report.html"), csv: join(dir, "results.csv"), cyclesCsv: join(dir, "cycles.csv"),
    cyclesParquet: join(dir, "cycles.parquet"), markdown: join(dir, "summary.md"),
  };
  const cycles = cycleTable(data);
  writeFileSync(paths.html, html);
  writeFileSync(paths.csv, renderCsv(data));
  writeFileSync(paths.cyclesCsv, renderTableCsv(cycles));
  writeFileSync(paths.cyclesParquet, new Uint8Array(renderParquet(cycles)));
  writeFileSync(paths.markdown, renderMarkdown(data));
  return { ...paths, htmlBytes: Buffer.byteLength(html) };
}
