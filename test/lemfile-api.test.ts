import { test } from "uvu";
import * as assert from "uvu/assert";
import { sweep, defineLemfile } from "../src/index.js";
import { expandLemfile } from "../src/config/expand.js";
import { buildNodes } from "../src/graph/nodes.js";
import { schemas } from "../src/config/schemas.js";
import { EXPERIMENT_KEYS, type Lemfile, type SweepAxes } from "../src/lemfile/types.js";
import { RESULT_REQUIRED_KEYS } from "../src/store/result.js";
import { LemError } from "../src/errors.js";
import { inputErrorOf } from "./helpers/errors.js";

test("sweep is the Cartesian product of dotted paths, named by its values", () => {
  const points = sweep("bs", { "pytorch.batch_size": [1, 4], precision: ["fp32", "bf16"] });
  assert.equal(points.map((p) => p.name), ["bs-1-fp32", "bs-1-bf16", "bs-4-fp32", "bs-4-bf16"]);
  assert.equal(points[3], {
    name: "bs-4-bf16", sweep: "bs", sweep_point: { "pytorch.batch_size": 4, precision: "bf16" }, pytorch: { batch_size: 4 }, precision: "bf16",
  });
});

test("sweep merges a base under every point", () => {
  const [point] = sweep("t", { "decoder.temperature": [0.5] }, { decoder: { top_k: 5 }, n: 3 });
  assert.equal(point, { name: "t-0.5", sweep: "t", sweep_point: { "decoder.temperature": 0.5 }, decoder: { top_k: 5, temperature: 0.5 }, n: 3 });
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


test("an invalid sweep value is an error naming the sweep, axis and value, never a skipped point", () => {
  const text = inputErrorOf(() => expandLemfile({
    defaults: { model: "synthetic:tiny" },
    experiments: sweep("bs", { "pytorch.batch_size": [0, 2], precision: ["fp32", "bf16"] }),
  }, "lemfile.ts", { skipInvalid: true }));
  assert.match(text, /^lemfile\.ts: /);
  assert.match(text, /sweep "bs": axis pytorch\.batch_size = 0 is invalid in every point: pytorch\.batch_size: must be >= 1, got 0/);
  assert.not.match(text, /precision/, "precision's values are valid elsewhere: not blamed");
});

test("an invalid explicit experiment is an error, even beside valid ones", () => {
  const text = inputErrorOf(() => expandLemfile({
    defaults: { model: "synthetic:tiny" },
    experiments: [{ name: "ok" }, { name: "typo", precision: "fp7" as "fp32" }],
  }, "lemfile.ts", { skipInvalid: true }));
  assert.match(text, /experiment "typo": precision: expected one of "fp32", "fp16", "bf16", got "fp7"/);
});

test("a typo'd sweep axis is one error for the whole axis", () => {
  const text = inputErrorOf(() => expandLemfile({
    defaults: { model: "m" }, experiments: sweep("bs", { "pytorch.batchsize": [1, 2] } as SweepAxes),
  }, "l.ts"));
  assert.match(text, /sweep "bs": axis pytorch\.batchsize is invalid for every value: pytorch\.batchsize: unknown field \(did you mean "batch_size"\?\)/);
});

test("an invalid value in a sweep's base is blamed on the base, not on an axis", () => {
  const text = inputErrorOf(() => expandLemfile({
    defaults: { model: "m" }, experiments: sweep("s", { n: [1, 2] }, { precision: "fp7" as "fp32" }),
  }, "l.ts"));
  assert.match(text, /sweep "s": precision: expected one of .* got "fp7" \(no axis sets it: fix the sweep's base or the lemfile's defaults\)/);
  assert.not.match(text, /axis n/);
});

test("a value that makes every point of a backend invalid is an error, not a silently dropped backend", () => {
  const text = inputErrorOf(() => expandLemfile({
    defaults: { model: "m" },
    experiments: sweep("b", { backend: ["pytorch", "vllm"], "pytorch.batch_size": [1, 2] }, {}, { skip_invalid: true }),
  }, "l.ts"));
  assert.match(text, /sweep "b": axis backend = "vllm" is invalid in every point: pytorch: a "pytorch" section does not match backend "vllm"/);
});

// A point made invalid by a combination: here the user edited one point after sweep() made it.
const combination = (options?: { skip_invalid: boolean }) => sweep("c", { "pytorch.batch_size": [1, 2], precision: ["fp32", "bf16"] }, {}, options)
  .map((p) => (p.name === "c-2-bf16" ? { ...p, pytorch: { batch_size: -2 } } : p));

test("a point invalid only as a combination of valid values is an error unless skipping was asked for", () => {
  const text = inputErrorOf(() => expandLemfile({ defaults: { model: "m" }, experiments: combination() }, "l.ts"));
  assert.match(text, /sweep "c": point "c-2-bf16" is invalid \(a combination of values valid elsewhere\): pytorch\.batch_size: must be >= 1, got -2/);
  assert.match(text, /skip_invalid: true|--skip-invalid/, "the message says how to skip");
});

test("skip_invalid on sweep() or --skip-invalid skips combination points, reported by name", () => {
  for (const [experiments, skipInvalid] of [[combination({ skip_invalid: true }), false], [combination(), true]] as const) {
    const out = expandLemfile({ defaults: { model: "m" }, experiments }, "l.ts", { skipInvalid });
    assert.equal(out.experiments.map((e) => e.names[0]), ["c-1-fp32", "c-1-bf16", "c-2-fp32"]);
    assert.equal(out.invalid.map((i) => i.name), ["c-2-bf16"]);
    assert.match(out.invalid[0].errors[0], /pytorch\.batch_size: must be >= 1, got -2/);
  }
});

test("sweep_point and skip_invalid are not hashed", () => {
  const hash = (entry: object) => expandLemfile({ defaults: { model: "m" }, experiments: [entry] }, "l.ts").experiments[0].hash;
  const [point] = sweep("s", { n: [3] }, {}, { skip_invalid: true });
  assert.is(hash({ ...point, name: "x" }), hash({ name: "x", n: 3 }));
});

test("sweeping over models, presets and dataset paths gives valid, readable names", () => {
  const out = expandLemfile({
    experiments: sweep("m", { model: ["meta-llama/Llama-3.2-1B", "Qwen/Qwen2.5-0.5B", "synthetic:tiny"], dataset: ["data/a.jsonl", "synthetic"] }),
  }, "l.ts", () => "1".repeat(64));
  assert.equal(out.experiments.map((e) => e.names[0]), [
    "m-meta-llama_Llama-3.2-1B-data_a.jsonl", "m-meta-llama_Llama-3.2-1B-synthetic",
    "m-Qwen_Qwen2.5-0.5B-data_a.jsonl", "m-Qwen_Qwen2.5-0.5B-synthetic",
    "m-synthetic_tiny-data_a.jsonl", "m-synthetic_tiny-synthetic",
  ]);
  assert.is(out.experiments[0].config.model, "meta-llama/Llama-3.2-1B", "only the name is sanitised, never the value");
});

test("two values that read alike after sanitising get distinct, stable names", () => {
  const names = sweep("m", { model: ["org/x", "org:x", "org/x"] }).map((p) => p.name!);
  assert.is(names[0], names[2], "the same value, the same name");
  assert.is.not(names[0], names[1]);
  for (const name of names) assert.match(name, /^m-org_x_[0-9a-f]{6}$/);
  assert.equal(sweep("m", { model: ["org:x", "org/x"] }).map((p) => p.name).reverse(), names.slice(0, 2), "order does not change a name");
});

test("a hand-written name is still checked strictly; unicode letters are names too", () => {
  assert.match(inputErrorOf(() => expandLemfile({ experiments: [{ name: "my run", model: "m" }] }, "l.ts")), /experiments\.0\.name: must match pattern/);
  assert.throws(() => sweep("my sweep", { n: [1] }), /sweep\("my sweep"\): the name must/);
  const out = expandLemfile({ defaults: { model: "m" }, experiments: [{ name: "café-模型" }, ...sweep("ü", { model: ["Ω/x"] })] }, "l.ts");
  assert.equal(out.experiments.map((e) => e.names[0]), ["café-模型", "ü-Ω_x"]);
});

test("an empty or non-list sweep axis is an error naming the axis", () => {
  assert.throws(() => sweep("s", { n: [] }), /sweep\("s"\): axis "n" has no values/);
  assert.throws(() => sweep("s", { n: 3 } as unknown as SweepAxes), /sweep\("s"\): axis "n" must be a list of values/);
});

test("a sweep too large to plan is an error before its points are made", () => {
  const many = Array.from({ length: 1001 }, (_, i) => i);
  assert.throws(() => sweep("s", { n: many, random_seed: many }), /sweep\("s"\): n \(1001\) × random_seed \(1001\) = .* points, more than lem plans/);
});

test("cycles beyond the limit, or too many nodes, name execution.cycles", () => {
  assert.match(inputErrorOf(() => expandLemfile({ experiments: [{ model: "m" }], execution: { cycles: 1e9 } }, "l.ts")), /execution\.cycles: must be <= 10000, got 1000000000/);
  const seeds = Array.from({ length: 200 }, (_, i) => i);
  assert.match(inputErrorOf(() => expandLemfile({ defaults: { model: "m" }, experiments: sweep("s", { random_seed: seeds }), execution: { cycles: 10000 } }, "l.ts")),
    /execution\.cycles: 10000 cycles × 200 experiment entries = 2,000,000 nodes, more than lem plans/);
});

test("values JSON cannot hold are errors naming the experiment and field", () => {
  const text = inputErrorOf(() => expandLemfile({
    defaults: { model: "m", n: NaN },
    experiments: [{ name: "a", max_output_tokens: Infinity }, { decoder: { temperature: () => 1 } }, { n: 3n }],
  } as unknown as Lemfile, "l.ts"));
  assert.match(text, /^l\.ts: values are not plain data/);
  assert.match(text, /defaults\.n is NaN/);
  assert.match(text, /experiment "a": max_output_tokens is Infinity/);
  assert.match(text, /experiments\[1\]: decoder\.temperature is a function/);
  assert.match(text, /experiments\[2\]: n is a bigint \(3n\)/);
  assert.match(inputErrorOf(() => expandLemfile(() => ({}), "l.ts")), /l\.ts: the default export is a function/);
  assert.throws(() => sweep("s", { n: [1, NaN] }), /sweep\("s"\): axis "n", value \[1\] is NaN/);
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
  const text = inputErrorOf(() => expandLemfile({ experiments: [{ name: "ok", model: "m" }, { name: "bad", model: "m", backend: "pytorch", vllm: { engine: {} } }] }, "l.ts"));
  assert.match(text, /experiment "bad": vllm: a "vllm" section does not match backend "pytorch"/);
});

test("an unknown field suggests the closest known one", () => {
  const text = inputErrorOf(() => expandLemfile({ experiments: [{ name: "ok", model: "m" }, { name: "bad", model: "m", pytorch: { batchsize: 2 } as object }] }, "l.ts"));
  assert.match(text, /experiment "bad": pytorch\.batchsize: unknown field \(did you mean "batch_size"\?\)/);
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
