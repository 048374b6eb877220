// The build view's progress (done/total, elapsed, ETA) and finished nodes' headline figures (plain lines).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { plainReporter } from "../src/views/plain-reporter.js";
import { ListrReporter, type ViewRow } from "../src/views/listr-reporter.js";
import { BuildProgress, shortReason } from "../src/views/build-progress.js";
import { composeFrame, type FrameRow } from "../src/views/build-frame.js";
import { renderSummary, summarize } from "../src/views/summary.js";
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
  const known = new BuildProgress({ estimate: (n) => (n === a ? 10 : n === b ? 20 : undefined), jobs: 1, now: () => t });
  known.planned([a, b, c]);
  assert.is(known.eta(), undefined); // c has no history and nothing ran yet
  assert.match(known.line(), /^0\/3 done · 0s elapsed · ETA after the first node$/);
  known.started(a); t = 4000;
  known.settled(a, "done", 4);
  // b: 20 s from the store; c: unknown, so this build's mean (4 s)
  assert.is(known.eta(), 24);
  t = 65000;
  assert.match(known.line(), /^1\/3 done · 1m05s elapsed · ETA 24s$/);
  const two = new BuildProgress({ estimate: () => 30, jobs: 2, now: () => 0 });
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
  // A failed node and one never started are not "done": the header counts them apart, and fails.
  assert.match(rows[0].title, /^1\/3 done · 1 failed · 1 not started · 20s elapsed$/);
  assert.is(rows[0].state, "FAILED");
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

