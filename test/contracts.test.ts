// Where TypeScript and the Python harness must agree (experiment defaults, hardware fingerprints),
// both are run on the same inputs and compared. The harness modules used here need no torch.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expandLemfile } from "../src/config/expand.js";
import { canonicalJson } from "../src/config/canonical-json.js";
import { cpuFingerprint, detectHardware, gpuFingerprint, hardwareFor, parseGpuList, runGpu } from "../src/exec/hardware.js";
import { raplSummary, raplZones, type RaplZone } from "../src/exec/energy-source.js";
import { HARNESS_DIR } from "../src/paths.js";
import { config } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/temp.js";

const PYTHON = process.env.LEM_PYTHON || "python3";

/** Runs `code` in the harness's package with `input` as JSON on stdin; returns its JSON stdout. */
function harness<T>(code: string, input: unknown): T {
  const r = spawnSync(PYTHON, ["-c", `import sys, json\nsys.path.insert(0, ${JSON.stringify(HARNESS_DIR)})\n${code}`],
    { input: JSON.stringify(input), encoding: "utf8", timeout: 30_000 });
  assert.is(r.status, 0, `${PYTHON} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test("the harness fills in the schema's defaults: a one-field config comes out as lem would hash it, per backend", () => {
  const cases = [{ model: "synthetic:tiny" }, { model: "synthetic:tiny", backend: "vllm" }];
  const fromHarness = harness<unknown[]>(
    "from lem_harness.config import with_defaults\nprint(json.dumps([with_defaults(c) for c in json.load(sys.stdin)]))", cases);
  cases.forEach((c, i) => {
    const { dataset_sha256, ...fromSchema } = expandLemfile({ experiments: [c] }, "lemfile.ts").experiments[0].config;
    assert.is(dataset_sha256, null, "set by lem from the dataset file, never by the harness");
    assert.is(canonicalJson(fromHarness[i]), canonicalJson(fromSchema), `defaults differ for ${JSON.stringify(c)}`);
  });
});

test("a config lem sends complete passes through the harness's defaults unchanged", () => {
  const full = config({ precision: "fp32", pytorch: { batch_size: 4, device: "cpu" }, decoder: { temperature: 0 } });
  const [back] = harness<unknown[]>("from lem_harness.config import with_defaults\nprint(json.dumps([with_defaults(c) for c in json.load(sys.stdin)]))", [full]);
  assert.is(canonicalJson(back), canonicalJson(full));
});

test("this machine's CPU fingerprint is the same string in TypeScript and in the harness", () => {
  const py = harness<string>("from lem_harness.environment import hardware_fingerprint\nprint(json.dumps(hardware_fingerprint('cpu', None, 0)))", null);
  assert.is(detectHardware().cpu, py);
  assert.match(py, /^cpu:\S/);
});

test("CPU and GPU fingerprints agree on injected facts: odd whitespace, an empty model name, GPU counts", () => {
  const dir = tempDir();
  const cpuinfos = [
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)   CPU @ 2.20GHz  \nflags\t: fpu\n",
    "model name\t:   \nmodel name\t: AMD\tEPYC 7B13 64-Core Processor\n",
    "processor : 0\nvendor_id : GenuineIntel\nmodel name: Apple M2\n\nprocessor : 1\nmodel name: Other\n",
  ].map((text, i) => { const file = join(dir, `cpuinfo-${i}`); writeFileSync(file, text); return { file, text }; });
  const gpus: [string, number][] = [["NVIDIA H100 80GB HBM3", 1], ["NVIDIA  A100-SXM4-80GB ", 8], ["Tesla V100-SXM2-16GB", 2]];
  const py = harness<{ cpu: string[]; gpu: string[] }>(`from lem_harness.environment import hardware_fingerprint
facts = json.load(sys.stdin)
print(json.dumps({"cpu": [hardware_fingerprint("cpu", None, 0, f) for f in facts["cpu"]],
                  "gpu": [hardware_fingerprint("cuda", n, c) for n, c in facts["gpu"]]}))`, { cpu: cpuinfos.map((c) => c.file), gpu: gpus });
  assert.equal(cpuinfos.map((c) => cpuFingerprint(c.text)), py.cpu);
  assert.equal(py.cpu, ["cpu:Intel(R) Xeon(R) CPU @ 2.20GHz", "cpu:AMD EPYC 7B13 64-Core Processor", "cpu:Apple M2"]);
  assert.equal(gpus.map(([name, count]) => gpuFingerprint(name, count)), py.gpu);
  // What the planner expects a run to be fingerprinted as, for the GPUs the run will use.
  const host = { cpu: "cpu:x", gpu: gpuFingerprint("NVIDIA H100 80GB HBM3", 8), gpuName: "NVIDIA H100 80GB HBM3" };
  const expect = hardwareFor(host);
  assert.is(expect(config()), py.gpu[0], "pytorch uses one GPU");
  assert.is(expect(config({ backend: "vllm", vllm: { engine: { tensor_parallel_size: 2 } } })), gpuFingerprint("NVIDIA H100 80GB HBM3", 2));
  assert.is(expect(config({ pytorch: { device: "cpu" } })), "cpu:x", "device cpu is measured on the CPU");
});

// `nvidia-smi -L` on an A100 split into MIG slices (GPU 0), beside a whole one (GPU 1).
const MIG_HOST = [
  "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)",
  "  MIG 3g.20gb     Device  0: (UUID: MIG-8c4c5a27-e508-5556-b2ea-7e549465741e)",
  "  MIG 1g.10gb     Device  1: (UUID: MIG-1d89abd8-d10a-5361-bd06-77a807048472)",
  "  MIG 1g.10gb     Device  2: (UUID: MIG-c6b63f1b-a006-5803-b4f4-cc1b2867b34b)",
  "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-658c3ec8-b842-8f3d-96b8-e919d699d17f)",
  "",
].join("\n");

test("a MIG slice is planned as the harness fingerprints it: the slice's profile, not the whole GPU", () => {
  const gpus = parseGpuList(MIG_HOST);
  assert.equal(gpus.map((g) => [g.name, g.migs.map((m) => m.profile)]), [["NVIDIA A100-SXM4-40GB", ["3g.20gb", "1g.10gb", "1g.10gb"]], ["NVIDIA A100-SXM4-40GB", []]]);
  assert.is(gpus[0].migs[1].uuid, "MIG-1d89abd8-d10a-5361-bd06-77a807048472");
  // CUDA runs on the first slice of a MIG-enabled first GPU, or on the slice CUDA_VISIBLE_DEVICES names (a prefix will do)
  assert.equal(runGpu(gpus), { name: "NVIDIA A100-SXM4-40GB MIG 3g.20gb", count: 1 });
  assert.equal(runGpu(gpus, "MIG-1d89abd8-d10a-5361-bd06-77a807048472"), { name: "NVIDIA A100-SXM4-40GB MIG 1g.10gb", count: 2 });
  assert.equal(runGpu(gpus, "MIG-c6b63f1b,MIG-8c4c5a27"), { name: "NVIDIA A100-SXM4-40GB MIG 1g.10gb", count: 2 });
  // without MIG: the first GPU's name and every GPU, as before
  const whole = parseGpuList("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)\n");
  assert.equal(runGpu(whole), { name: "NVIDIA H100 80GB HBM3", count: 2 });
  assert.is(runGpu(parseGpuList("No devices were found\n")), undefined);
  // The harness names the slice from NVML (the whole GPU's name and the slice's profile) or from CUDA's
  // device name ("<GPU> MIG <profile>"): both are the string lem plans with.
  const host = { cpu: "cpu:x", gpuName: runGpu(gpus, "MIG-1d89abd8")!.name };
  const py = harness<string[]>(`from lem_harness.environment import hardware_fingerprint
from lem_harness.energy.devices import mig_profile_of
cuda = "NVIDIA A100-SXM4-40GB MIG 1g.10gb"
print(json.dumps([hardware_fingerprint("cuda", "NVIDIA A100-SXM4-40GB", 1, mig_profile="1g.10gb"),
                  hardware_fingerprint("cuda", cuda, 1), hardware_fingerprint("cuda", cuda, 1, mig_profile=mig_profile_of(cuda))]))`, null);
  assert.equal(py, Array(3).fill(hardwareFor(host)(config())));
  assert.is(py[0], "gpu:NVIDIA A100-SXM4-40GB MIG 1g.10gb x1");
});

test("detectHardware reads nvidia-smi -L: a MIG host's fingerprint names the slice CUDA_VISIBLE_DEVICES picks", () => {
  const bin = tempDir("fake-smi-");
  writeFileSync(join(bin, "nvidia-smi"), `#!/bin/sh\n[ "$1" = "-L" ] || exit 9\ncat <<'EOF'\n${MIG_HOST}EOF\n`);
  chmodSync(join(bin, "nvidia-smi"), 0o755);
  const saved = { PATH: process.env.PATH, CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES };
  try {
    process.env.PATH = `${bin}:${saved.PATH}`;
    process.env.CUDA_VISIBLE_DEVICES = "MIG-c6b63f1b-a006-5803-b4f4-cc1b2867b34b";
    const hw = detectHardware();
    assert.equal([hw.gpuName, hw.gpu], ["NVIDIA A100-SXM4-40GB MIG 1g.10gb", "gpu:NVIDIA A100-SXM4-40GB MIG 1g.10gb x2"]);
    delete process.env.CUDA_VISIBLE_DEVICES;
    assert.is(detectHardware().gpuName, "NVIDIA A100-SXM4-40GB MIG 3g.20gb");
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.CUDA_VISIBLE_DEVICES === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = saved.CUDA_VISIBLE_DEVICES;
  }
});

