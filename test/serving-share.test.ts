// Servers shared by serving nodes (issue 20 §2): the server key, the run order that keeps the nodes of
// one key together, the envelope's server_key, and the build's teardown of the registry folder.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { serverKey } from "../src/config/server-key.js";
import { expandLemfile } from "../src/config/expand.js";
import { measurementHash } from "../src/config/hash.js";
import { buildNodes, groupByServer } from "../src/graph/nodes.js";
import { runInExchangeDir } from "../src/exec/exchange-dir.js";
import { createServerRegistry, groupAlive, reapOrphanedRegistries, stopServers } from "../src/exec/server-registry.js";
import { ServerLanes } from "../src/exec/server-lanes.js";
import { executeBuild } from "../src/exec/scheduler.js";
import { DevicePool } from "../src/exec/devices.js";
import { planBuild } from "../src/graph/plan.js";
import { ResultStore } from "../src/store/store.js";
import { sweep } from "../src/index.js";
import type { PlannedNode } from "../src/graph/plan.js";
import type { RunContext, Runner, RunOutcome } from "../src/exec/runner.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";

const serving = (fields: Record<string, unknown> = {}, rate: number | "inf" = 4) =>
  config({ scenario: "serving", serving: { request_rate: rate, ...(fields.serving as object ?? {}) }, ...Object.fromEntries(Object.entries(fields).filter(([k]) => k !== "serving")) });

test("serverKey: one key for the load points of one engine config, another per engine config, null offline", () => {
  const a = serverKey(serving({}, 1));
  assert.match(a!, /^[0-9a-f]{16}$/);
  // The load is not the server's: rate, requests, warmup, burstiness, prompts, dataset, energy.
  assert.is(serverKey(serving({ serving: { num_requests: 8, warmup_requests: 2, burstiness: 0.5, max_concurrency: 4 } }, "inf")), a);
  assert.is(serverKey(serving({ max_input_tokens: 16, max_output_tokens: 6, n: 3, energy: { backend: "none" }, baseline: { enabled: false } }, 2)), a);
  assert.is(serverKey(serving({ decoder: { ignore_eos: false } })), a, "ignore_eos is per request");
  // A default written out is the default left out.
  assert.is(serverKey(serving({ serving: { engine: { num_blocks: 256 } } })), a);
  // What the server process depends on.
  const others = [
    serving({ serving: { engine: { num_blocks: 16 } } }), serving({ serving: { engine: { num_blocks: 24 } } }),
    serving({ serving: { engine: { block_size: 16 } } }), serving({ serving: { engine: { max_batch_tokens: 64 } } }),
    serving({ precision: "fp32" }), serving({ model: "synthetic:small" }), serving({ random_seed: 7 }),
    serving({ pytorch: { device: "cpu" } }), serving({ pytorch: { attn_implementation: "eager" } }),
    serving({ pytorch: { num_threads: 2 } }),
    // transformers serve keeps the sampling settings of the first request it serves.
    serving({ decoder: { temperature: 0 } }), serving({ decoder: { top_p: 0.9 } }),
  ].map(serverKey);
  assert.is(new Set([a, ...others]).size, others.length + 1, "each engine config has a key of its own");
  assert.is(serverKey(config()), null, "offline");
  assert.is(serverKey(config({ pytorch: { batch_size: 4 } })), null);
});

test("serverKey for vllm: vllm.engine and the seed (--seed) count, the decoder does not; a local model's seed does not", () => {
  const vllm = (fields: Record<string, unknown> = {}) => serving({ backend: "vllm", ...fields });
  const a = serverKey(vllm());
  assert.is(serverKey(vllm({ decoder: { temperature: 0 } })), a);
  assert.is.not(serverKey(vllm({ vllm: { engine: { max_num_seqs: 8 } } })), a);
  assert.is.not(serverKey(vllm({ random_seed: 1 })), a);
  assert.is.not(a, serverKey(serving()));
  const local = (seed: number) => serverKey(serving({ model: "./models/m", random_seed: seed }));
  assert.is(local(1), local(2), "a model folder's weights are not seeded by random_seed");
});