test("after Ctrl-C the header counts the nodes that never ran as interrupted, not done, and does not succeed", async () => {
  let t = 0;
  const view = new ListrReporter({ renderer: "silent", estimate: () => 10, jobs: 1, now: () => t, tickMs: 5 });
  const nodes = ["a", "b", "c", "d"].map((n) => node(n, 1));
  view.handle({ type: "planned", nodes, toRun: nodes });
  view.handle({ type: "started", node: nodes[0] }); t = 5000;
  view.handle({ type: "finished", node: nodes[0], seconds: 5, result: measured(nodes[0], 10, null) });
  view.handle({ type: "started", node: nodes[1] });
  view.handle({ type: "interrupting", hard: false });
  await settle();
  assert.match(view.rows()[0].title, /^1\/4 done · 5s elapsed · stopping$/);
  view.handle({ type: "skipped", node: nodes[1], why: "interrupted while running; nothing was stored" });
  for (const n of nodes.slice(2)) view.handle({ type: "skipped", node: n, why: "interrupted before it started" });
  await view.done();
  const rows = view.rows();
  assert.match(rows[0].title, /^1\/4 done · 3 interrupted · 5s elapsed$/);
  assert.not.match(rows[0].title, /4\/4/);
  assert.is(rows[0].state, "FAILED");
  assert.match(view.frameRows().header, /^■ 1\/4 done · 3 interrupted/);
  assert.match(rows[2].title, /^b #1 b0000000: interrupted while running/);
  // The plain lines count the same way.
  const lines: string[] = [];
  const plain = plainReporter((l) => lines.push(l), { now: () => t });
  plain({ type: "planned", nodes, toRun: nodes });
  plain({ type: "finished", node: nodes[0], seconds: 5, result: measured(nodes[0], 10, null) });
  plain({ type: "failed", node: nodes[1], seconds: 1, error: { type: "HarnessError", message: "boom" } });
  plain({ type: "interrupting", hard: false });
  for (const n of nodes.slice(2)) plain({ type: "skipped", node: n, why: "interrupted before it started" });
  assert.match(lines.at(-1)!, /\[1\/4 done · 1 failed · 2 interrupted · 0s elapsed\]$/);
});

test("the ETA weighs each node by the cost model, rescaled by what this build measured", () => {
  let t = 0;
  const [small, big1, big2] = [node("s", 1), node("b1", 1), node("b2", 1)];
  const sizes = new Map([[small, 1], [big1, 10], [big2, 10]]);
  // Nothing stored here: the model's absolute seconds are a guess, so no ETA until a node ran.
  const guess = new BuildProgress({ model: { seconds: (n) => sizes.get(n)!, calibrated: false }, now: () => t });
  guess.planned([small, big1, big2]);
  assert.is(guess.eta(), undefined);
  guess.started(small); t = 2000;
  guess.settled(small, "done", 2);
  // The small node took 2 s for 1 modelled unit: each big one is 20 s, not this build's mean of 2 s.
  assert.is(guess.eta(), 40);
  // With stored wall times on this machine the model is calibrated: an ETA from the start.
  const calibrated = new BuildProgress({ model: { seconds: (n) => sizes.get(n)! * 3, calibrated: true }, now: () => 0 });
  calibrated.planned([small, big1, big2]);
  assert.is(calibrated.eta(), 63);
  // The lemfile's gaps are time too: one before each node after the first, the cycle gap where the cycle changes.
  const [x1, y1, x2] = [node("x", 1), node("y", 1), node("x", 2)];
  const paused = new BuildProgress({ estimate: () => 10, gaps: { experiment: 5, cycle: 60 }, now: () => 0 });
  paused.planned([x1, y1, x2]);
  assert.is(paused.eta(), 10 + (5 + 10) + (60 + 10));
});

const rowsOf = (n: number, state: FrameRow["state"], reason = "new"): FrameRow[] =>
  Array.from({ length: n }, (_, i) => ({ title: `bs-${state}-${i} #1 0123abcd (${reason})`, state }));

test("more rows than the terminal has: the header stays on top, finished rows roll up, queued ones are counted", () => {
  const rows = [...rowsOf(25, "done"), ...rowsOf(2, "failed"), ...rowsOf(3, "cached"), ...rowsOf(1, "running"), ...rowsOf(30, "queued")];
  const frame = composeFrame("⠋ 27/60 done · 2 failed · 1m00s elapsed · ETA 2m00s", rows, { rows: 12, columns: 80 });
  assert.ok(frame.length <= 11, `${frame.length} lines on a 12-row terminal:\n${frame.join("\n")}`);
  assert.match(frame[0], /^⠋ 27\/60 done · 2 failed/);
  assert.match(frame[1], /^ {2}✔ 25 done · ✖ 1 failed \(rolled up; lem status lists every node\)$/);
  assert.ok(frame.some((l) => /bs-running-0/.test(l)), "the running row is shown");
  assert.match(frame.at(-1)!, /^ {2}… \d+ more queued$/);
  const counted = Number(/(\d+) more queued/.exec(frame.at(-1)!)![1]) + frame.filter((l) => /bs-queued/.test(l)).length;
  assert.is(counted, 30, "every queued row is shown or counted");
  assert.ok(frame.some((l) => /bs-cached-2/.test(l)), "the latest finished rows are shown");
  // Any mix on any height: never taller than the terminal, every row shown or counted.
  for (let height = 3; height <= 30; height += 1) {
    for (const [f, r, q] of [[0, 40, 0], [40, 0, 0], [0, 0, 40], [5, 30, 5], [30, 2, 1], [1, 2, 30]]) {
      const mix = [...rowsOf(f, "done"), ...rowsOf(r, "running"), ...rowsOf(q, "queued")];
      const lines = composeFrame("h", mix, { rows: height, columns: 80 });
      assert.ok(lines.length <= Math.max(3, height - 1), `${lines.length} lines for ${f}/${r}/${q} on ${height} rows`);
      const counted = lines.slice(1).reduce((n, l) => n + (/^ {2}[✔⠋◼] bs-/.test(l) ? 1 : 0) + [...l.matchAll(/(\d+) (?:done|more running|more queued)/g)].reduce((a, m) => a + Number(m[1]), 0), 0);
      assert.is(counted, f + r + q, `every row shown or counted for ${f}/${r}/${q} on ${height} rows:\n${lines.join("\n")}`);
    }
  }
  // Rows that fit are all drawn, with a failure's reason under it.
  const small = composeFrame("h", [{ title: "a #1", state: "failed", detail: "HarnessError: boom" }, ...rowsOf(2, "queued")], { rows: 24, columns: 80 });
  assert.equal(small, ["h", "  ✖ a #1", "      HarnessError: boom", "  ◼ bs-queued-0 #1 0123abcd (new)", "  ◼ bs-queued-1 #1 0123abcd (new)"]);
});

test("a reason with two dataset digests is shortened, and no row is wider than the terminal", () => {
  const [a, b] = ["a".repeat(64), "0123456789abcdef".repeat(4)];
  const reason = shortReason(`changed: dataset_sha256 ${a} → ${b}`);
  assert.is(reason, "changed: dataset_sha256 aaaaaaaa… → 01234567…");
  const frame = composeFrame("h", [{ title: `jsonl #1 0123abcd (changed: dataset_sha256 ${a} → ${b}) [1.0s]  12.0 tok/s`, state: "done" }], { rows: 24, columns: 80 });
  for (const line of frame) assert.ok([...line].length < 80, `fits in 80 columns: ${line}`);
  assert.match(frame[1], /…$/);
});

test.run();
