// The matrix's cost model and shard balancing, against hand-computed values; parameter counts against the harness.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SYNTHETIC_PARAMS, costModel, modelParams, modelSeconds } from "../src/graph/cost-model.js";
import { balanceShards, imbalance } from "../src/graph/shard-plan.js";
import { planMatrix } from "../src/graph/matrix.js";
import { config } from "./helpers/fixtures.js";
import type { PlannedNode } from "../src/graph/plan.js";

const HARNESS = fileURLToPath(new URL("../docker/harness/", import.meta.url));

test("SYNTHETIC_PARAMS matches presets.py's n_params for every synthetic preset", () => {
  const python = process.env.LEM_PYTHON ?? "python3";
  const r = spawnSync(python, ["-c", "import json; from lem_harness.models.presets import PRESETS; print(json.dumps({k: p.n_params for k, p in PRESETS.items()}))"], { cwd: HARNESS, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  assert.equal(SYNTHETIC_PARAMS, JSON.parse(r.stdout));
});

test("model sizes are read off names, else 1B", () => {
  assert.is(modelParams("synthetic:8b"), SYNTHETIC_PARAMS["8b"]);
  assert.is(modelParams("meta-llama/Llama-3.2-1B"), 1e9);
  assert.is(modelParams("Qwen/Qwen2.5-0.5B"), 0.5e9);
  assert.is(modelParams("facebook/opt-350m"), 350e6);
  assert.is(modelParams("some/model"), 1e9);
});

test("modelSeconds: start-up + baseline + 2·params FLOPs per token over every prompt, by hand", () => {
  // synthetic:8b, n=10 (+3 warmup), 256 + 128 tokens, batch 1: 8 s + 30 s + 2·8.03e9·13·384 / 2e10 FLOP/s
  const c = config({ model: "synthetic:8b", n: 10 });
  assert.ok(Math.abs(modelSeconds(c) - (8 + 30 + (2 * 8_030_261_248 * 13 * 384) / 2e10)) < 1e-9);
  assert.ok(Math.abs(modelSeconds(config({ model: "synthetic:8b", n: 10, baseline: { enabled: false } })) - (modelSeconds(c) - 30)) < 1e-9);
  // A batch of 4 shares the work: compute ÷ √4.
  const batched = modelSeconds(config({ model: "synthetic:8b", n: 10, pytorch: { batch_size: 4 } }));
  assert.ok(Math.abs(batched - (38 + (modelSeconds(c) - 38) / 2)) < 1e-9);
  // energy.phase_split: the 10 measured prompts again, 256 input tokens and one new token each.
  const split = modelSeconds(config({ model: "synthetic:8b", n: 10, energy: { phase_split: true } }));
  assert.ok(Math.abs(split - modelSeconds(c) - (2 * 8_030_261_248 * 10 * 257) / 2e10) < 1e-9);
});

test("costModel: a measured config keeps its own time; the rest are modelled × Σmeasured/Σmodelled", () => {
  const small = config({ model: "synthetic:tiny", n: 10 });
  const big = config({ model: "synthetic:8b", n: 10 });
  const none = costModel(new Map());
  assert.is(none.scale, 1);
  assert.is(none.seconds("b", big), modelSeconds(big));
  const cost = costModel(new Map([["s", { config: small, seconds: 19 }]])); // this machine is 2× slower than modelled
  assert.ok(Math.abs(cost.scale - 19 / modelSeconds(small)) < 1e-12);
  assert.is(cost.seconds("s", small), 19);
  assert.ok(Math.abs(cost.seconds("b", big) - modelSeconds(big) * cost.scale) < 1e-9);
  assert.equal([cost.measured("s"), cost.measured("b")], [true, false]);
});

const unit = (hash: string, seconds: number, nodes = 1) => ({ hash, seconds, nodes });

test("balanceShards: longest first to the least loaded shard, by hand; never an empty shard", () => {
  const units = [unit("a", 10), unit("b", 7), unit("c", 5), unit("d", 4), unit("e", 2)];
  // 2 shards: a→1 (10), b→2 (7), c→2 (12), d→1 (14), e→2 (14)
  assert.equal(balanceShards(units, 2).map((s) => [s.hashes, s.seconds]), [[["a", "d"], 14], [["b", "c", "e"], 14]]);
  // 3 shards: a→1 (10), b→2 (7), c→3 (5), d→3 (9), e→2 (9): max/mean = 10 / (28/3)
  const three = balanceShards(units, 3);
  assert.equal(three.map((s) => s.hashes), [["a"], ["b", "e"], ["c", "d"]]);
  assert.ok(Math.abs(imbalance(three)! - 30 / 28) < 1e-12);
  // More shards than configs: one per config, none empty; no configs: no shards.
  assert.equal(balanceShards(units.slice(0, 2), 8).map((s) => s.hashes), [["a"], ["b"]]);
  assert.equal(balanceShards([], 4), []);
  assert.is(imbalance([]), null);
  // Ties break on the hash, so any input order gives the same shards.
  const ties = [unit("z", 5), unit("y", 5), unit("x", 5), unit("w", 5)];
  assert.equal(balanceShards(ties, 2), balanceShards([...ties].reverse(), 2));
});

test("planMatrix: only pending nodes, all cycles of a config in one shard, named I-of-N, byte-identical", () => {
  const node = (hash: string, cycle: number, state: PlannedNode["state"], model = "synthetic:tiny") =>
    ({ hash, cycle, state, config: config({ model, n: 10 }), names: [hash], groups: [], hardware: "cpu:test" } as unknown as PlannedNode);
  const planned = [node("h1", 1, "done"), node("h1", 2, "pending"), node("h2", 1, "pending"), node("h2", 2, "pending"), node("h3", 1, "failed", "synthetic:8b"), node("h4", 1, "done")];
  const plan = planMatrix(planned, costModel(new Map()), 3);
  assert.is(plan.pending, 4);
  assert.equal(plan.shards.map((s) => [s.shard, s.name, s.hashes, s.nodes]), [["1/3", "lem-shard-1-of-3", ["h3"], 1], ["2/3", "lem-shard-2-of-3", ["h2"], 2], ["3/3", "lem-shard-3-of-3", ["h1"], 1]]);
  assert.is(JSON.stringify(planMatrix([...planned].reverse(), costModel(new Map()), 3)), JSON.stringify(plan));
  assert.equal(planMatrix(planned.filter((n) => n.state === "done"), costModel(new Map()), 3).shards, []);
});

test.run();
