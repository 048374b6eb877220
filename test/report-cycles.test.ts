// cycles.csv and cycles.parquet: the per-cycle table lem report writes beside results.csv, and the
// README's pandas snippet that reads it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet";
import { METRICS } from "../src/report/aggregate.js";
import { buildReportData } from "../src/report/report-data.js";
import { renderCsv, renderCyclesCsv } from "../src/report/csv.js";
import { cycleTable } from "../src/report/cycle-table.js";
import { renderParquet } from "../src/report/parquet.js";
import { writeReport } from "../src/report/write-report.js";
import type { ExperimentResult } from "../src/store/result.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";
import { syntheticResults } from "./report-fixtures.js";

/** RFC 4180, as a spreadsheet or pandas reads it: quoted fields may hold commas, "" and newlines. */
function parseTable(text: string): { header: string[]; rows: Record<string, string>[] } {
  const lines: string[][] = [];
  let row: string[] = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch !== '"') field += ch;
      else if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { row.push(field); field = ""; }
    else if (ch === "\n") { row.push(field); lines.push(row); row = []; field = ""; }
    else field += ch;
  }
  assert.is(field + row.join(""), "", "the file ends with a newline");
  const [header, ...body] = lines;
  for (const l of body) assert.is(l.length, header.length, `a row of ${l.length} fields under a header of ${header.length}`);
  return { header, rows: body.map((l) => Object.fromEntries(header.map((k, i) => [k, l[i]]))) };
}
const parseCsv = (text: string) => parseTable(text).rows;
const headerOf = (text: string) => parseTable(text).header;

const HOSTILE_HW = 'cpu:Intel(R) Xeon(R) Gold, "6248"\nrev 2';
const HOSTILE_REASON = 'NVML: "power" unreadable, retry\nlater';

/** Two configs on one hardware, hand-made: "one" (batch 1) has a measured and an unmeasured cycle. */
function handMade(): ExperimentResult[] {
  const one = config({ pytorch: { batch_size: 1 } });
  const measured = fakeResult({ hash: "aaaaaaaaaaaaaaaa", cycle: 1, config: one, names: ["one"], hardware: HOSTILE_HW });
  measured.tokens = { input: 40, output: 200, total: 240, prompts: 2 };
  measured.energy = { status: "measured", method: "rapl", total_j: 720, adjusted_j: 120, per_output_token_j: 3.6, avg_power_w: 72, peak_power_w: 80, window_s: 10, reason: null };
  measured.baseline = { power_w: 60, duration_s: 30, reason: null };
  measured.quality_flags = ["thermal_throttle"];
  const unmeasured = fakeResult({ hash: "aaaaaaaaaaaaaaaa", cycle: 2, config: one, names: ["one"], hardware: HOSTILE_HW });
  unmeasured.energy = { ...unmeasured.energy, reason: HOSTILE_REASON, window_s: 9.5 };
  // Names are checked by the schema before they get here; the writer escapes them all the same.
  const other = fakeResult({ hash: "bbbbbbbbbbbbbbbb", cycle: 1, config: config({ pytorch: { batch_size: 4 } }), names: ["b,1", 'b"2'], hardware: HOSTILE_HW });
  return [unmeasured, other, measured];
}

test("cycles.csv: one row per config × cycle, each cycle's own values, units in the headers, the config's varying fields", () => {
  const rows = parseCsv(renderCyclesCsv(buildReportData(handMade())));
  assert.equal(rows.map((r) => [r.name, r.cycle]), [["b,1", "1"], ["one", "1"], ["one", "2"]]);
  const [, c1, c2] = rows;
  assert.is(c1.hash, "aaaaaaaaaaaaaaaa");
  assert.is(c1["config.pytorch.batch_size"], "1");
  assert.is(c1["energy_per_token_j [J/token]"], "3.6");
  assert.is(c1["energy_per_token_adjusted_j [J/token]"], "0.6"); // 120 J ÷ 200 output tokens
  assert.is(c1["energy_per_request_j [J/request]"], "360"); // 720 J ÷ 2 requests
  assert.is(c1["energy_per_input_token_j [J/token]"], "18");
  assert.is(c1["kwh_per_million_output_tokens [kWh/Mtok]"], "1");
  assert.is(c1["energy_total_j [J]"], "720");
  assert.is(c1["output_tokens_per_s [tokens/s]"], "8");
  assert.is(c1["peak_memory_bytes [bytes]"], "1024");
  assert.is(c1["baseline_power_w [W]"], "60");
  assert.is(c1["window_s [s]"], "10");
  assert.is(c1.energy_status, "measured");
  assert.is(c1.quality_flags, "thermal_throttle");
  assert.is(c1["energy_per_token_j reason"], "", "no reason where there is a value");
  assert.is(c2["window_s [s]"], "9.5");
  assert.is(c2.energy_status, "unavailable");
  assert.is(c2.quality_flags, "");
  assert.not.ok(Object.keys(c1).some((k) => /co2e|grid/i.test(k)), "no CO2e column without an intensity");
});

