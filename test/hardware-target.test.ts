// --hardware: plan from here for another machine (a CPU plan job for GPU shards), never measure as one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { hostAs } from "../src/exec/hardware.js";
import { HASH_VERSION } from "../src/config/hash.js";
import { loadProject, planProject } from "../src/project/project.js";
import { LemError } from "../src/errors.js";
import { TempProject } from "./helpers/project.js";
import { fakeResult } from "./helpers/fixtures.js";

const here = { cpu: "cpu:Here CPU" };

test("hostAs: gpu:<name> (a count is ignored), cpu:<model>; no gpu: entry means no GPU", () => {
  assert.equal(hostAs(here, ["gpu:NVIDIA H100 80GB HBM3 x8"]), { cpu: "cpu:Here CPU", gpu: "gpu:NVIDIA H100 80GB HBM3 x1", gpuName: "NVIDIA H100 80GB HBM3" });
  assert.equal(hostAs({ ...here, gpu: "gpu:Here GPU x2", gpuName: "Here GPU" }, ["cpu:AMD  EPYC 9654"]), { cpu: "cpu:AMD EPYC 9654" });
  assert.equal(hostAs(here, ["gpu:A", "cpu:B", "gpu:A x4"]).gpuName, "A");
  for (const bad of ["tpu:v5", "gpu:", "H100", "gpu: x2"]) {
    assert.throws(() => hostAs(here, [bad]), (e: LemError) => e.exitCode === 2 && e.message.includes(`--hardware: expected gpu:<name> or cpu:<model>, got "${bad}"`) && /lem doctor/.test(e.fix ?? ""));
  }
  assert.throws(() => hostAs(here, ["gpu:A", "gpu:B"]), (e: LemError) => e.exitCode === 2 && /two GPU models/.test(e.message));
});

test("status, matrix and build --dry-run plan for the stated hardware; a real build refuses --hardware", async () => {
  const p = new TempProject(`{ experiments: [{ name: "a", model: "synthetic:tiny", n: 2 }, { name: "b", model: "synthetic:tiny", n: 3 }], execution: { cycles: 2 } }`);
  const gpu = "gpu:Test GPU 80GB";
  const project = await loadProject(join(p.dir, "lemfile.ts"), { hardware: [gpu] });
  const { planned } = planProject(project, []);
  assert.equal([...new Set(planned.map((n) => n.hardware))], [`${gpu} x1`]);
  // Measured on the GPU machine (all of a, one cycle of b), merged into this store.
  for (const node of planned.filter((n) => n.names[0] === "a" || n.cycle === 1)) {
    project.store.saveConfig(node.hash, node.names, node.groups, node.config, HASH_VERSION);
    project.store.saveResult(fakeResult(node));
  }

  const there = await p.json("status", "--hardware", gpu);
  assert.equal(there.nodes.map((n) => `${n.name}#${n.cycle}:${n.state}`), ["a#1:done", "a#2:done", "b#1:done", "b#2:pending"]);
  const local = await p.json("status");
  assert.equal(local.nodes.map((n) => `${n.state}:${n.reason?.split(":")[0]}`), ["pending:other hardware", "pending:other hardware", "pending:other hardware", "pending:new"]);

  const matrix = await p.run("matrix", "--format", "json", "--hardware", gpu);
  assert.is(matrix.code, 0, matrix.stderr);
  const plan = JSON.parse(matrix.stdout) as { shards: { nodes: number; hashes: string[] }[]; pending: number };
  assert.is(plan.pending, 1);
  assert.equal(plan.shards.map((s) => s.nodes), [1]);

  const dry = await p.json("build", "--dry-run", "--hardware", gpu);
  assert.equal(dry.nodes.filter((n) => n.state !== "done").map((n) => `${n.name}#${n.cycle}`), ["b#2"]);

  const real = await p.run("build", "--hardware", gpu);
  assert.is(real.code, 2);
  assert.match(real.stderr, /--hardware plans for another machine/);
  assert.match(real.stderr, /fix: use it with --dry-run, lem status or lem matrix/);
  assert.not.match(real.stderr, /\n\s+at /);
  assert.equal(p.resultFiles().length, 3); // nothing measured, nothing lost

  const bad = await p.run("matrix", "--hardware", "h100");
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--hardware: expected gpu:<name> or cpu:<model>, got "h100"/);
});

test.run();
