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
import { createServerRegistry, groupAlive, sharesServers, stopServers } from "../src/exec/server-registry.js";
import { sweep } from "../src/index.js";
import type { PlannedNode } from "../src/graph/plan.js";
import type { RunContext } from "../src/exec/runner.js";
import { config } from "./helpers/fixtures.js";
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

test("sharesServers: serving nodes measured by the local runner, one at a time", () => {
  const planned = (cfg: ReturnType<typeof config>, state: "pending" | "done" = "pending"): PlannedNode =>
    ({ hash: measurementHash(cfg), cycle: 1, names: ["a"], groups: [], config: cfg, hardware: "cpu:Test", state, reason: state === "pending" ? "new" : undefined } as PlannedNode);
  const local = () => true;
  assert.ok(sharesServers([planned(config()), planned(serving())], local, 1));
  assert.not.ok(sharesServers([planned(config())], local, 1), "offline only");
  assert.not.ok(sharesServers([planned(serving())], local, 2), "two nodes at once");
  assert.not.ok(sharesServers([planned(serving())], () => false, 1), "Docker and Slurm: a server per node");
  assert.not.ok(sharesServers([planned(serving(), "done")], local, 1), "nothing to measure");
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

test.run();
