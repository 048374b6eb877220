// status, show, clean and doctor as a user runs them (results written straight to the store,
// so no harness is needed here).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TempProject } from "./helpers/project.js";
import { expandLemfile } from "../src/config/expand.js";
import { buildNodes } from "../src/graph/nodes.js";
import { ResultStore } from "../src/store/store.js";
import { detectHardware, hardwareFor } from "../src/exec/hardware.js";
import { sweep } from "../src/index.js";
import { fakeResult } from "./helpers/fixtures.js";

const lemfile = (batches: number[]) => `{ defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": [${batches}] }), execution: { cycles: 2 } }`;

/** Stores results for these batch sizes as if they had been measured here. */
function measured(project: TempProject, batches: number[]) {
  const { experiments, execution } = expandLemfile({ defaults: { model: "synthetic:tiny" }, experiments: sweep("bs", { "pytorch.batch_size": batches }), execution: { cycles: 2 } }, "l");
  const store = new ResultStore(join(project.dir, "results"));
  const hw = hardwareFor(detectHardware());
  for (const n of buildNodes(experiments, execution)) {
    store.saveConfig(n.hash, n.names, n.groups, n.config, 1);
    store.saveResult(fakeResult({ ...n, hardware: hw(n.config) }));
  }
  return experiments.map((e) => e.hash);
}

const env = { LEM_RUNNER_PYTORCH: "local" };

test("status lists each node with its state and reason, and a summary line", async () => {
  const project = new TempProject(lemfile([1, 2]), env);
  measured(project, [1]);
  const r = await project.run("status");
  assert.is(r.code, 0);
  assert.match(r.stdout, /^done\s+bs-1 #1\s+[0-9a-f]{16}$/m);
  assert.match(r.stdout, /^pending\s+bs-2 #2\s+[0-9a-f]{16}\s+new$/m);
  assert.match(r.stdout, /2 done, 2 pending, 0 failed/);
});

test("show prints the config and a summary of stored cycles; --json has every result", async () => {
  const project = new TempProject(lemfile([1]), env);
  const [hash] = measured(project, [1]);
  const text = await project.run("show", "bs-1");
  assert.match(text.stdout, /"batch_size": 1/);
  assert.match(text.stdout, /bs-1\s+2\s/);
  const json = await project.json<{ hash: string; names: string[]; results: unknown[] }>("show", hash.slice(0, 6));
  assert.equal([json.hash, json.names, json.results.length], [hash, ["bs-1"], 2]);
  const missing = await project.run("show", "nope");
  assert.is(missing.code, 2);
});

test("clean removes orphans by default, selected experiments with selectors, everything with --all", async () => {
  const project = new TempProject(lemfile([1, 2]), env);
  const [h1, h2, h3] = measured(project, [1, 2, 3]);
  const dry = await project.run("clean", "--dry-run");
  assert.match(dry.stdout, new RegExp(`would remove bs-3  ${h3}  \\(\\d+ measured cycles?\\)`), "a dry run names what it would remove");
  assert.ok(existsSync(join(project.dir, "results", h3)));
  await project.run("clean");
  assert.equal([h1, h2, h3].map((h) => existsSync(join(project.dir, "results", h))), [true, true, false]);
  await project.run("clean", "bs-2");
  assert.equal([h1, h2].map((h) => existsSync(join(project.dir, "results", h))), [true, false]);
  await project.run("clean", "--all", "--yes");
  assert.not.ok(existsSync(join(project.dir, "results", h1)));
});

test("doctor reports Python, torch, the harness, hardware and Docker", async () => {
  const project = new TempProject(lemfile([1]), env);
  const r = await project.json<{ checks: { name: string; ok: boolean; value: string }[]; usable: boolean }>("doctor");
  const names = r.checks.map((c) => c.name);
  for (const name of ["lem", "python + torch", "harness", "hardware", "docker", "compose"]) assert.ok(names.includes(name), name);
  assert.match(r.checks.find((c) => c.name === "hardware")!.value, /^(cpu|gpu):/);
});

test.run();
