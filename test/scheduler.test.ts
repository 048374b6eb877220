import { test } from "uvu";
import * as assert from "uvu/assert";
import { executeBuild } from "../src/exec/scheduler.js";
import { planBuild, type PlannedNode } from "../src/graph/plan.js";
import { buildNodes } from "../src/graph/nodes.js";
import { expandLemfile } from "../src/config/expand.js";
import { ResultStore } from "../src/store/store.js";
import { sweep } from "../src/index.js";
import type { Runner, RunContext, RunOutcome } from "../src/exec/runner.js";
import type { BuildEvent } from "../src/exec/events.js";
import { fakeResult } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";

/** A runner that measures nothing: it returns a valid result, or fails the nodes it is told to. */
class FakeRunner implements Runner {
  readonly kind = "local" as const;
  ran: string[] = [];
  constructor(private readonly failing: string[] = [], private readonly onRun?: (node: PlannedNode, ctx: RunContext) => Promise<RunOutcome | void>) {}
  async run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    this.ran.push(`${node.names[0]}#${node.cycle}`);
    const custom = await this.onRun?.(node, ctx);
    if (custom) return custom;
    if (this.failing.includes(node.names[0])) return { ok: false, error: { type: "HarnessError", message: "boom" } };
    return { ok: true, result: fakeResult(node) };
  }
}

function setup(batch: number[], cycles = 1) {
  const { experiments, execution } = expandLemfile({
    defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": batch }), execution: { cycles },
  }, "l.ts");
  const store = new ResultStore(tempDir());
  const planned = () => planBuild(buildNodes(experiments, execution), store.snapshot(), { hardwareFor: () => "cpu:Test CPU" });
  return { store, execution, planned };
}

async function build(s: ReturnType<typeof setup>, runner: Runner, opts: { keepGoing?: boolean; stop?: AbortController } = {}) {
  const events: BuildEvent[] = [];
  const stop = opts.stop ?? new AbortController();
  const outcome = await executeBuild({
    planned: s.planned(), runnerFor: () => runner, store: s.store, execution: s.execution,
    keepGoing: opts.keepGoing, stop: stop.signal, kill: new AbortController().signal, emit: (e) => events.push(e),
  });
  return { outcome, events };
}

test("a second build runs nothing and reports every node cached", async () => {
  const s = setup([1, 2], 2);
  const first = await build(s, new FakeRunner());
  assert.equal(first.outcome.summary, { ran: 4, cached: 0, failed: 0, skipped: 0 });
  const runner = new FakeRunner();
  const second = await build(s, runner);
  assert.equal(second.outcome.summary, { ran: 0, cached: 4, failed: 0, skipped: 0 });
  assert.equal(runner.ran, []);
  assert.equal(second.events.filter((e) => e.type === "cached").length, 4);
});

test("after a failure nothing new starts, unless --keep-going", async () => {
  const stopping = await build(setup([1, 2, 3]), new FakeRunner(["bs-1"]));
  assert.equal(stopping.outcome.summary, { ran: 0, cached: 0, failed: 1, skipped: 2 });
  const going = await build(setup([1, 2, 3]), new FakeRunner(["bs-1"]), { keepGoing: true });
  assert.equal(going.outcome.summary, { ran: 2, cached: 0, failed: 1, skipped: 0 });
});

test("a failed node is recorded and runs again next time as failed before", async () => {
  const s = setup([1]);
  await build(s, new FakeRunner(["bs-1"]));
  const [node] = s.planned();
  assert.equal([node.state, node.reason], ["failed", "failed before"]);
  const again = await build(s, new FakeRunner());
  assert.is(again.outcome.summary.ran, 1);
  assert.is(s.planned()[0].state, "done");
});

test("an interrupt stops the running node, stores nothing for it, and starts nothing new", async () => {
  const s = setup([1, 2, 3]);
  const stop = new AbortController();
  const runner = new FakeRunner([], async (node, ctx) => {
    if (node.names[0] !== "bs-2") return;
    stop.abort();
    assert.ok(ctx.stop.aborted);
    return { ok: false, interrupted: true, error: { type: "Interrupted", message: "stopped" } };
  });
  const { outcome } = await build(s, runner, { stop });
  assert.ok(outcome.interrupted);
  assert.equal(outcome.nodes.map((n) => n.state), ["ran", "skipped", "skipped"]);
  assert.equal(runner.ran, ["bs-1#1", "bs-2#1"]);
  assert.equal(s.planned().map((n) => n.state), ["done", "pending", "pending"], "the interrupted node is not marked failed");
});

test("a node locked by another live build is waited for, and cached when that build measured it", async () => {
  const s = setup([1, 2]);
  const [first] = s.planned();
  const lock = s.store.lock(first.hash, 1);
  assert.ok(lock.acquired);
  // The other build finishes the node a moment later and releases its lock.
  setTimeout(() => { s.store.saveResult(fakeResult(first)); if (lock.acquired) lock.release(); }, 300);
  const runner = new FakeRunner();
  const { outcome, events } = await build(s, runner);
  assert.equal(runner.ran, ["bs-2#1"]);
  assert.equal(outcome.nodes.map((n) => n.state), ["cached", "ran"]);
  assert.ok(events.some((e) => e.type === "warning" && /being measured by another lem build .*waiting for it/.test(e.message)));
});

test.run();