test("lem doctor and the harness see the same RAPL zones in one powercap tree: scopes, subzones, unreadable ones", () => {
  const root = tempDir("powercap-");
  const zone = (folder: string, name: string | null, energy: string | null) => {
    mkdirSync(join(root, folder, name === null ? "name" : ""), { recursive: true });  // a folder as name: unreadable
    if (name !== null) writeFileSync(join(root, folder, "name"), `${name}\n`);
    if (energy !== null) writeFileSync(join(root, folder, "energy_uj"), `${energy}\n`);
  };
  zone("intel-rapl:0", "package-0", "123");
  zone("intel-rapl:0:0", "core", "5");
  zone("intel-rapl:0:1", "dram", null);
  mkdirSync(join(root, "intel-rapl:0:1", "energy_uj"));  // unreadable even as root
  zone("intel-rapl:1", "package-1", null);
  symlinkSync(join(root, "nowhere"), join(root, "intel-rapl:1", "energy_uj"));
  zone("intel-rapl:1:1", "dram", "7");
  zone("intel-rapl:2", "psys", "9");
  zone("intel-rapl:3", null, null);
  zone("intel-rapl-mmio:0", "package-0", "123");
  zone("amd-rapl:4", "package-4", "not a number");
  const fromTs = raplZones(root) as RaplZone[];
  const py = harness<Omit<RaplZone, "reason">[]>(`from lem_harness.energy.rapl import list_zones
print(json.dumps([{"zone": z.zone, "name": z.name, "scope": z.scope, "readable": z.readable} for z in list_zones(json.load(sys.stdin))]))`, root);
  assert.equal(fromTs.map(({ zone, name, scope, readable }) => ({ zone, name, scope, readable })), py);
  assert.equal(py.map((z) => `${z.zone}=${z.scope}${z.readable ? "" : "!"}`), [
    "amd-rapl:4=cpu!", "intel-rapl:0=cpu", "intel-rapl:0:0=null", "intel-rapl:0:1=dram!", "intel-rapl:1=cpu!",
    "intel-rapl:1:1=dram", "intel-rapl:2=null", "intel-rapl:3=null!",
  ]);
  const summary = raplSummary(root);
  assert.equal([summary.packages, summary.dram, summary.why], [1, 1, undefined]);
});

test.run();
