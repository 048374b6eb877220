// The build view's progress (done/total, elapsed, ETA) and finished nodes' headline figures (plain lines).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { plainReporter } from "../src/report/plain-reporter.js";
import { ListrReporter, type ViewRow } from "../src/report/listr-reporter.js";
import { BuildProgress } from "../src/report/build-progress.js";
import { renderSummary, summarize } from "../src/report/summary.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import type { PlannedNode } from "../src/graph/plan.js";

const node = (name: string, cycle: number): PlannedNode => ({
  hash: `${name.padEnd(8, "0")}00000000`.slice(0, 16), cycle, names: [name], groups: [], config: config(), hardware: "cpu:test", state: "pending", reason: "new",
} as unknown as PlannedNode);

const measured = (n: PlannedNode, tps: number, j: number | null) => {
  const r = fakeResult(n);
  r.throughput.output_tokens_per_s = tps;
  if (j !== null) r.energy = { ...r.energy, status: "measured", method: "test", total_j: j * 8, per_output_token_j: j, reason: null };
  return r;
};

test("ETA comes from the store's durations, then from this build's nodes, divided over the jobs", () => {
  let t = 0;
  const [a, b, c] = [node("a", 1), node("b", 1), node("c", 1)];
  const known = new BuildProgress((n) => (n === a ? 10 : n === b ? 20 : undefined), 1, () => t);
  known.planned([a, b, c]);
  assert.is(known.eta(), undefined); // c has no history and nothing ran yet
  assert.match(known.line(), /^0\/3 done · 0s elapsed · ETA after the first node$/);
  known.started(a); t = 4000;
  known.settled(a, 4);
  // b: 20 s from the store; c: unknown, so this build's mean (4 s)
  assert.is(known.eta(), 24);
  t = 65000;
  assert.match(known.line(), /^1\/3 done · 1m05s elapsed · ETA 24s$/);
  const two = new BuildProgress(() => 30, 2, () => 0);
  two.planned([a, b, c]);
  assert.is(two.eta(), 45);
});

test("plain lines: a finished node shows tokens/s, J/token when measured, and the progress", () => {
  const lines: string[] = [];
  let t = 0;
  const report = plainReporter((l) => lines.push(l), { estimate: () => 10, now: () => t });
  const [a, b] = [node("a", 1), node("b", 1)];
  report({ type: "planned", nodes: [a, b], toRun: [a, b] });
  report({ type: "started", node: a }); t = 10_000;
  report({ type: "finished", node: a, seconds: 10, result: measured(a, 123.45, 0.0123) });
  report({ type: "started", node: b }); t = 20_000;
  report({ type: "finished", node: b, seconds: 10, result: measured(b, 99, null) });
  assert.match(lines[2], /^done {4}a #1 10\.0s {2}123\.5 tok\/s, 0\.0123 J\/token {2}\[1\/2 done · 10s elapsed · ETA 10s\]$/);
  assert.match(lines[4], /^done {4}b #1 10\.0s {2}99\.0 tok\/s {2}\[2\/2 done · 20s elapsed\]$/);
});

test("the summary says what ± is", () => {
  const n = node("a", 1);
  const table = renderSummary([summarize("a", n.hash, [1, 2, 3].map((cycle) => measured({ ...n, cycle }, 100 + cycle, 0.01)))]);
  assert.match(table, /102\.0 ±/);
  assert.match(table, /± is the 95% confidence half-width \(Student t\) over the cycles column's n cycles/);
});

/** Lets listr2 start the rows that are due and redraw titles. */
const settle = () => new Promise((r) => setTimeout(r, 30));
const shown = (rows: ViewRow[]) => rows.map((r) => `${r.state} ${r.title}`);

test("terminal view: queued rows wait (no spinner), a header counts done/total with the ETA, finished rows show their figures", async () => {
  let t = 0;
  const view = new ListrReporter({ renderer: "silent", estimate: () => 10, jobs: 1, now: () => t, tickMs: 5 });
  const [a, b, c, old] = [node("a", 1), node("b", 1), node("c", 1), { ...node("old", 1), state: "done" } as PlannedNode];
  view.handle({ type: "planned", nodes: [old, a, b, c], toRun: [a, b, c] });
  await settle();
  let rows = view.rows();
  assert.match(rows[0].title, /^0\/3 done · 0s elapsed · ETA 30s$/);
  // With --jobs 1 one row is under way; the others are queued (WAITING: drawn without a spinner).
  assert.equal(rows.slice(1).map((r) => r.state), ["SKIPPED", "STARTED", "WAITING", "WAITING"]);

  view.handle({ type: "started", node: a }); t = 12_000;
  view.handle({ type: "finished", node: a, seconds: 12, result: measured(a, 123.45, 0.0123) });
  await settle();
  rows = view.rows();
  assert.match(rows[0].title, /^1\/3 done · 12s elapsed · ETA 20s$/);
  assert.equal(shown(rows.slice(2)), ["COMPLETED a #1 a0000000 (new) [12.0s]  123.5 tok/s, 0.0123 J/token", "STARTED b #1 b0000000 (new)", "WAITING c #1 c0000000 (new)"]);

  view.handle({ type: "started", node: b }); t = 20_000;
  view.handle({ type: "failed", node: b, seconds: 8, error: { type: "HarnessError", message: "boom" } });
  view.handle({ type: "skipped", node: c, why: "not started after an earlier failure (use --keep-going)" });
  await view.done();
  rows = view.rows();
  assert.match(rows[0].title, /^3\/3 done · 20s elapsed$/);
  assert.equal(rows.slice(2).map((r) => r.state), ["COMPLETED", "FAILED", "SKIPPED"]);
});

test("terminal view: as many rows run as the build runs nodes, and a node measured meanwhile by another build settles its row", async () => {
  const view = new ListrReporter({ renderer: "silent", jobs: 2 });
  const [a, b, c] = [node("a", 1), node("b", 1), node("c", 1)];
  view.handle({ type: "planned", nodes: [a, b, c], toRun: [a, b, c] });
  await settle();
  assert.equal(view.rows().slice(1).map((r) => r.state), ["STARTED", "STARTED", "WAITING"]);
  assert.match(view.rows()[0].title, /ETA after the first node/);
  view.handle({ type: "cached", node: a });
  await settle();
  assert.equal(view.rows().slice(1).map((r) => r.state), ["COMPLETED", "STARTED", "STARTED"]);
  assert.match(view.rows()[1].title, /cached \(measured meanwhile by another build\)/);
  view.handle({ type: "finished", node: b, seconds: 1, result: measured(b, 10, null) });
  view.handle({ type: "finished", node: c, seconds: 1, result: measured(c, 10, null) });
  await view.done(); // never hangs once every node has settled
  assert.equal(view.rows().slice(1).map((r) => r.state), ["COMPLETED", "COMPLETED", "COMPLETED"]);
});

test.run();
