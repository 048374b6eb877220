// Shared servers end to end (issue 20 §2): `lem build` with the local runner and the real harness
// sweeps 2 request rates × 2 engine configs × 2 cycles of scenario serving on synthetic:tiny; the
// serving nodes of one engine config share one `transformers serve`, started once; nothing of it is
// left after the build, a Ctrl-C mid-load, or a server killed mid-node (which fails that node with
// the server's log tail, and the next node of its key starts a new one).
//
// Needs a Python with transformers' serving extra (lem's venv); skips loudly without one, unless
// LEM_REQUIRE_TRANSFORMERS=1 (CI), where it fails.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TempProject } from "./helpers/project.js";
import { requireTransformers } from "./helpers/python.js";
import { alive, processesWith } from "./helpers/processes.js";
import { tempDir } from "./helpers/temp.js";

const FILE = "serving.e2e.test.ts";

function requireServe(): string | undefined {
  const python = requireTransformers(FILE);
  if (!python) return undefined;
  const check = spawnSync(python, ["-c", "from transformers.utils.import_utils import is_serve_available as a; raise SystemExit(0 if a() else 1)"], { stdio: "ignore" });
  if (check.status === 0) return python;
  if (process.env.LEM_REQUIRE_TRANSFORMERS === "1") throw new Error(`${FILE}: ${python} has no transformers serve (pip install 'transformers[serving]'), and LEM_REQUIRE_TRANSFORMERS=1`);
  console.warn(`\n!! SKIPPING ${FILE}: ${python} has no transformers serve (pip install 'transformers[serving]')\n`);
  return undefined;
}

const python = requireServe();

interface ServerBlock { shared?: boolean; reused?: boolean; key?: string; startup_s: number; started_by?: { hash: string; cycle: number } }
interface Result { hash: string; cycle: number; config: { serving: { request_rate: number | "inf"; engine: { num_blocks: number } } };
  serving: { server: ServerBlock; completed: number; num_requests: number }; tokens: { output: number } }
type Build = { nodes: { name: string; hash: string; cycle: number; state: string; error?: { type: string; message: string; exchangeDir?: string } }[];
  summary: { ran: number; cached: number; failed: number; skipped: number } };

const base = (serving: string) => `{ model: "synthetic:tiny", scenario: "serving", precision: "fp32", max_input_tokens: 16,
    max_output_tokens: 6, baseline: { enabled: false }, energy: { backend: "none" }, pytorch: { device: "cpu", num_threads: 1 },
    serving: ${serving} }`;

/** A project whose lem keeps its registry and exchange dirs in `tmp`, its model cache in `cache`. */
function project(body: string) {
  const root = tempDir("lem-serving-e2e-");
  const tmp = join(root, "tmp");
  const cache = join(root, "cache");
  mkdirSync(tmp);
  mkdirSync(cache);
  const p = new TempProject(body, {
    LEM_PYTHON: python, LEM_RUNNER_PYTORCH: "local", LEM_CACHE_DIR: cache, HF_HUB_CACHE: join(cache, "hub"), TMPDIR: tmp,
  });
  return { p, tmp, model: join(cache, "models", "tiny-42") };
}

function results(p: TempProject): Result[] {
  return p.resultFiles().map((f) => JSON.parse(readFileSync(join(p.dir, "results", f), "utf8")) as Result);
}

function assertNothingLeft(tmp: string, model: string) {
  assert.equal(processesWith(model).filter((c) => c.includes("serve")), [], "a transformers serve process outlived lem build");
  assert.equal(processesWith(tmp), [], "a watchdog or server outlived lem build");
  assert.equal(readdirSync(tmp).filter((n) => n.startsWith("lem-servers-")), [], "the registry folder was left");
}

