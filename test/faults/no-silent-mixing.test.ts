// Issue 19 §4, no silent mixing: two nodes never share this machine's CPU or GPU unless the user
// says so (and then each overlapping result is flagged), and cycles of one config measured on
// different software stacks are named by lem status.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeProject, okExperiments, STACK } from "./helpers.js";
import { tempDir } from "../helpers/temp.js";
import { fakeResult } from "../helpers/fixtures.js";
import { checkDeviceSharing, SHARED_DEVICE_FLAG } from "../../src/exec/devices.js";
import { executeBuild } from "../../src/exec/scheduler.js";
import { planBuild, type PlannedNode } from "../../src/graph/plan.js";
import { buildNodes } from "../../src/graph/nodes.js";
import { expandLemfile } from "../../src/config/expand.js";
import { ResultStore } from "../../src/store/store.js";
import type { LemError } from "../../src/errors.js";
import { markdownText } from "../../src/report/markdown.js";
import type { Runner, RunOutcome } from "../../src/exec/runner.js";
import type { ExperimentResult } from "../../src/store/result.js";

const storedResults = (project: ReturnType<typeof fakeProject>): ExperimentResult[] =>
  project.resultFiles().map((f) => JSON.parse(readFileSync(join(project.dir, "results", f), "utf8")));

test("--jobs 2 on one machine is refused before any node runs (exit 2, the fix named, nothing stored)", async () => {
  const log = join(tempDir(), "measured.log");
  const project = fakeProject(okExperiments(3), { LEM_FAKE_LOG: log });
  const r = await project.run("build", "--jobs", "2");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /--jobs 2 would run 2 nodes at once on this machine's CPU and GPU/);
  assert.match(r.stderr, /fix: use --jobs 1 .*--gpus .*--allow-shared-device/);
  assert.not.match(r.stderr, STACK);
  assert.not.ok(existsSync(log), "no node ran");
  assert.equal(project.resultFiles(), []);
});

test(".lem-config.yaml jobs: 3 is refused the same way, naming the setting", async () => {
  const project = fakeProject(okExperiments(3));
  writeFileSync(join(project.dir, ".lem-config.yaml"), "jobs: 3\n");
  const r = await project.run("build");
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /\.lem-config\.yaml: jobs: 3 would run 3 nodes at once/);
  assert.not.match(r.stderr, STACK);
  assert.equal(project.resultFiles(), []);
  // one node to measure cannot share the machine with another: it runs
  const one = fakeProject(okExperiments(1));
  writeFileSync(join(one.dir, ".lem-config.yaml"), "jobs: 3\n");
  assert.is((await one.run("build")).code, 0);
});

test("--allow-shared-device runs them side by side and flags every result that overlapped another", async () => {
  const project = fakeProject(okExperiments(4), { LEM_FAKE_SLEEP: "0.5" });
  const r = await project.run("build", "--jobs", "2", "--allow-shared-device");
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /warning: --allow-shared-device: up to 2 nodes at once share this machine/);
  const results = storedResults(project);
  assert.is(results.length, 4);
  for (const result of results) assert.ok(result.quality_flags.includes(SHARED_DEVICE_FLAG), JSON.stringify(result.quality_flags));
  // the report shows it as a quality flag with its cycle count
  const out = join(tempDir(), "report");
  assert.is((await project.run("report", "--out", out)).code, 0);
  assert.ok(readFileSync(join(out, "summary.md"), "utf8").includes(markdownText(`${SHARED_DEVICE_FLAG} (1/1)`)));
});

test("--gpus gives each node GPUs of its own: --jobs 2 runs, unflagged", async () => {
  const project = fakeProject(okExperiments(2), { LEM_GPU_INVENTORY: "0:GPU-aaaaaaaa-1111,1:GPU-bbbbbbbb-2222", LEM_FAKE_SLEEP: "0.3" });
  const r = await project.run("build", "--jobs", "2", "--gpus", "all");
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const result of storedResults(project)) assert.not.ok(result.quality_flags.includes(SHARED_DEVICE_FLAG));
});