const execution = (cycles: number, cycle_order: "sequential" | "interleaved" | "shuffled" = "interleaved") =>
  ({ cycles, cycle_order, shuffle_seed: 3, experiment_gap_seconds: 0, cycle_gap_seconds: 0 });

test("run order: the nodes of one server key run one after another; offline nodes keep their order", () => {
  const { experiments } = expandLemfile({
    defaults: { model: "synthetic:tiny", pytorch: { device: "cpu" } },
    experiments: [
      { name: "off-1" },
      ...sweep("s", { "serving.engine.num_blocks": [16, 24], "serving.request_rate": [2, 4] }, { scenario: "serving", serving: { request_rate: 1 } }),
      { name: "off-2", n: 3 },
    ],
  }, "l.ts");
  const names = (cycleOrder: "sequential" | "interleaved" | "shuffled") =>
    buildNodes(experiments, execution(2, cycleOrder)).map((n) => `${n.names[0]}#${n.cycle}`);
  // interleaved would be off-1#1 s-16-2#1 s-16-4#1 s-24-2#1 s-24-4#1 off-2#1 off-1#2 ...: each key's nodes
  // come at its first node, cycles and rates together; the offline nodes stay in their order.
  assert.equal(names("interleaved"), ["off-1#1", "s-16-2#1", "s-16-4#1", "s-16-2#2", "s-16-4#2",
    "s-24-2#1", "s-24-4#1", "s-24-2#2", "s-24-4#2", "off-2#1", "off-1#2", "off-2#2"]);
  assert.equal(names("sequential"), ["off-1#1", "off-1#2", "s-16-2#1", "s-16-2#2", "s-16-4#1", "s-16-4#2",
    "s-24-2#1", "s-24-2#2", "s-24-4#1", "s-24-4#2", "off-2#1", "off-2#2"]);
  for (const order of ["sequential", "shuffled"] as const) {
    const ks = buildNodes(experiments, execution(2, order)).map((n) => serverKey(n.config)).filter((k) => k !== null);
    assert.is(ks.filter((k, i) => k !== ks[i - 1]).length, 2, order);
  }
});

