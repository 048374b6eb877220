import { test } from "uvu";
import * as assert from "uvu/assert";
import { sweep, defineLemfile } from "../src/index.js";
import { expandLemfile } from "../src/config/expand.js";
import { buildNodes } from "../src/graph/nodes.js";
import { schemas } from "../src/config/schemas.js";
import { EXPERIMENT_KEYS } from "../src/lemfile/types.js";
import { RESULT_REQUIRED_KEYS } from "../src/report/result.js";
import { LemError } from "../src/errors.js";

test("sweep is the Cartesian product of dotted paths, named by its values", () => {
  const points = sweep("bs", { "pytorch.batch_size": [1, 4], precision: ["fp32", "bf16"] });
  assert.equal(points.map((p) => p.name), ["bs-1-fp32", "bs-1-bf16", "bs-4-fp32", "bs-4-bf16"]);
  assert.equal(points[3], { name: "bs-4-bf16", sweep: "bs", pytorch: { batch_size: 4 }, precision: "bf16" });
});

test("sweep merges a base under every point", () => {
  const [point] = sweep("t", { "decoder.temperature": [0.5] }, { decoder: { top_k: 5 }, n: 3 });
  assert.equal(point, { name: "t-0.5", sweep: "t", decoder: { top_k: 5, temperature: 0.5 }, n: 3 });
});

test("defaults merge under every experiment; the experiment's own values win", () => {
  const { experiments } = expandLemfile(defineLemfile({
    defaults: { model: "synthetic:tiny", n: 8, pytorch: { batch_size: 2, device: "cpu" } },
    experiments: [{ name: "a", pytorch: { batch_size: 4 } }],
  }), "lemfile.ts");
  assert.is(experiments[0].config.n, 8);
  assert.equal(experiments[0].config.pytorch, { batch_size: 4, device: "cpu", attn_implementation: "sdpa", num_threads: null });
});

test("identical configs from different entries are one node with all their names", () => {
  const { experiments } = expandLemfile({
    defaults: { model: "synthetic:tiny" },
    experiments: [{ name: "fp32-bs1", precision: "fp32", pytorch: { batch_size: 1 } }, ...sweep("bs", { "pytorch.batch_size": [1, 2], precision: ["fp32"] })],
  }, "lemfile.ts");
  assert.is(experiments.length, 2);
  assert.equal(experiments[0].names, ["fp32-bs1", "bs-1-fp32"]);
});

test("a sweep point that fails validation is reported by name and skipped", () => {
  const out = expandLemfile({
    defaults: { model: "synthetic:tiny" },
    experiments: sweep("bs", { "pytorch.batch_size": [0, 2] }),
  }, "lemfile.ts");
  assert.is(out.experiments.length, 1);
  assert.equal(out.invalid.map((i) => i.name), ["bs-0"]);
  assert.match(out.invalid[0].errors[0], /pytorch\.batch_size: must be >= 1, got 0/);
});

test("nothing valid left is an input error naming the file, experiment and field", () => {
  try {
    expandLemfile({ experiments: [{ name: "x", model: "m", precision: "fp8" }] }, "my/lemfile.ts");
    assert.unreachable();
  } catch (error) {
    assert.instance(error, LemError);
    const e = error as LemError;
    assert.is(e.exitCode, 2);
    assert.match(e.message, /my\/lemfile\.ts/);
    assert.match(e.notes.join("\n"), /experiment "x": precision: expected one of "fp32", "fp16", "bf16", got "fp8"/);
  }
});

test("one name for two different configs is an input error", () => {
  assert.throws(() => expandLemfile({ experiments: [{ name: "a", model: "m" }, { name: "a", model: "n" }] }, "l.ts"), /used for two different configs/);
});

test("a backend section that does not match backend is an error with a fix", () => {
  const out = expandLemfile({ experiments: [{ name: "ok", model: "m" }, { name: "bad", model: "m", backend: "pytorch", vllm: { engine: {} } }] }, "l.ts");
  assert.match(out.invalid[0].errors.join(), /vllm: a "vllm" section does not match backend "pytorch"/);
});

test("an unknown field suggests the closest known one", () => {
  const out = expandLemfile({ experiments: [{ name: "ok", model: "m" }, { name: "bad", model: "m", pytorch: { batchsize: 2 } }] }, "l.ts");
  assert.match(out.invalid[0].errors[0], /pytorch\.batchsize: unknown field \(did you mean "batch_size"\?\)/);
});

test("cycles × experiments give the nodes, ordered by cycle_order", () => {
  const { experiments, execution } = expandLemfile({
    defaults: { model: "m" }, experiments: sweep("bs", { "pytorch.batch_size": [1, 2, 3] }),
    execution: { cycles: 2, cycle_order: "interleaved" },
  }, "l.ts");
  const label = (order: "sequential" | "interleaved" | "shuffled", seed = 0) =>
    buildNodes(experiments, { ...execution, cycle_order: order, shuffle_seed: seed }).map((n) => `${n.names[0]}#${n.cycle}`);
  assert.equal(label("sequential"), ["bs-1#1", "bs-1#2", "bs-2#1", "bs-2#2", "bs-3#1", "bs-3#2"]);
  assert.equal(label("interleaved"), ["bs-1#1", "bs-2#1", "bs-3#1", "bs-1#2", "bs-2#2", "bs-3#2"]);
  const shuffled = label("shuffled", 7);
  assert.equal(label("shuffled", 7), shuffled, "the same seed gives the same order");
  assert.equal(shuffled.slice(0, 3).sort(), ["bs-1#1", "bs-2#1", "bs-3#1"], "each cycle completes before the next");
  const orders = new Set([1, 2, 3, 4, 5, 6].map((seed) => label("shuffled", seed).join()));
  assert.ok(orders.size > 1, "different seeds give different orders");
});

test("the TypeScript types list exactly the schema's fields", () => {
  assert.equal(Object.keys(EXPERIMENT_KEYS).sort(), Object.keys((schemas.experiment as { properties: object }).properties).sort());
  assert.equal([...RESULT_REQUIRED_KEYS].sort(), [...(schemas.result as { required: string[] }).required].sort());
});

test.run();
