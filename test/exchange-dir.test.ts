// The host↔harness protocol every runner shares, with a stand-in launch in place of a process.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runInExchangeDir, type ExchangeDir, type LaunchOutcome } from "../src/exec/exchange-dir.js";
import { measurementHash } from "../src/config/hash.js";
import type { PlannedNode } from "../src/graph/plan.js";
import type { RunContext, RunnerMeta } from "../src/exec/runner.js";
import { config, fakeResult } from "./helpers/fixtures.js";

const cfg = config();
const node: PlannedNode = { hash: measurementHash(cfg), cycle: 2, names: ["a"], groups: [], config: cfg, hardware: "cpu:Test", state: "pending", reason: "new" };
const ctx: RunContext = { stop: new AbortController().signal, kill: new AbortController().signal, totalCycles: 3 };
const meta: RunnerMeta = { runner_type: "docker", runner_image: "img:1", runner_source: "lemfile", image_digest: "sha256:abc" };
const exited = (exitCode: number | null, extra: Partial<LaunchOutcome> = {}): LaunchOutcome => ({ exitCode, stderrTail: "last line", interrupted: false, timedOut: false, ...extra });

test("the config file carries hash, cycle, names, hardware and the config, in a 0700 dir", async () => {
  let seen: ExchangeDir | undefined;
  await runInExchangeDir(node, ctx, meta, async (x) => {
    seen = x;
    assert.is(statSync(x.dir).mode & 0o777, 0o700);
    assert.match(x.dir, /\/llem-[^/]+$/);
    const payload = JSON.parse(readFileSync(join(x.dir, x.configFile), "utf8"));
    assert.equal([payload.hash, payload.cycle, payload.total_cycles, payload.names, payload.hardware], [node.hash, 2, 3, ["a"], "cpu:Test"]);
    assert.equal(payload.config, cfg);
    return exited(1);
  });
  assert.is(seen!.configFile, `${node.hash}_config.json`);
});

test("success: the result gets runner metadata, and the exchange dir is removed", async () => {
  let dir = "";
  const outcome = await runInExchangeDir(node, ctx, meta, async (x) => {
    dir = x.dir;
    writeFileSync(join(x.dir, x.resultFile), JSON.stringify(fakeResult(node)));
    return exited(0, { containerId: "c0ffee" });
  });
  assert.ok(outcome.ok);
  if (outcome.ok) {
    assert.equal([outcome.result.effective_config.runner_type, outcome.result.effective_config.runner_image, outcome.result.effective_config.image_digest], ["docker", "img:1", "sha256:abc"]);
    assert.is(outcome.result.environment.container_id, "c0ffee");
  }
  assert.not.ok(existsSync(dir));
});

test("a harness error payload becomes the error; the dir is kept and named", async () => {
  const outcome = await runInExchangeDir(node, ctx, meta, async (x) => {
    writeFileSync(join(x.dir, x.errorFile), JSON.stringify({ type: "DatasetError", message: "no such file: d.jsonl", traceback: "..." }));
    return exited(1);
  });
  assert.not.ok(outcome.ok);
  if (!outcome.ok) {
    assert.equal([outcome.error.type, outcome.error.message], ["DatasetError", "no such file: d.jsonl"]);
    assert.ok(outcome.error.exchangeDir && existsSync(outcome.error.exchangeDir));
  }
});

test("exit 0 without a result, and a result that fails the schema, are errors", async () => {
  const none = await runInExchangeDir(node, ctx, meta, async () => exited(0));
  assert.ok(!none.ok && /exited 0 but wrote no result/.test(none.error.message));
  const bad = await runInExchangeDir(node, ctx, meta, async (x) => {
    writeFileSync(join(x.dir, x.resultFile), JSON.stringify({ ...fakeResult(node), tokens: "lots" }));
    return exited(0);
  });
  assert.ok(!bad.ok && bad.error.type === "InvalidResult" && /tokens: expected object/.test(bad.error.message));
  const other = await runInExchangeDir(node, ctx, meta, async (x) => {
    writeFileSync(join(x.dir, x.resultFile), JSON.stringify({ ...fakeResult(node), cycle: 9 }));
    return exited(0);
  });
  assert.ok(!other.ok && other.error.type === "InvalidResult", "a result for another cycle is not accepted");
});

test("an interrupted node leaves nothing; a timed-out one is a Timeout even if the harness wrote Interrupted", async () => {
  let dir = "";
  const stopped = await runInExchangeDir(node, ctx, meta, async (x) => { dir = x.dir; return exited(143, { interrupted: true }); });
  assert.ok(!stopped.ok && stopped.interrupted);
  assert.not.ok(existsSync(dir));
  const late = await runInExchangeDir(node, ctx, meta, async (x) => {
    writeFileSync(join(x.dir, x.errorFile), JSON.stringify({ type: "Interrupted", message: "SIGTERM" }));
    return exited(143, { timedOut: true });
  });
  assert.ok(!late.ok && late.error.type === "Timeout");
});

test.run();