test("run order: a lemfile with no serving node keeps exactly cycle_order's order", () => {
  const { experiments } = expandLemfile({ defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": [1, 2, 3] }) }, "l.ts");
  for (const order of ["sequential", "interleaved", "shuffled"] as const) {
    const nodes = buildNodes(experiments, execution(3, order));
    assert.is(groupByServer(nodes), nodes);
  }
  const nodes = buildNodes(experiments, execution(3, "shuffled"));
  assert.equal(nodes.map((n) => n.cycle), [1, 1, 1, 2, 2, 2, 3, 3, 3]);
});

test("groupByServer: at the first node of a key every node of it, in order; later ones passed over", () => {
  const k1 = serving({ serving: { engine: { num_blocks: 16 } } });
  const k2 = serving({ serving: { engine: { num_blocks: 24 } } });
  const node = (id: string, c: ReturnType<typeof config>) => ({ id, hash: `${id}-${measurementHash(c)}`, config: c });
  const off = config();
  const order = [node("a", k1), node("o1", off), node("b", k2), node("c", k1), node("o2", off), node("d", k2), node("e", k1)];
  assert.equal(groupByServer(order).map((n) => n.id), ["a", "c", "e", "o1", "b", "d", "o2"]);
});

test("the envelope carries a serving node's server_key, and an offline node's none", async () => {
  const ctx: RunContext = { stop: new AbortController().signal, kill: new AbortController().signal, totalCycles: 1 };
  const meta = { runner_type: "local" as const, runner_image: null, runner_source: "test", image_digest: null };
  for (const cfg of [serving(), config()]) {
    const node: PlannedNode = { hash: measurementHash(cfg), cycle: 1, names: ["a"], groups: [], config: cfg, hardware: "cpu:Test", state: "pending", reason: "new" };
    await runInExchangeDir(node, ctx, meta, async (x) => {
      const payload = JSON.parse(readFileSync(join(x.dir, x.configFile), "utf8"));
      assert.is(payload.server_key, serverKey(cfg) ?? undefined);
      return { exitCode: 1, stderrTail: "", interrupted: false, timedOut: false };
    });
  }
});

/** The build's nodes (serving ones grouped by key), planned against an empty store. */
function plannedBuild(raw: unknown) {
  const { experiments, execution } = expandLemfile(raw, "lemfile.ts");
  const store = new ResultStore(tempDir());
  return { store, execution, planned: planBuild(buildNodes(experiments, execution), store.snapshot(), { hardwareFor: () => "gpu:Fake x1" }) };
}

interface Seen { name: string; lane?: number; last?: boolean; gpus: string[]; start: number; end: number }

/** Records each node's ServerShare and GPUs; nodes take 5-25 ms. */
class ShareRunner implements Runner {
  readonly kind = "local" as const;
  seen: Seen[] = [];
  async run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome> {
    const start = performance.now();
    await sleep(5 + (node.cycle * 7 + node.names[0].length) % 20);
    this.seen.push({ name: `${node.names[0]}#${node.cycle}`, ...ctx.server, gpus: (ctx.devices ?? []).map((g) => g.index), start, end: performance.now() });
    return { ok: true, result: fakeResult(node) };
  }
}

const fourKeys = {
  defaults: { model: "synthetic:tiny" },
  experiments: [
    ...sweep("s", { scenario: ["serving"], "serving.num_requests": [4], "serving.engine.num_blocks": [16, 24, 32, 40], "serving.request_rate": [1, 2, "inf"] }),
    { name: "offline-a", model: "synthetic:tiny" }, { name: "offline-b", model: "synthetic:small" },
  ],
  execution: { cycles: 2 },
};

for (const width of [1, 3]) {
  test(`lanes (${width} at once, --gpus): a key's nodes run back to back in one lane, on the GPUs it holds, its last node marked`, async () => {
    const { store, execution, planned } = plannedBuild(fourKeys);
    const runner = new ShareRunner();
    const gpus = ["0", "1", "2"].map((index) => ({ index, uuid: `GPU-${index}` }));
    const outcome = await executeBuild({
      planned, store, execution, runnerFor: () => runner, devices: new DevicePool(gpus.slice(0, width)), jobs: width,
      stop: new AbortController().signal, kill: new AbortController().signal, emit: () => {},
    });
    assert.equal(outcome.summary, { ran: 28, cached: 0, failed: 0, skipped: 0 });
    const keyOf = new Map(planned.map((n) => [`${n.names[0]}#${n.cycle}`, serverKey(n.config)]));
    const byKey = new Map<string, Seen[]>();
    for (const s of runner.seen) {
      const key = keyOf.get(s.name)!;
      if (key === null) { assert.is(s.lane, undefined, "an offline node has no ServerShare"); continue; }
      byKey.set(key, [...(byKey.get(key) ?? []), s]);
    }
    assert.is(byKey.size, 4);
    for (const [key, nodes] of byKey) {
      assert.is(nodes.length, 6, `6 load points of key ${key}`);
      assert.is(new Set(nodes.map((n) => n.lane)).size, 1, "one lane per key");
      assert.is(new Set(nodes.map((n) => n.gpus.join())).size, 1, "the same GPUs for every node of a key");
      assert.equal(nodes.map((n) => n.last), [false, false, false, false, false, true]);
      // Back to back in its lane: no node of another key ran in that lane between its first and last.
      const from = runner.seen.indexOf(nodes[0]);
      const to = runner.seen.indexOf(nodes[5]);
      const between = runner.seen.slice(from, to + 1).filter((s) => s.lane === nodes[0].lane && keyOf.get(s.name) !== key);
      assert.equal(between, [], `lane ${nodes[0].lane} ran only key ${key} from its first to its last node`);
    }
    if (width > 1) assert.ok(new Set(runner.seen.map((s) => s.lane).filter((l) => l !== undefined)).size > 1, "keys spread over lanes");
  });
}

test("ServerLanes: another lane never takes a held key; offline nodes go to any lane", () => {
  const n = (name: string, key: string | null) => ({ names: [name], key } as unknown as PlannedNode & { key: string | null });
  const queue = [n("a1", "A"), n("a2", "A"), n("o1", null), n("b1", "B"), n("b2", "B")];
  const lanes = new ServerLanes(queue, (node) => (node as unknown as { key: string | null }).key);
  const take = (lane: number) => lanes.take(lane)?.names[0];
  assert.is(take(0), "a1");
  assert.is(take(1), "o1", "lane 1 passes over A, which lane 0 holds");
  assert.is(take(1), "b1");
  assert.is(take(0), "a2");
  assert.is(take(0), undefined, "B is lane 1's");
  assert.is(take(1), "b2");
});

/** A process group of its own (like a server), that ignores SIGTERM when stubborn. */
function fakeServer(stubborn = false): number {
  const code = stubborn ? "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)" : "setInterval(() => {}, 1000)";
  const child = spawn(process.execPath, ["-e", code], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid!;
}

test("teardown: every server in the registry is stopped (SIGKILL after the grace period) and the folder removed", async () => {
  const registry = createServerRegistry(tempDir());
  assert.match(registry.dir, /lem-servers-\d+-[^/]+$/);
  const polite = fakeServer();
  const stubborn = fakeServer(true);
  await sleep(300);
  writeFileSync(join(registry.dir, "server-aaaaaaaaaaaaaaaa.json"), JSON.stringify({ key: "a", pid: polite, pgid: polite }));
  writeFileSync(join(registry.dir, "server-bbbbbbbbbbbbbbbb.json"), JSON.stringify({ key: "b", pid: stubborn, pgid: stubborn }));
  writeFileSync(join(registry.dir, "server-cccccccccccccccc.json"), "{ half-written");
  assert.ok(groupAlive(polite) && groupAlive(stubborn));
  const t0 = Date.now();
  const left = await stopServers(registry.dir, { graceMs: 1000 });
  assert.equal(left, []);
  assert.ok(Date.now() - t0 >= 900, "the stubborn one had its grace period");
  assert.not.ok(groupAlive(polite) || groupAlive(stubborn));
  assert.not.ok(existsSync(registry.dir));
  // Nothing there (a folder already removed) is no error.
  await createServerRegistry(tempDir()).teardown();
});

test("a killed lem's registry folder: the next build stops its servers and removes it; a live lem's is left alone", async () => {
  const parent = tempDir();
  const mine = createServerRegistry(parent);
  const dead = createServerRegistry(parent);
  // Its owner: a process that has exited (pid gone), on this host.
  const gone = spawn(process.execPath, ["-e", ""]);
  await new Promise((resolve) => gone.on("exit", resolve));
  const owner = JSON.parse(readFileSync(join(dead.dir, "owner"), "utf8"));
  writeFileSync(join(dead.dir, "owner"), JSON.stringify({ ...owner, pid: gone.pid, proc_start: undefined }));
  const server = fakeServer();
  await sleep(300);
  writeFileSync(join(dead.dir, "server-aaaaaaaaaaaaaaaa.json"), JSON.stringify({ key: "a", pid: server, pgid: server }));
  assert.equal(await reapOrphanedRegistries(parent), [dead.dir]);
  assert.not.ok(groupAlive(server), "its server was stopped");
  assert.not.ok(existsSync(dead.dir));
  assert.ok(existsSync(mine.dir), "a live build's registry stays");
  await mine.teardown();
});

test.run();
