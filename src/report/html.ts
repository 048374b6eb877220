import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { chartRows, dimensionChart, dimensionMetrics, round, scatterChart, scattersOf, tableMetrics, timelineChart } from "./charts.js";
import { energyMissingByReason, missingWhere, type HardwareSection, type ReportData } from "./report-data.js";
import { HIGH_CV, SHORT_WINDOW_S } from "./measurement-flags.js";
import { servingCharts } from "./serving-charts.js";

// report.html: one file that works offline. Vega, Vega-Lite and vega-embed are inlined from
// node_modules, the data is one JSON block, and a Content-Security-Policy forbids any fetch.

const require = createRequire(import.meta.url);

/** The minified browser build of a package, found beside its main entry (their exports hide build/). */
function libraryScript(pkg: "vega" | "vega-lite" | "vega-embed"): string {
  const file = { vega: "vega.min.js", "vega-lite": "vega-lite.min.js", "vega-embed": "vega-embed.min.js" }[pkg];
  return readFileSync(join(dirname(require.resolve(pkg)), file), "utf8");
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Text that can sit inside <script> whatever it contains. */
const scriptSafe = (s: string) => s.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");

/** The page's data block: per section, the configs dataset in columns, the chart specs, the timelines. */
export function pageData(data: ReportData) {
  return {
    generatedAt: data.generatedAt,
    timelinePointsMax: data.timelinePointsMax,
    downsampled: data.downsampled,
    sections: data.sections.map((s, i) => {
      const rows = chartRows(s);
      const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const ys = dimensionMetrics(s);
      return {
        id: `hw${i}`, hardware: s.hardware,
        dimensions: s.dimensions.map((d) => ({ key: d.key, field: d.field })),
        metrics: tableMetrics(s).map((m) => ({ field: m.field, label: m.label, unit: m.unit })),
        columns, rows: rows.map((r) => columns.map((c) => r[c] ?? null)),
        // The page draws each entry as a captioned chart; the serving charts (none offline) follow the
        // scatters under the same key, so the script, and an offline page, stay byte for byte the same.
        scatters: [
          ...scattersOf(s).map((sc) => ({ id: sc.id, title: `${sc.y.label} against ${sc.x.label}`, spec: scatterChart(s, sc.id) })),
          ...servingCharts(s),
        ],
        // Each dimension chart in every figure the section measured; a picker chooses which is drawn.
        figures: ys.map((m) => ({ field: m.field, label: m.label })),
        dimensionCharts: s.dimensions.map((d, j) => ({
          id: `dim${j}`, key: d.key, specs: Object.fromEntries(ys.map((m) => [m.field, dimensionChart(s, d, m)])),
        })),
        timelineSpec: timelineChart(),
        timelines: s.timelines.map((t) => ({
          hash: t.hash, name: t.name, baselineW: t.baselineW, samples: t.samples,
          points: t.points.map(([c, x, w]) => [c, round(x), round(w)]),
        })),
      };
    }),
  };
}

// Runs in the page: expands the columnar rows, embeds every chart, fills the table and the timeline picker.
const PAGE_SCRIPT = String.raw`
const data = JSON.parse(document.getElementById("lem-data").textContent);
const views = {};
const pending = [];
const fmt = (x) => x === null || x === undefined ? "" : typeof x === "number" ? (Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : String(+x.toPrecision(5))) : String(x);
const el = (tag, attrs = {}, text) => { const e = document.createElement(tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; return e; };
const embed = (target, spec, datasets) => vegaEmbed(target, Object.assign({}, spec, { datasets }), { actions: false, renderer: "svg" }).then((r) => { views[target.id] = r.view; return r; });
for (const s of data.sections) {
  const rows = s.rows.map((r) => Object.fromEntries(s.columns.map((c, i) => [c, r[i]])));
  const section = document.getElementById(s.id);
  for (const c of s.scatters) {
    const box = el("figure"); box.append(el("figcaption", {}, c.title)); const div = el("div", { id: s.id + "-" + c.id, class: "chart" }); box.append(div);
    section.querySelector(".charts").append(box);
    pending.push(embed(div, c.spec, { configs: rows }));
  }
  // The sweep-dimension charts draw the figure picked (energy per token where measured, else throughput).
  const figurePick = section.querySelector("select.figure");
  s.figures.forEach((f) => figurePick.append(el("option", { value: f.field }, f.label)));
  if (s.figures.length < 2 || s.dimensionCharts.length === 0) figurePick.disabled = true;
  const drawDimensions = () => s.dimensionCharts.map((c) => {
    const f = s.figures.find((x) => x.field === figurePick.value);
    document.getElementById(s.id + "-" + c.id + "-caption").textContent = f.label + " by " + c.key;
    return embed(document.getElementById(s.id + "-" + c.id), c.specs[f.field], { configs: rows });
  });
  if (s.figures.length) for (const c of s.dimensionCharts) {
    const box = el("figure"); box.append(el("figcaption", { id: s.id + "-" + c.id + "-caption" })); box.append(el("div", { id: s.id + "-" + c.id, class: "chart" }));
    section.querySelector(".charts").append(box);
  }
  if (s.figures.length) pending.push(...drawDimensions());
  figurePick.addEventListener("change", () => { window.lemRedraw = Promise.all(drawDimensions()); });
  // Colour the scatter charts by any sweep dimension (the first one to start with).
  const colourPick = section.querySelector("select.colour");
  s.dimensions.forEach((d, i) => colourPick.append(el("option", { value: String(i) }, d.key)));
  if (s.dimensions.length < 2) colourPick.disabled = true;
  colourPick.addEventListener("change", () => {
    const d = s.dimensions[Number(colourPick.value)];
    window.lemRedraw = Promise.all(s.scatters.map((c) => {
      const spec = JSON.parse(JSON.stringify(c.spec));
      for (const layer of spec.layer) if (layer.encoding.color && layer.encoding.color.field) Object.assign(layer.encoding.color, { field: d.field, title: d.key });
      return embed(document.getElementById(s.id + "-" + c.id), spec, { configs: rows });
    }));
  });
  const pick = section.querySelector("select.timeline");
  const tdiv = section.querySelector("div.timeline");
  if (s.timelines.length === 0) { pick.disabled = true; pick.append(el("option", {}, "no power timeline stored")); }
  s.timelines.forEach((t, i) => pick.append(el("option", { value: String(i) }, t.name + " (" + t.hash + ")")));
  const drawTimeline = () => {
    const t = s.timelines[Number(pick.value)];
    if (!t) return Promise.resolve();
    section.querySelector(".timeline-note").textContent = t.samples + " samples stored" + (t.points.length < t.samples ? ", drawn as " + t.points.length + " bucket means" : "") + "; baseline " + (t.baselineW === null ? "not measured" : fmt(t.baselineW) + " W (dashed)");
    return embed(tdiv, s.timelineSpec, { timeline: t.points.map(([cycle, t, w]) => ({ cycle, t, w })), baseline: t.baselineW === null ? [] : [{ w: t.baselineW }] });
  };
  pick.addEventListener("change", drawTimeline);
  pending.push(drawTimeline());
  // The table: every figure as mean ± CI95, sortable by any column (click a header).
  const cols = [["name", "name"], ["hash", "hash"], ["cycles", "cycles"], ...s.dimensions.map((d) => [d.field, d.key]),
    ...s.metrics.map((m) => [m.field, m.label + " [" + m.unit + "]"]), ["flags", "flags"]];
  const table = section.querySelector("table");
  const head = el("tr"); cols.forEach(([k, label]) => { const th = el("th", { "data-key": k }, label); head.append(th); });
  table.append(el("thead")); table.tHead.append(head);
  const body = el("tbody"); table.append(body);
  let sortKey = s.metrics.some((m) => m.field === "energy_per_token_j") ? "energy_per_token_j" : "output_tokens_per_s", asc = sortKey === "energy_per_token_j";
  const render = () => {
    const sorted = [...rows].sort((a, b) => { const x = a[sortKey], y = b[sortKey]; if (x === y) return 0; if (x === null) return 1; if (y === null) return -1; return (x < y ? -1 : 1) * (asc ? 1 : -1); });
    body.replaceChildren(...sorted.map((r) => { const tr = el("tr"); cols.forEach(([k]) => {
      const ci = r[k + "_ci95"], why = r[k + "_reason"];
      const td = el("td", why ? { title: why } : {}, r[k] === null ? "n/a" : fmt(r[k]) + (ci ? " ±" + fmt(ci) : "")); tr.append(td); }); return tr; }));
    head.querySelectorAll("th").forEach((th) => th.className = th.dataset.key === sortKey ? (asc ? "asc" : "desc") : "");
  };
  head.addEventListener("click", (e) => { const k = e.target.dataset && e.target.dataset.key; if (!k) return; if (k === sortKey) asc = !asc; else { sortKey = k; asc = true; } render(); });
  render();
}
window.lemViews = views;
window.lemReady = Promise.all(pending).then(() => { document.body.dataset.ready = "true"; });
`;

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{border-bottom:1px solid #ccc}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1em}figure{margin:0}figcaption{font-weight:600}
.chart,div.timeline{width:100%}table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}td:first-child,td:nth-child(2){white-space:nowrap;text-align:left}th.asc::after{content:" ▲"}th.desc::after{content:" ▼"}.note{color:#a40}.small{color:#666;font-size:12px}
.table-wrap{max-height:600px;overflow:auto}`;

/** What a section says above its charts: which figures it lacks (the reason is in the page header) and its flags. */
function sectionNotes(s: HardwareSection): string {
  const notes: string[] = [];
  const without = s.energyMissing.reduce((n, m) => n + m.configs, 0);
  if (without === s.configs.length) notes.push("No energy figures on this hardware (why: at the top of the page); the charts show the throughput, latency and memory that were measured.");
  else if (without > 0) notes.push(`${without} of ${s.configs.length} configs here have no energy per token (why: at the top of the page).`);
  const short = s.configs.filter((c) => c.measurementFlags.some((f) => f.kind === "short_window")).length;
  const noisy = s.configs.filter((c) => c.measurementFlags.some((f) => f.kind === "high_cv")).length;
  if (short) notes.push(`${short} of ${s.configs.length} configs have a measurement window under ${SHORT_WINDOW_S} s: too short for a stable reading (raise n or max_output_tokens).`);
  if (noisy) notes.push(`${noisy} of ${s.configs.length} configs vary by more than ${HIGH_CV * 100} % (CV) from cycle to cycle: see the flags column.`);
  const mixed = s.configs.filter((c) => c.measurementFlags.some((f) => f.kind === "mixed_stack")).length;
  if (mixed) notes.push(`${mixed} of ${s.configs.length} configs average cycles run on different software (runner, image or library versions): see the flags column; lem build --force re-measures them on one.`);
  return notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join("\n");
}

/** The whole report page as one string. */
export function renderHtml(data: ReportData): string {
  const json = JSON.stringify(pageData(data)).replace(/</g, "\\u003c");
  const sections = data.sections.map((s, i) => `<section id="hw${i}">
<h2>Hardware: ${escapeHtml(s.hardware)}</h2>
<p class="small">${s.configs.length} configs; sweep dimensions: ${s.dimensions.map((d) => escapeHtml(d.key)).join(", ") || "none (every config has the same fields)"}. Bars are 95 % confidence intervals (Student t over cycles); the dashed black line is the Pareto front.</p>
${sectionNotes(s)}
<label>colour by <select class="colour"></select></label> <label>figure by sweep dimension <select class="figure"></select></label>
<div class="charts"></div>
<h3>Power timeline</h3>
<label>experiment <select class="timeline"></select></label> <span class="timeline-note small"></span>
<div class="timeline" id="hw${i}-timeline"></div>
<h3>Every config</h3>
<div class="table-wrap"><table></table></div>
</section>`).join("\n");
  const missing = energyMissingByReason(data).map((m) => `<p class="note energy-missing">Energy not measured on ${escapeHtml(missingWhere(m.where))}: ${escapeHtml(m.reason)}</p>`).join("\n");
  // The intensity's source is named wherever CO2e appears; without one the page has no CO2e at all.
  const grid = data.grid
    ? `<p class="small grid-intensity">CO2e figures use a grid intensity of ${escapeHtml(String(data.grid.gco2ePerKwh))} gCO2e/kWh, from ${escapeHtml(data.grid.source)}: CO2e = kWh × that intensity.</p>`
    : "";
  const downsampling = data.downsampled
    ? `Power timelines are downsampled to at most ${data.timelinePointsMax} points per cycle (means of equal-count buckets) to keep this file small; the stored results hold every sample.`
    : "Power timelines are drawn with every stored sample.";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<title>lem report</title><style>${STYLE}</style></head>
<body>
<h1>lem report</h1>
<p class="small">Generated ${escapeHtml(data.generatedAt)}. Hardware is never mixed: each section holds the configs measured on one machine type. ${downsampling}</p>
${missing}
${grid}
${sections || "<p>No results stored for the selected experiments.</p>"}
<script>${scriptSafe(libraryScript("vega"))}</script>
<script>${scriptSafe(libraryScript("vega-lite"))}</script>
<script>${scriptSafe(libraryScript("vega-embed"))}</script>
<script type="application/json" id="lem-data">${json}</script>
<script>${scriptSafe(PAGE_SCRIPT)}</script>
</body></html>
`;
}
