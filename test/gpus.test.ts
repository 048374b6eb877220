// --gpus: one node per GPU set in parallel, never two on one GPU, tested through an injected
// inventory (DevicePool over fake GPUs; LEM_GPU_INVENTORY for the CLI) on a machine without GPUs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { executeBuild } from "../src/exec/scheduler.js";
import { DevicePool, selectGpus, gpusNeeded, type Gpu } from "../src/exec/devices.js";
import { planBuild, type PlannedNode } from "../src/graph/plan.js";
import { buildNodes } from "../src/graph/nodes.js";
import { expandLemfile } from "../src/config/expand.js";
import { ResultStore } from "../src/store/store.js";
import { LemError } from "../src/errors.js";
import { sweep } from "../src/index.js";
import type { Runner, RunContext, RunOutcome } from "../src/exec/runner.js";
import { fakeResult } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";
import { fakeProject, STACK } from "./faults/helpers.js";

const fourGpus = (): Gpu[] => ["0", "1", "2", "3"].map((index) => ({ index, uuid: `GPU-${index}aaaaaaa-0000-0000-0000-000000000000` }));

interface Span { name: string; start: number; end: number; gpus: string[] }

/** Records when each node ran and on which GPUs; each takes 20–60 ms. */
class TimingRunner implements Runner {
  readonly kind = "local" as const;
  spans: Span[] = [];
  async run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const start = performance.now();
    await sleep(20 + ((node.config.random_seed ?? 0) % 5) * 10);
    this.spans.push({ name: `${node.names[0]}#${node.cycle}`, start, end: performance.now(), gpus: (ctx.devices ?? []).map((g) => g.index) });
    return { ok: true, result: fakeResult(node) };
  }
}

const overlaps = (a: Span, b: Span) => a.start < b.end && b.start < a.end;