test("cycles.csv: a null figure is empty with its cycle's reason; hostile names, hardware and reasons are escaped as in results.csv", () => {
  const data = buildReportData(handMade());
  const csv = renderCyclesCsv(data);
  const [b, , c2] = parseCsv(csv);
  for (const k of ["energy_per_token_j", "energy_per_request_j", "energy_total_j", "avg_power_w"] as const) {
    assert.is(c2[`${k} [${METRICS[k].unit}]`], "", k);
    assert.is(c2[`${k} reason`], HOSTILE_REASON, k);
  }
  assert.is(c2["baseline_power_w [W]"], "");
  assert.is(c2["baseline_power_w reason"], "test");
  assert.is(c2["output_tokens_per_s [tokens/s]"], "8", "figures that need no energy are still there");
  assert.is(b.hardware, HOSTILE_HW);
  assert.is(b.name, "b,1");
  assert.is(b.names, 'b,1;b"2');
  // One writer for both files: the hardware cell is escaped byte for byte as results.csv escapes it.
  const quoted = '"cpu:Intel(R) Xeon(R) Gold, ""6248""\nrev 2"';
  assert.ok(csv.includes(`\n${quoted},`) && renderCsv(data).includes(`\n${quoted},`), "the hardware, quoted the same in both");
  assert.ok(csv.includes('"NVML: ""power"" unreadable, retry\nlater"'));
});

test("cycles.csv: every cycle of the fixtures, its values those of its result; results.csv's mean is the mean of its cycles", () => {
  const results = [...syntheticResults({ configs: 4, cycles: 3 }), ...syntheticResults({ configs: 2, cycles: 2, hardware: "cpu:Test CPU", unmeasured: true })];
  const data = buildReportData(results);
  const rows = parseCsv(renderCyclesCsv(data));
  assert.is(rows.length, 4 * 3 + 2 * 2);
  for (const r of results) {
    const row = rows.find((x) => x.hash === r.hash && x.hardware === r.hardware && x.cycle === String(r.cycle));
    assert.ok(row, `${r.hash} cycle ${r.cycle} on ${r.hardware}`);
    assert.is(row["config.pytorch.batch_size"], String(r.config.pytorch?.batch_size));
    assert.is(row["output_tokens_per_s [tokens/s]"], String(r.throughput.output_tokens_per_s));
    assert.is(row["energy_per_token_j [J/token]"], r.energy.per_output_token_j === null ? "" : String(r.energy.per_output_token_j));
    assert.is(row["energy_per_token_j reason"], r.energy.reason ?? "");
  }
  assert.ok(rows.filter((r) => r.hardware === "cpu:Test CPU").every((r) => r["energy_per_token_j reason"] === "RAPL not readable: /sys/class/powercap is not mounted"));
  for (const agg of parseCsv(renderCsv(data)).filter((r) => r["energy_per_token_j mean [J/token]"] !== "")) {
    const xs = rows.filter((r) => r.hash === agg.hash && r.hardware === agg.hardware).map((r) => Number(r["energy_per_token_j [J/token]"]));
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    assert.ok(Math.abs(mean - Number(agg["energy_per_token_j mean [J/token]"])) <= 1e-12 * mean, agg.name);
  }
});

test("cycles.csv with a grid intensity: each cycle's CO2e, empty with the energy's reason where it has none", () => {
  const grid = { gco2ePerKwh: 400, source: "--grid-intensity" };
  const [, c1, c2] = parseCsv(renderCyclesCsv(buildReportData(handMade(), { grid })));
  // 360 J = 1e-4 kWh × 400 g/kWh = 0.04 g per request; 1 kWh/Mtok × 400 = 400 g/Mtok
  assert.ok(Math.abs(Number(c1["co2e_per_request_g [gCO2e/request]"]) - 0.04) < 1e-12, c1["co2e_per_request_g [gCO2e/request]"]);
  assert.is(c1["co2e_per_million_output_tokens_g [gCO2e/Mtok]"], "400");
  assert.is(c2["co2e_per_request_g [gCO2e/request]"], "");
  assert.is(c2["co2e_per_request_g reason"], HOSTILE_REASON);
  assert.is(c1["grid_intensity [gCO2e/kWh]"], "400");
  assert.is(c2.grid_intensity_source, "--grid-intensity");
});

