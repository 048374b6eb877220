// End to end: the real CLI, the real harness, a real (tiny, synthetic) model on this CPU.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TempProject } from "./helpers/project.js";
import { requirePython } from "./helpers/python.js";

const python = requirePython("build.e2e.test.ts");
const FAST = `model: "synthetic:tiny", n: 4, max_input_tokens: 8, max_output_tokens: 8, precision: "fp32",
  warmup: { n_warmup: 1 }, baseline: { enabled: false }, pytorch: { num_threads: 1 }`;
const lemfile = (batches: number[], cycles: number) => `{
  defaults: { ${FAST} },
  experiments: [
    { name: "bs-1-again", pytorch: { batch_size: 1 } },
    ...sweep("bs", { "pytorch.batch_size": [${batches.join(", ")}] }),
  ],
  execution: { cycles: ${cycles} },
}`;

type BuildJson = { nodes: { name: string; hash: string; cycle: number; state: string }[]; summary: { ran: number; cached: number; failed: number } };
type StatusJson = { nodes: { name: string; names: string[]; hash: string; cycle: number; state: string; reason?: string }[] };
const ran = (b: BuildJson) => b.nodes.filter((n) => n.state === "ran").map((n) => `${n.name}#${n.cycle}`).sort();

if (python) {
  const project = new TempProject(lemfile([1, 2], 2), { LEM_PYTHON: python, LEM_RUNNER_PYTORCH: "local" });

  test("the project lives outside the repo and imports llenergymeasure without installing it", () => {
    assert.not.ok(project.dir.startsWith(join(import.meta.dirname, "..")));
    assert.not.ok(existsSync(join(project.dir, "node_modules")));
  });

  test("a duplicate point is one node: 2 configs × 2 cycles = 4 measured nodes", async () => {
    const build = await project.json<BuildJson>("build");
    assert.equal(build.summary, { ran: 4, cached: 0, failed: 0, skipped: 0 });
    assert.is(project.resultFiles().length, 4);
    const status = await project.json<StatusJson>("status");
    assert.equal(status.nodes.find((n) => n.name === "bs-1-again")?.names, ["bs-1-again", "bs-1"]);
  });

  test("the local runner measured the tiny model for real", async () => {
    const show = await project.json<{ hash: string; results: { tokens: { output: number; prompts: number }; throughput: { output_tokens_per_s: number }; latency: { ttft_ms: { p50: number } }; energy: { total_j: null; reason: string }; effective_config: { runner_type: string }; hardware: string }[] }>("show", "bs-2");
    assert.is(show.results.length, 2);
    for (const r of show.results) {
      assert.is(r.tokens.prompts, 4);
      assert.is(r.tokens.output, 32);
      assert.ok(r.throughput.output_tokens_per_s > 0);
      assert.ok(r.latency.ttft_ms.p50 > 0);
      assert.is(r.effective_config.runner_type, "local");
      assert.match(r.hardware, /^(cpu|gpu):/);
      if (!r.hardware.startsWith("gpu:")) {
        assert.is(r.energy.total_j, null, "no energy counter here: null, never a guess");
        assert.ok(r.energy.reason.length > 10);
      }
    }
  });

  test("a second build runs nothing", async () => {
    const build = await project.json<BuildJson>("build");
    assert.equal(build.summary, { ran: 0, cached: 4, failed: 0, skipped: 0 });
  });

  test("editing one sweep value re-runs exactly the affected nodes, and status says why", async () => {
    project.write(lemfile([1, 3], 2));
    const status = await project.json<StatusJson>("status");
    const pending = status.nodes.filter((n) => n.state === "pending");
    assert.equal(pending.map((n) => `${n.name}#${n.cycle}`), ["bs-3#1", "bs-3#2"]);
    for (const n of pending) assert.is(n.reason, "changed: pytorch.batch_size 2 → 3");
    const build = await project.json<BuildJson>("build");
    assert.equal(ran(build), ["bs-3#1", "bs-3#2"]);
  });

  test("raising cycles runs only the new cycles", async () => {
    project.write(lemfile([1, 3], 3));
    const build = await project.json<BuildJson>("build");
    assert.equal(ran(build), ["bs-1-again#3", "bs-3#3"]);
    assert.is(build.summary.cached, 4);
  });

  test("--force with a selector re-measures only what it selects", async () => {
    const dry = await project.json<StatusJson>("build", "--dry-run", "--force", "bs-3");
    assert.equal(dry.nodes.map((n) => `${n.name}#${n.cycle}:${n.reason}`), ["bs-3#1:forced", "bs-3#2:forced", "bs-3#3:forced"]);
    const status = await project.json<StatusJson>("status");
    const hash = status.nodes.find((n) => n.name === "bs-1-again")!.hash;
    const byHash = await project.json<BuildJson>("build", "--force", hash.slice(0, 6));
    assert.equal(ran(byHash), ["bs-1-again#1", "bs-1-again#2", "bs-1-again#3"]);
    assert.is(byHash.nodes.length, 3, "only the selected nodes are considered");
  });

  test("a harness failure (vllm not installed) fails the node with its type, keeps the dir, and status says failed", async () => {
    const failing = new TempProject(`{ experiments: [{ name: "v", model: "synthetic:tiny", backend: "vllm", n: 2 }] }`, { LEM_PYTHON: python, LEM_RUNNER_VLLM: "local" });
    const r = await failing.run("build", "--json");
    assert.is(r.code, 1);
    const node = (JSON.parse(r.stdout) as { nodes: { state: string; error: { type: string; message: string; exchangeDir: string } }[] }).nodes[0];
    assert.equal([node.state, node.error.type], ["failed", "BackendUnavailable"]);
    assert.match(node.error.message, /vllm/);
    assert.ok(existsSync(node.error.exchangeDir));
    const status = await failing.json<StatusJson>("status");
    assert.equal([status.nodes[0].state, status.nodes[0].reason], ["failed", "failed before"]);
  });

  test("a JSONL dataset (relative path) is measured, and editing the file re-runs what uses it", async () => {
    const data = new TempProject(`{ experiments: [{ name: "jsonl", ${FAST}, dataset: "prompts.jsonl" }] }`, { LEM_PYTHON: python, LEM_RUNNER_PYTORCH: "local" });
    const prompts = (words: string) => [1, 2, 3, 4].map((i) => JSON.stringify({ prompt: `${words} ${i}` })).join("\n");
    writeFileSync(join(data.dir, "prompts.jsonl"), prompts("hello there"));
    const first = await data.json<BuildJson>("build");
    assert.equal(first.summary, { ran: 1, cached: 0, failed: 0, skipped: 0 });
    writeFileSync(join(data.dir, "prompts.jsonl"), prompts("something else"));
    const status = await data.json<StatusJson>("status");
    assert.equal(status.nodes[0].state, "pending");
    assert.match(status.nodes[0].reason ?? "", /^changed: dataset_sha256 [0-9a-f]{64} → [0-9a-f]{64}$/);
    assert.is((await data.json<BuildJson>("build")).summary.ran, 1);
  });

  test("a selector that matches nothing is an input error", async () => {
    const r = await project.run("build", "nope-*");
    assert.is(r.code, 2);
    assert.match(r.stderr, /no experiment matches "nope-\*"/);
  });
}

test.run();
