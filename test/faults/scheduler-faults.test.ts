// The scheduler under faults, with a stand-in runner: the store re-checked after each lock, and a
// store that cannot be written stopping the build with its error, never a half-told outcome.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { executeBuild } from "../../src/exec/scheduler.js";
import { planBuild, type PlannedNode } from "../../src/graph/plan.js";
import { buildNodes } from "../../src/graph/nodes.js";
import { expandLemfile } from "../../src/config/expand.js";
import { ResultStore } from "../../src/store/store.js";
import { StoreError } from "../../src/store/store-error.js";
import { sweep } from "../../src/index.js";
import type { Runner, RunOutcome } from "../../src/exec/runner.js";
import type { BuildEvent } from "../../src/exec/events.js";
import type { ExperimentResult } from "../../src/store/result.js";
import { fakeResult } from "../helpers/fixtures.js";
import { tempDir } from "../helpers/temp.js";

class CountingRunner implements Runner {
  readonly kind = "local" as const;
  ran: string[] = [];
  async run(node: PlannedNode): Promise<RunOutcome> {
    this.ran.push(`${node.names[0]}#${node.cycle}`);
    return { ok: true, result: fakeResult(node) };
  }
}

function setup(store: ResultStore) {
  const { experiments, execution } = expandLemfile({
    defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": [1, 2, 3] }),
  }, "l.ts");
  const snapshot = store.snapshot();
  const planned = planBuild(buildNodes(experiments, execution), snapshot, { hardwareFor: () => "cpu:Test CPU" });
  return { planned, execution, snapshot };
}

function build(store: ResultStore, { planned, execution, snapshot }: ReturnType<typeof setup>, runner: Runner) {
  const events: BuildEvent[] = [];
  const outcome = executeBuild({
    planned, runnerFor: () => runner, store, execution, snapshot,
    stop: new AbortController().signal, kill: new AbortController().signal, emit: (e) => events.push(e),
  });
  return { outcome, events };
}

test("a node another build measured after this one planned is cached once its lock is taken, not measured again", async () => {
  const store = new ResultStore(tempDir());
  const plan = setup(store);
  const planned = plan.planned;
  store.saveResult(fakeResult(planned[1])); // the other build finished it between our plan and our lock
  const runner = new CountingRunner();
  const { outcome } = build(store, plan, runner);
  const result = await outcome;
  assert.is(runner.ran.length, 2);
  assert.not.ok(runner.ran.includes(`${planned[1].names[0]}#1`));
  assert.equal([result.summary.ran, result.summary.cached], [2, 1]);
});

/** A store whose disk fills after `room` result writes. */
class FillingStore extends ResultStore {
  constructor(root: string, private room: number) { super(root); }
  override saveResult(result: ExperimentResult): string {
    if (this.room-- <= 0) throw new StoreError(`no space left while writing ${this.root}/x`, `free space on the filesystem holding ${this.root}`, 1, "ENOSPC");
    return super.saveResult(result);
  }
}

test("a full store stops the build with its StoreError: earlier results kept, nothing started after", async () => {
  const store = new FillingStore(tempDir(), 1);
  const plan = setup(store);
  const planned = plan.planned;
  const runner = new CountingRunner();
  const { outcome, events } = build(store, plan, runner);
  const error = await outcome.then(() => undefined, (e: unknown) => e);
  assert.instance(error, StoreError);
  assert.match((error as StoreError).message, /no space left/);
  assert.is((error as StoreError).exitCode, 1);
  assert.is(runner.ran.length, 2, "the node after the failed write was not started");
  assert.is(store.results(planned[0].hash).length, 1, "the result written before the disk filled is kept");
  assert.ok(events.some((e) => e.type === "skipped" && /results folder cannot be written/.test(e.why)));
});

test("a result folder whose config.json was lost gets it back on the next build, with a warning", async () => {
  const root = tempDir();
  const store = new ResultStore(root);
  const { planned } = setup(store);
  await build(store, setup(store), new CountingRunner()).outcome;
  const { rmSync, writeFileSync, readFileSync } = await import("node:fs");
  rmSync(`${root}/${planned[0].hash}/config.json`);
  writeFileSync(`${root}/${planned[1].hash}/config.json`, '{"hash_version": 1, "ha');
  const { outcome, events } = build(store, setup(store), new CountingRunner());
  assert.equal((await outcome).summary.cached, 3);
  const warnings = events.filter((e) => e.type === "warning").map((e) => (e as { message: string }).message);
  assert.ok(warnings.some((w) => w.includes(`${planned[0].hash}/config.json was missing: rewritten from the lemfile`)), warnings.join("\n"));
  assert.ok(warnings.some((w) => w.includes(`${planned[1].hash}/config.json was unreadable: rewritten from the lemfile`)), warnings.join("\n"));
  for (const node of planned.slice(0, 2)) {
    assert.equal(JSON.parse(readFileSync(`${root}/${node.hash}/config.json`, "utf8")).config, node.config);
  }
});

test.run();