/** The registry entry of the running server, once there is one. */
async function waitForEntry(tmp: string, timeoutMs = 180_000): Promise<{ pid: number; pgid: number; key: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const dir of readdirSync(tmp).filter((n) => n.startsWith("lem-servers-"))) {
      for (const name of readdirSync(join(tmp, dir)).filter((n) => /^server-.*\.json$/.test(n))) {
        try { return JSON.parse(readFileSync(join(tmp, dir, name), "utf8")); } catch { /* being written */ }
      }
    }
    await sleep(100);
  }
  throw new Error("no shared server was registered");
}

if (python) {
  test("2 rates × 2 engine configs × 2 cycles: one server start per engine config, valid results, nothing left", async () => {
    const { p, tmp, model } = project(`{
  defaults: ${base("{ request_rate: 8, num_requests: 8, warmup_requests: 2 }")},
  experiments: sweep("s", { "serving.engine.num_blocks": [16, 24], "serving.request_rate": [8, "inf"] }),
  execution: { cycles: 2, cycle_order: "interleaved" },
}`);
    const t0 = Date.now();
    const build = await p.run("build", "--json");
    const seconds = (Date.now() - t0) / 1000;
    assert.is(build.code, 0, build.stdout + build.stderr);
    const outcome = JSON.parse(build.stdout) as Build;
    assert.equal(outcome.summary, { ran: 8, cached: 0, failed: 0, skipped: 0 });
    // The nodes of one engine config ran one after another.
    const order = outcome.nodes.map((n) => n.name);
    assert.equal(order.map((n) => n.split("-")[1]), ["16", "16", "16", "16", "24", "24", "24", "24"], order.join(" "));

    const stored = results(p);
    assert.is(stored.length, 8);
    const byBlocks = new Map<number, Result[]>();
    for (const r of stored) {
      assert.ok(r.serving, "every result has a serving block");
      assert.is(r.serving.completed, 8);
      assert.is(r.tokens.output, 8 * 6);
      assert.is(r.serving.server.shared, true);
      const list = byBlocks.get(r.config.serving.engine.num_blocks) ?? [];
      byBlocks.set(r.config.serving.engine.num_blocks, [...list, r]);
    }
    assert.equal([...byBlocks.keys()].sort(), [16, 24]);
    for (const [blocks, list] of byBlocks) {
      // Exactly one start per engine config: one node started it, the three others reused it.
      const starters = list.filter((r) => r.serving.server.reused === false);
      assert.is(starters.length, 1, `num_blocks ${blocks}: ${starters.length} server starts`);
      const [starter] = starters;
      assert.is(new Set(list.map((r) => r.serving.server.key)).size, 1);
      for (const r of list) {
        assert.equal(r.serving.server.started_by, { hash: starter.hash, cycle: starter.cycle });
        assert.is(r.serving.server.startup_s, starter.serving.server.startup_s, "startup_s is the original start's");
      }
    }
    assert.is.not(byBlocks.get(16)![0].serving.server.key, byBlocks.get(24)![0].serving.server.key);
    // Every stored result passes lem's own checks (lem show reads and validates the store).
    const show = await p.run("show", "--json", "s-16-8");
    assert.is(show.code, 0, show.stderr);
    assertNothingLeft(tmp, model);

    const again = await p.json<Build>("build");
    assert.equal([again.summary.ran, again.summary.cached], [0, 8], "a rebuild runs nothing");
    assertNothingLeft(tmp, model);
    console.log(`[serving e2e] 8 serving nodes, 2 server starts: ${seconds.toFixed(1)} s`);
  });

  test("two nodes at once (--jobs 2): each engine config's nodes in one lane with a server of its own, started once", async () => {
    const { p, tmp, model } = project(`{
  defaults: ${base("{ request_rate: 8, num_requests: 6, warmup_requests: 1 }")},
  experiments: sweep("s", { "serving.engine.num_blocks": [16, 24], "serving.request_rate": [8, "inf"] }),
}`);
    const build = await p.run("build", "--json", "--jobs", "2", "--allow-shared-device");
    assert.is(build.code, 0, build.stdout + build.stderr);
    const stored = results(p);
    assert.is(stored.length, 4);
    const keys = new Map<string, Result[]>();
    for (const r of stored) keys.set(r.serving.server.key!, [...(keys.get(r.serving.server.key!) ?? []), r]);
    assert.is(keys.size, 2);
    for (const list of keys.values()) {
      // One registry for both lanes would stop each lane's server for the other's key: a start per node.
      assert.equal(list.map((r) => r.serving.server.reused).sort(), [false, true], "one start per engine config, then reused");
    }
    assertNothingLeft(tmp, model);
  });

  test("Ctrl-C mid-load: exit 130, no result, no server left", async () => {
    const { p, tmp, model } = project(`{
  defaults: ${base("{ request_rate: 2, num_requests: 24, warmup_requests: 2 }")},
  experiments: [{ name: "slow" }],
}`);
    const run = p.run("build");
    const entry = await waitForEntry(tmp);
    await sleep(3000); // past the warmup, inside a 12 s load
    assert.ok(processesWith(model).length > 0, "the server is up");
    run.child.kill("SIGINT");
    const r = await run;
    assert.is(r.code, 130, r.stdout + r.stderr);
    assert.equal(p.resultFiles(), [], "no partial result");
    assert.not.ok(alive(entry.pid), `the server (pid ${entry.pid}) outlived lem`);
    assertNothingLeft(tmp, model);
  });

  test("a SIGKILLed lem: the server's watchdog stops it and removes the registry folder", async () => {
    const { p, tmp, model } = project(`{
  defaults: ${base("{ request_rate: 2, num_requests: 24, warmup_requests: 2 }")},
  experiments: [{ name: "slow" }],
}`);
    const run = p.run("build");
    const entry = await waitForEntry(tmp);
    await sleep(2000);
    run.child.kill("SIGKILL");
    await run;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (alive(entry.pid) || readdirSync(tmp).some((n) => n.startsWith("lem-servers-")))) await sleep(200);
    assert.not.ok(alive(entry.pid), "the server outlived a SIGKILLed lem");
    assertNothingLeft(tmp, model);
  });

  test("a server killed mid-node fails that node with its log tail; the next node of its key starts a new one", async () => {
    const { p, tmp, model } = project(`{
  defaults: ${base("{ request_rate: 2, num_requests: 24, warmup_requests: 2 }")},
  experiments: sweep("k", { "serving.request_rate": [2, "inf"] }),
}`);
    const run = p.run("build", "--json", "--keep-going");
    const entry = await waitForEntry(tmp);
    await sleep(3000);
    process.kill(entry.pid, "SIGKILL");
    const r = await run;
    assert.is(r.code, 1, r.stdout + r.stderr);
    const outcome = JSON.parse(r.stdout) as Build;
    const [killed, next] = outcome.nodes;
    assert.is(killed.name, "k-2");
    assert.is(killed.state, "failed");
    assert.is(killed.error!.type, "ServerFailed");
    assert.match(killed.error!.message, /transformers serve was killed by SIGKILL/);
    assert.match(killed.error!.message, /log tail:\n/);
    assert.match(killed.error!.message, /\/v1\/completions|Uvicorn|INFO/, "the server's own lines");
    // The shared log is copied into the kept exchange dir (the registry folder goes with the build), and named.
    const kept = join(killed.error!.exchangeDir!, `${killed.hash}_server.log`);
    assert.ok(existsSync(kept), kept);
    assert.ok(killed.error!.message.includes(kept), killed.error!.message);
    assert.is(next.state, "ran", JSON.stringify(next));
    const [result] = results(p);
    assert.is(result.config.serving.request_rate, "inf");
    assert.equal([result.serving.server.shared, result.serving.server.reused], [true, false], "a new server for the next node");
    assert.is(result.serving.server.key, entry.key);
    assertNothingLeft(tmp, model);
  });
}

test.run();
