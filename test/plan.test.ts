import { test } from "uvu";
import * as assert from "uvu/assert";
import { planBuild, describeChange } from "../src/graph/plan.js";
import { buildNodes } from "../src/graph/nodes.js";
import { expandLemfile } from "../src/config/expand.js";
import { makeSelector, shardSelector } from "../src/graph/select.js";
import { ResultStore } from "../src/store/store.js";
import { sweep } from "../src/index.js";
import { fakeResult, config } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";

const HW = "cpu:Test CPU";
const nodesOf = (batch: number[], cycles = 1) => {
  const { experiments, execution } = expandLemfile({
    defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": batch }), execution: { cycles },
  }, "l.ts");
  return buildNodes(experiments, execution);
};
const plan = (store: ResultStore, nodes: ReturnType<typeof nodesOf>, opts: { force?: boolean; hw?: string } = {}) =>
  planBuild(nodes, store.snapshot(), { hardwareFor: () => opts.hw ?? HW, force: opts.force });
const measure = (store: ResultStore, nodes: ReturnType<typeof nodesOf>) => {
  for (const n of nodes) {
    store.saveConfig(n.hash, n.names, n.groups, n.config, 1);
    store.saveResult(fakeResult({ ...n, hardware: HW }));
  }
};

test("unmeasured nodes are pending as new; measured ones are done", () => {
  const store = new ResultStore(tempDir());
  const nodes = nodesOf([1, 2]);
  assert.equal(plan(store, nodes).map((n) => [n.state, n.reason]), [["pending", "new"], ["pending", "new"]]);
  measure(store, nodes.slice(0, 1));
  assert.equal(plan(store, nodes).map((n) => n.state), ["done", "pending"]);
});

test("an edited named experiment is pending with the field, old and new value", () => {
  const store = new ResultStore(tempDir());
  measure(store, nodesOf([1, 2]));
  const { experiments } = expandLemfile({ defaults: { model: "synthetic:tiny" }, experiments: [{ name: "bs-2", pytorch: { batch_size: 3 } }] }, "l.ts");
  const [node] = plan(store, buildNodes(experiments, { cycles: 1, cycle_order: "sequential", shuffle_seed: 0, experiment_gap_seconds: 0, cycle_gap_seconds: 0 }));
  assert.is(node.state, "pending");
  assert.is(node.reason, "changed: pytorch.batch_size 2 → 3");
});

test("an edited sweep value (which renames the point) is traced to the point it replaced", () => {
  const store = new ResultStore(tempDir());
  measure(store, nodesOf([1, 2]));
  const planned = plan(store, nodesOf([1, 3]));
  assert.equal(planned.map((n) => [n.names[0], n.state, n.reason]), [["bs-1", "done", undefined], ["bs-3", "pending", "changed: pytorch.batch_size 2 → 3"]]);
});

test("raising cycles leaves measured cycles done and adds new ones", () => {
  const store = new ResultStore(tempDir());
  measure(store, nodesOf([1], 2));
  assert.equal(plan(store, nodesOf([1], 3)).map((n) => `${n.cycle}:${n.state}`), ["1:done", "2:done", "3:pending"]);
});

test("a new cycle of a measured config says so, never a sweep edit it did not have", () => {
  const store = new ResultStore(tempDir());
  measure(store, nodesOf([1, 4], 2));
  // bs-4 left the lemfile (an orphan of the sweep) and cycles went from 2 to 3: bs-1 #3 is only a new cycle.
  const planned = plan(store, nodesOf([1], 3));
  assert.equal(planned.map((n) => `${n.names[0]}#${n.cycle}:${n.state}:${n.reason}`), ["bs-1#1:done:undefined", "bs-1#2:done:undefined", "bs-1#3:pending:new cycle"]);
});

test("a failed cycle is failed with its error; force makes done nodes pending as forced", () => {
  const store = new ResultStore(tempDir());
  const nodes = nodesOf([1, 2]);
  measure(store, nodes.slice(0, 1));
  store.saveFailure(nodes[1].hash, 1, HW, { type: "HarnessError", message: "boom", at: "" });
  const planned = plan(store, nodes);
  assert.equal([planned[1].state, planned[1].reason, planned[1].error], ["failed", "failed before", "HarnessError: boom"]);
  assert.equal(plan(store, nodes, { force: true }).map((n) => n.reason), ["forced", "failed before"]);
});

test("a result from other hardware does not satisfy a node", () => {
  const store = new ResultStore(tempDir());
  const nodes = nodesOf([1]);
  measure(store, nodes);
  const [node] = plan(store, nodes, { hw: "gpu:NVIDIA H100 x1" });
  assert.equal([node.state, node.reason], ["pending", `other hardware: ${HW} → gpu:NVIDIA H100 x1`]);
});

test("selectors match name globs and hash prefixes", () => {
  const nodes = nodesOf([1, 2, 16]);
  assert.equal(nodes.filter(makeSelector(["bs-1*"])).map((n) => n.names[0]), ["bs-1", "bs-16"]);
  assert.equal(nodes.filter(makeSelector([nodes[1].hash.slice(0, 6)])).map((n) => n.names[0]), ["bs-2"]);
  assert.is(nodes.filter(makeSelector([])).length, 3);
});

test("shards are disjoint, never empty, cover every node, and keep a config's cycles together", () => {
  const nodes = nodesOf([1, 2, 3, 4, 5, 6, 7, 8], 2);
  const parts = [1, 2, 3].map((i) => nodes.filter(shardSelector(`${i}/3`, nodes)));
  assert.is(parts.flat().length, nodes.length);
  assert.is(new Set(parts.flat()).size, nodes.length);
  for (const part of parts) assert.ok(part.length > 0);
  for (const part of parts) for (const n of part) assert.ok(part.some((m) => m.hash === n.hash && m.cycle !== n.cycle));
  // The same nodes in another order (another machine's expansion) give the same shards.
  const reversed = [...nodes].reverse();
  assert.equal([1, 2, 3].map((i) => reversed.filter(shardSelector(`${i}/3`, reversed)).map((n) => n.hash).sort()), parts.map((p) => p.map((n) => n.hash).sort()));
  assert.throws(() => shardSelector("4/3", nodes), /--shard: expected I\/N/);
});

test("describeChange lists every differing leaf", () => {
  assert.is(describeChange(config({ n: 4, precision: "fp32" }), config({ n: 8, precision: "bf16" })), "n 4 → 8, precision fp32 → bf16");
});

test.run();