/** Most spans running at one instant (a sweep over start and end times). */
function peakConcurrency(spans: Span[]): number {
  const events = spans.flatMap((s) => [[s.start, 1], [s.end, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, step] of events) peak = Math.max(peak, (now += step));
  return peak;
}

function plan(raw: unknown) {
  const { experiments, execution } = expandLemfile(raw, "lemfile.ts");
  const store = new ResultStore(tempDir());
  return { store, execution, planned: planBuild(buildNodes(experiments, execution), store.snapshot(), { hardwareFor: () => "gpu:Fake x1" }) };
}

async function run(raw: unknown, pool: DevicePool, runner = new TimingRunner(), jobs?: number) {
  const { store, execution, planned } = plan(raw);
  const outcome = await executeBuild({
    planned, store, execution, runnerFor: () => runner, devices: pool, jobs,
    stop: new AbortController().signal, kill: new AbortController().signal, emit: () => {},
  });
  return { outcome, spans: runner.spans };
}

const tenNodes = {
  defaults: { model: "synthetic:tiny" },
  experiments: [
    ...sweep("s", { random_seed: [1, 2, 3, 4, 5, 6, 7, 8, 9] }),
    { name: "tp2", model: "synthetic:tiny", backend: "vllm", vllm: { engine: { tensor_parallel_size: 2 } }, random_seed: 3 },
  ],
};

test("4 GPUs, 10 nodes: at most 4 at once, never two on one GPU, a tp=2 node holds two", async () => {
  const { outcome, spans } = await run(tenNodes, new DevicePool(fourGpus()));
  assert.equal(outcome.summary, { ran: 10, cached: 0, failed: 0, skipped: 0 });
  const peak = peakConcurrency(spans);
  for (const a of spans) {
    for (const b of spans.filter((b) => b !== a && overlaps(a, b))) {
      assert.equal(a.gpus.filter((g) => b.gpus.includes(g)), [], `${a.name} and ${b.name} shared a GPU`);
    }
  }
  assert.ok(peak <= 4, `peak ${peak} nodes at once`);
  assert.ok(peak >= 3, `the GPUs were used in parallel (peak ${peak})`);
  assert.is(spans.find((s) => s.name === "tp2#1")!.gpus.length, 2);
  for (const s of spans.filter((s) => s.name !== "tp2#1")) assert.is(s.gpus.length, 1, s.name);
});

test("a node on the CPU waits for the whole machine and runs alone", async () => {
  const raw = { defaults: { model: "synthetic:tiny" }, experiments: [...sweep("g", { random_seed: [1, 2, 3, 4, 5] }), { name: "cpu", model: "synthetic:tiny", pytorch: { device: "cpu" } }] };
  const { spans } = await run(raw, new DevicePool(fourGpus()));
  const cpu = spans.find((s) => s.name === "cpu#1")!;
  assert.is(cpu.gpus.length, 4);
  assert.equal(spans.filter((s) => s !== cpu && overlaps(s, cpu)).map((s) => s.name), []);
});

test("--jobs caps the GPU slots", async () => {
  const { spans } = await run(tenNodes, new DevicePool(fourGpus()), new TimingRunner(), 2);
  assert.is(peakConcurrency(spans), 2);
});

test("a node needing more GPUs than given is an input error before any node starts", async () => {
  const runner = new TimingRunner();
  const raw = { experiments: [{ name: "big", model: "synthetic:tiny", backend: "vllm", vllm: { engine: { tensor_parallel_size: 8 } } }] };
  try {
    await run(raw, new DevicePool(fourGpus()), runner);
    assert.unreachable("should have thrown");
  } catch (error) {
    assert.instance(error, LemError);
    assert.is((error as LemError).exitCode, 2);
    assert.match((error as LemError).message, /big #1 needs 8 GPUs .* --gpus gives 4 \(0,1,2,3\)/);
  }
  assert.equal(runner.spans, []);
});

test("the pool is first come first served: a tp=2 request is not overtaken by later single ones", async () => {
  const pool = new DevicePool(fourGpus().slice(0, 2));
  const never = new AbortController().signal;
  const first = (await pool.acquire(1, never))!;
  const order: string[] = [];
  const pair = pool.acquire(2, never).then((g) => { order.push("pair"); return g!; });
  const single = pool.acquire(1, never).then((g) => { order.push("single"); return g!; });
  await sleep(5);
  assert.equal(order, [], "one GPU is free, but the pair asked first");
  pool.release(first);
  const gotPair = await pair;
  assert.equal(gotPair.map((g) => g.index), ["0", "1"]);
  pool.release(gotPair);
  await single;
  assert.equal(order, ["pair", "single"]);
});

test("an aborted wait gives nothing and lets the next request through", async () => {
  const pool = new DevicePool(fourGpus().slice(0, 1));
  const held = (await pool.acquire(1, new AbortController().signal))!;
  const stop = new AbortController();
  const waiting = pool.acquire(1, stop.signal);
  stop.abort();
  assert.is(await waiting, undefined);
  pool.release(held);
  assert.equal((await pool.acquire(1, new AbortController().signal))!.map((g) => g.index), ["0"]);
});

test("--gpus names GPUs by index or UUID prefix; unknown, repeated or absent ones are errors", () => {
  const inv = fourGpus();
  assert.equal(selectGpus("all", inv).map((g) => g.index), ["0", "1", "2", "3"]);
  assert.equal(selectGpus("2, 0", inv).map((g) => g.index), ["2", "0"]);
  assert.equal(selectGpus("GPU-1aaaaaaa", inv).map((g) => g.index), ["1"]);
  assert.throws(() => selectGpus("7", inv), (e: LemError) => e.exitCode === 2 && /no GPU "7"/.test(e.message) && /0,1,2,3/.test(e.fix ?? ""));
  assert.throws(() => selectGpus("1,1", inv), (e: LemError) => /listed twice/.test(e.message));
  assert.throws(() => selectGpus("all", []), (e: LemError) => /no GPU found/.test(e.message));
  assert.is(gpusNeeded({ model: "m", backend: "pytorch", pytorch: { device: "cpu" } } as never), 0);
});

test("lem build --gpus: each harness sees only its own GPU (by UUID), and results record it", async () => {
  const log = join(tempDir(), "gpus.log");
  const experiments = Array.from({ length: 4 }, (_, i) => `{ name: "e${i}", model: "fake:ok", random_seed: ${i} }`);
  const project = fakeProject(`{ experiments: [${experiments.join(", ")}] }`, {
    LEM_GPU_INVENTORY: "0:GPU-aaaaaaaa-1111,1:GPU-bbbbbbbb-2222", LEM_FAKE_GPU_LOG: log, LEM_FAKE_SLEEP: "0.4",
  });
  const r = await project.run("build", "--gpus", "all");
  assert.is(r.code, 0, r.stderr);
  const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" "));
  assert.is(lines.length, 4);
  const spans = lines.map(([hash, , start, end, gpu]) => ({ name: hash, start: Number(start), end: Number(end), gpus: [gpu] }));
  for (const s of spans) assert.ok(["GPU-aaaaaaaa-1111", "GPU-bbbbbbbb-2222"].includes(s.gpus[0]), s.gpus[0]);
  assert.ok(spans.some((a) => spans.some((b) => a !== b && overlaps(a, b))), "two nodes ran at once");
  for (const a of spans) for (const b of spans) if (a !== b && overlaps(a, b)) assert.is.not(a.gpus[0], b.gpus[0]);
  const result = JSON.parse(readFileSync(join(project.dir, "results", project.resultFiles()[0]), "utf8"));
  assert.is(result.effective_config.gpus.length, 1);
  assert.match(result.effective_config.gpus[0].uuid, /^GPU-/);

  const bad = await project.run("build", "--gpus", "5", "--force");
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--gpus: no GPU "5"/);
  assert.not.match(bad.stderr, STACK);
  assert.ok(existsSync(log));
});

test.run();
