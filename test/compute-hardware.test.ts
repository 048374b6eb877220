// Slurm nodes are planned against the compute nodes' hardware (results carry it), not the login
// node's: slurm.hardware, else a kept probe job's answer. The probe job itself runs in slurm.e2e.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeHardwareFor, keepProbe, knownComputeHost, parseProbe } from "../src/exec/slurm/compute-hardware.js";
import { loadUserConfig, type SlurmSettings } from "../src/config/user-config.js";
import { HASH_VERSION } from "../src/config/hash.js";
import { loadProject, planProject } from "../src/project/project.js";
import { planOnCluster } from "../src/project/plan-on-cluster.js";
import { LemError } from "../src/errors.js";
import { TempProject } from "./helpers/project.js";
import { config, fakeResult } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";

const login = { cpu: "cpu:Login CPU" };
const settings = (yaml = ""): SlurmSettings => {
  const dir = tempDir("lem-slurm-settings-");
  writeFileSync(join(dir, ".lem-config.yaml"), `slurm:\n  partition: gpu\n${yaml}`);
  return loadUserConfig(dir).slurm;
};

test("parseProbe: the CPU model as detectHardware reads it, and the GPUs nvidia-smi -L lists (a MIG slice by its profile)", () => {
  assert.equal(parseProbe("model name\t: AMD  EPYC 9654 96-Core Processor\n--- visible \n--- gpus\n"), { cpu: "cpu:AMD EPYC 9654 96-Core Processor" });
  const h100 = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-b)\n";
  assert.equal(parseProbe(`model name : Xeon\n--- visible 0,1\n--- gpus\n${h100}`),
    { cpu: "cpu:Xeon", gpu: "gpu:NVIDIA H100 80GB HBM3 x2", gpuName: "NVIDIA H100 80GB HBM3" });
  const mig = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-c)\n  MIG 1g.10gb     Device  0: (UUID: MIG-one)\n  MIG 3g.20gb     Device  1: (UUID: MIG-two)\n";
  assert.equal(parseProbe(`model name : Xeon\n--- visible MIG-two\n--- gpus\n${mig}`).gpu, "gpu:NVIDIA A100-SXM4-40GB MIG 3g.20gb x1");
  assert.equal(parseProbe("").cpu, "cpu:unknown");
});

test("computeHardwareFor: GPUs where the job asks for them (vLLM: tensor_parallel_size), the CPU otherwise", () => {
  const node = { cpu: "cpu:Xeon", gpu: "gpu:H100 x8", gpuName: "H100" };
  const plain = computeHardwareFor(settings(), node);
  assert.is(plain(config({ pytorch: { device: "cuda" } })), "gpu:H100 x1");
  assert.is(plain(config({ pytorch: { device: "cpu" } })), "cpu:Xeon");
  assert.is(plain(config({ backend: "vllm", vllm: { engine: { tensor_parallel_size: 4 } } })), "gpu:H100 x4");
  // A CPU-only cluster: every node is measured on its CPU.
  assert.is(computeHardwareFor(settings(), { cpu: "cpu:Xeon" })(config({ pytorch: { device: "cuda" } })), "cpu:Xeon");
  // gres asks for GPUs on every job.
  assert.is(computeHardwareFor(settings("  gres: gpu:1\n"), node)(config()), "gpu:H100 x1");
});

test("knownComputeHost: slurm.hardware, else the kept probe for the same job options, else unknown", () => {
  const withSetting = settings('  hardware: ["gpu:NVIDIA A100-SXM4-80GB", "cpu:AMD EPYC 7763"]\n');
  assert.equal(knownComputeHost(withSetting, "/nowhere", true, login)?.host, { cpu: "cpu:AMD EPYC 7763", gpu: "gpu:NVIDIA A100-SXM4-80GB x1", gpuName: "NVIDIA A100-SXM4-80GB" });

  const root = tempDir("lem-slurm-root-");
  const s = settings();
  assert.is(knownComputeHost(s, root, false, login), undefined);
  // A probe kept by an earlier build counts only for the options it ran with.
  const kept = { cpu: "cpu:Compute CPU" };
  mkdirSync(join(root, ".lem/slurm"), { recursive: true });
  keepProbe(s, root, false, kept, "7", new Date("2026-12-03T00:00:00Z"));
  assert.equal(knownComputeHost(s, root, false, login), { host: kept, source: "probe job 7 (2026-12-03T00:00:00.000Z)" });
  // Another partition, or GPUs asked for, may be other machines: probe again.
  assert.is(knownComputeHost({ ...s, partition: "cpu" }, root, false, login), undefined);
  assert.is(knownComputeHost(s, root, true, login), undefined);
  // A bad fingerprint in the setting names the setting.
  assert.throws(() => knownComputeHost({ ...s, hardware: ["h100"] }, root, false, login),
    (e: LemError) => e.exitCode === 2 && e.message.includes('.lem-config.yaml: slurm.hardware: expected gpu:<name> or cpu:<model>, got "h100"'));
});

test("Slurm nodes plan for slurm.hardware: results measured there are done, other backends stay on this host", async () => {
  const p = new TempProject(`{ experiments: [{ name: "a", model: "synthetic:tiny", n: 2 }, { name: "b", model: "synthetic:tiny", n: 3 }] }`);
  writeFileSync(join(p.dir, ".lem-config.yaml"), 'runners: { pytorch: slurm }\nslurm:\n  hardware: ["cpu:Compute Node CPU"]\n');
  const project = await planOnCluster(await loadProject(join(p.dir, "lemfile.ts")), undefined, false);
  const { planned } = planProject(project, []);
  assert.equal([...new Set(planned.map((n) => n.hardware))], ["cpu:Compute Node CPU"]);
  const a = planned.find((n) => n.names[0] === "a")!;
  project.store.saveConfig(a.hash, a.names, a.groups, a.config, HASH_VERSION);
  project.store.saveResult(fakeResult(a));

  const status = await p.run("status", "--json");
  assert.is(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { nodes: { name: string; state: string }[] }).nodes.map((n) => `${n.name}:${n.state}`), ["a:done", "b:pending"]);
  assert.not.match(status.stderr, /warning/);
  const dry = await p.json("build", "--dry-run");
  assert.equal(dry.nodes.map((n) => `${n.name}:${n.state}`), ["a:done", "b:pending"]);
  // The same store through the local runner: this machine has measured nothing.
  const viaLocal = await loadProject(join(p.dir, "lemfile.ts"));
  process.env.LEM_RUNNER_PYTORCH = "local";
  try {
    const onHost = planProject(await planOnCluster(viaLocal, undefined, false), []);
    assert.ok(onHost.planned.every((n) => n.state === "pending" && n.hardware === viaLocal.host.cpu));
  } finally {
    delete process.env.LEM_RUNNER_PYTORCH;
  }
});

test("unknown compute nodes: status and --dry-run warn and plan as on this machine; no job is submitted", async () => {
  const p = new TempProject(`{ experiments: [{ name: "a", model: "synthetic:tiny" }] }`);
  writeFileSync(join(p.dir, ".lem-config.yaml"), "runners: { pytorch: slurm }\n");
  for (const args of [["status"], ["build", "--dry-run"], ["matrix"]]) {
    const r = await p.run(...args);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the Slurm compute nodes' hardware is not known yet/);
    assert.match(r.stderr, /slurm\.hardware/);
  }
  assert.not.ok(existsSync(join(p.dir, ".lem/slurm")), "no probe without a real build");
});

test.run();
