import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderCsv } from "./csv.js";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import type { ReportData } from "./report-data.js";

export interface WrittenReport { html: string; csv: string; markdown: string; htmlBytes: number }

/** Writes report.html, results.csv and summary.md into `dir` (made if missing). */
export function writeReport(dir: string, data: ReportData): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const html = renderHtml(data);
  const paths = { html: join(dir, "report.html"), csv: join(dir, "results.csv"), markdown: join(dir, "summary.md") };
  writeFileSync(paths.html, html);
  writeFileSync(paths.csv, renderCsv(data));
  writeFileSync(paths.markdown, renderMarkdown(data));
  return { ...paths, htmlBytes: Buffer.byteLength(html) };
}