/** What a Parquet reader gives back, as the CSV writes it: null empty, INT64 (bigint) and doubles as JS prints them. */
const asCsvText = (v: unknown) => (v === null || v === undefined ? "" : String(v));

test("cycles.parquet reads back to cycles.csv's columns and rows: INT64 whole numbers, DOUBLE figures, UTF-8 text, nulls", async () => {
  const results = [...handMade(), ...syntheticResults({ configs: 12, cycles: 2 }), ...syntheticResults({ configs: 2, cycles: 2, hardware: "cpu:Test CPU", unmeasured: true })];
  const dir = tempDir("lem-report-cycles-");
  const written = writeReport(dir, buildReportData(results, { grid: { gco2ePerKwh: 250, source: '.lem-config.yaml grid_intensity ("Ember", 2024)' } }));
  const csv = readFileSync(written.cyclesCsv, "utf8");
  const csvRows = parseCsv(csv);
  const bytes = readFileSync(written.cyclesParquet);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const schema = parquetSchema(parquetMetadata(file));
  const columns = schema.children.map((c) => c.element);
  assert.equal(columns.map((c) => c.name), headerOf(csv), "the same columns in the same order");
  const typeOf = (name: string) => { const e = columns.find((c) => c.name === name)!; return `${e.type}${e.converted_type ? `/${e.converted_type}` : ""}`; };
  assert.is(typeOf("cycle"), "INT64");
  assert.is(typeOf("config.pytorch.batch_size"), "INT64");
  assert.is(typeOf("config.precision"), "BYTE_ARRAY/UTF8");
  assert.is(typeOf("energy_per_token_j [J/token]"), "DOUBLE");
  assert.is(typeOf("co2e_per_request_g [gCO2e/request]"), "DOUBLE");
  assert.is(typeOf("energy_per_token_j reason"), "BYTE_ARRAY/UTF8");
  assert.ok(columns.every((c) => c.repetition_type === "OPTIONAL"), "every column nullable");

  const rows = await parquetReadObjects({ file });
  assert.is(rows.length, csvRows.length);
  assert.is(rows.length, 3 + 12 * 2 + 2 * 2);
  rows.forEach((row, i) => {
    for (const [k, v] of Object.entries(row)) assert.is(asCsvText(v), csvRows[i][k], `row ${i}, ${k}`);
  });
  const c2 = rows.find((r) => r.name === "one" && r.cycle === 2n)!;
  assert.is(c2.hardware, HOSTILE_HW);
  assert.is(c2["energy_per_token_j [J/token]"], null);
  assert.is(c2["energy_per_token_j reason"], HOSTILE_REASON);
  assert.is(rows.find((r) => r.name === "one" && r.cycle === 1n)!["energy_per_request_j [J/request]"], 360);
});

test("an empty report writes a cycles.csv of its header alone and a cycles.parquet of no rows", async () => {
  const table = cycleTable(buildReportData([]));
  const csv = renderCyclesCsv(buildReportData([]));
  assert.equal(parseCsv(csv), []);
  assert.equal(headerOf(csv), table.map((c) => c.name));
  const rows = await parquetReadObjects({ file: renderParquet(table) });
  assert.is(rows.length, 0);
});

test("the README's pandas snippet names only columns that cycles.csv has", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const snippet = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]).find((s) => s.includes("cycles.parquet"));
  assert.ok(snippet, "a python block that reads cycles.parquet");
  assert.match(snippet!, /pd\.read_csv\("lem-report\/cycles\.csv"/);
  assert.match(snippet!, /pd\.read_parquet\("lem-report\/cycles\.parquet"\)/);
  const header = new Set(headerOf(renderCyclesCsv(buildReportData(handMade()))));
  const strings = [...snippet!.matchAll(/"([^"]+)"/g)].map((m) => m[1]).filter((s) => !/^lem-report\/|^(mean|std|count)$/.test(s));
  assert.ok(strings.length >= 5, strings.join(", "));
  for (const s of strings) assert.ok(header.has(s), `the snippet's "${s}" is a column of cycles.csv`);
});

test.run();