test("checkDeviceSharing: refused only with several nodes on this host, unpinned, not accepted; Slurm jobs run on nodes of their own", () => {
  const plan = { width: 4, widthSource: "--jobs 4", pinned: false, onHost: 3, allowShared: false };
  assert.throws(() => checkDeviceSharing(plan), (e: LemError) => e.exitCode === 2 && /--jobs 4 would run 3 nodes at once/.test(e.message));
  assert.is(checkDeviceSharing({ ...plan, allowShared: true }), true);
  assert.is(checkDeviceSharing({ ...plan, pinned: true }), false);
  assert.is(checkDeviceSharing({ ...plan, onHost: 0 }), false, "a Slurm-only build: each job on a compute node");
  assert.is(checkDeviceSharing({ ...plan, onHost: 1 }), false);
  assert.is(checkDeviceSharing({ ...plan, width: 1 }), false);
});

/** A runner whose nodes finish when the test says so. */
class GatedRunner implements Runner {
  readonly kind = "local" as const;
  readonly release = new Map<string, () => void>();
  async run(node: PlannedNode): Promise<RunOutcome> {
    await new Promise<void>((resolve) => this.release.set(node.names[0], resolve));
    return { ok: true, result: fakeResult(node) };
  }
}

test("the scheduler flags a node that overlapped another on the shared machine, and not one that overlapped only a Slurm job", async () => {
  const store = new ResultStore(tempDir());
  const { experiments, execution } = expandLemfile({
    defaults: { model: "synthetic:tiny" }, experiments: [{ name: "a" }, { name: "b", random_seed: 1 }, { name: "c", random_seed: 2 }, { name: "d", random_seed: 3 }],
  }, "l.ts");
  const planned = planBuild(buildNodes(experiments, execution), store.snapshot(), { hardwareFor: () => "cpu:Test CPU" });
  const runner = new GatedRunner();
  const onCluster = new Set(["b"]);
  const build = executeBuild({
    planned, runnerFor: () => runner, store, execution: { ...execution, experiment_gap_seconds: 0, cycle_gap_seconds: 0 }, jobs: 2,
    sharesDevice: (node) => !onCluster.has(node.names[0]),
    stop: new AbortController().signal, kill: new AbortController().signal, emit: () => undefined,
  });
  const until = async (name: string) => { while (!runner.release.has(name)) await new Promise((r) => setTimeout(r, 5)); };
  // a (here) and b (cluster) at once; then c (here) alone with b; then d (here) with c
  await until("a"); await until("b");
  runner.release.get("a")!();
  await until("c");
  runner.release.get("b")!();
  await until("d");
  runner.release.get("c")!(); runner.release.get("d")!();
  const outcome = await build;
  assert.is(outcome.summary.ran, 4);
  const flagged = planned.filter((n) => store.results(n.hash)[0].quality_flags.includes(SHARED_DEVICE_FLAG)).map((n) => n.names[0]);
  assert.equal(flagged.sort(), ["c", "d"]);
});

test("lem status warns when a config's stored cycles come from different software stacks", async () => {
  const project = fakeProject(okExperiments(2, 3));
  assert.is((await project.run("build")).code, 0);
  const store = new ResultStore(join(project.dir, "results"));
  const status = await project.json<{ nodes: { name: string; hash: string }[] }>("status");
  const e0 = status.nodes.find((n) => n.name === "e0")!.hash;
  for (const r of store.results(e0)) store.saveResult({ ...r, environment: { ...r.environment, torch: r.cycle === 3 ? "2.6.0" : "2.5.1" } });
  const r = await project.run("status");
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: e0 \\(${e0}\\): cycles from mixed software stacks.*torch 2\\.5\\.1 \\(cycles 1, 2\\) vs 2\\.6\\.0 \\(cycle 3\\)`));
  assert.match(r.stderr, /lem build --force e0/);
  assert.not.match(r.stderr, /warning: e1/);
});

test.run();
