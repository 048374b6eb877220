// Messages that must tell the truth: a config that demands a GPU on a host without one, energy that
// cannot be measured, lem clean --all without a terminal to confirm on, and validation errors whose
// fields stand above the fix. Each: its exit code, the file or field named, no stack trace, the
// measured results untouched (runCorpus checks those).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCorpus, withExperiment, withExperiments, VALID_BODY, type Case } from "./corpus.js";
import { tempDir } from "../helpers/temp.js";

/** A PATH whose nvidia-smi finds no GPU, whatever this machine has. */
const noGpuBin = join(tempDir("lem-no-gpu-"), "bin");
mkdirSync(noGpuBin);
writeFileSync(join(noGpuBin, "nvidia-smi"), "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' >&2\nexit 9\n");
chmodSync(join(noGpuBin, "nvidia-smi"), 0o755);
const NO_GPU = { PATH: `${noGpuBin}:${process.env.PATH}` };
const FAKE_PYTHON = fileURLToPath(new URL("../faults/fixtures/python3", import.meta.url));
const LOCAL = { ...NO_GPU, LEM_PYTHON: FAKE_PYTHON, LEM_RUNNER_PYTORCH: "local" };
const CUDA = `{ name: "gpu-run", pytorch: { device: "cuda" } }`;
/** The lines of stderr in order: `first` must come before `then`. */
const before = (first: RegExp, then: RegExp) => (r: { stderr: string }) => {
  const a = r.stderr.search(first), b = r.stderr.search(then);
  if (a < 0 || b < 0 || a > b) throw new Error(`expected ${first} above ${then} in:\n${r.stderr}`);
};

const cases: Case[] = [
  // ---- a config that demands a GPU, on a host without one ----
  { name: "device: cuda without a GPU: build stops before any node, naming the field and experiment", body: withExperiment(CUDA), args: ["build"], env: LOCAL,
    expect: { code: 2, file: null, stderr: [/cannot measure here: pytorch\.device is "cuda" in experiment "gpu-run", and no NVIDIA GPU was found here/, /fix: set pytorch\.device to "auto"/] } },
  { name: "device: cuda without a GPU: the docker runner is stopped the same way", body: withExperiment(CUDA), args: ["build", "--runner", "docker"], env: NO_GPU,
    expect: { code: 2, file: null, stderr: [/pytorch\.device is "cuda" in experiment "gpu-run"/] } },
  { name: "device: cuda without a GPU: setup says it cannot, not 'nothing to do'", body: withExperiment(CUDA), args: ["setup", "--dry-run"], env: LOCAL,
    expect: { code: 2, file: null, stderr: [/setup cannot make pytorch work here: pytorch\.device is "cuda" in experiment "gpu-run"/], check: (r) => { if (/nothing to do/.test(r.stdout)) throw new Error(r.stdout); } } },
  { name: "device: cuda on five experiments: three named, the rest counted",
    body: withExperiments(`sweep("gpu", { "pytorch.device": ["cuda"], "pytorch.batch_size": [1, 2, 3, 4, 5] })`), args: ["build"], env: LOCAL,
    expect: { code: 2, file: null, stderr: [/experiment "gpu-[^"]+", "gpu-[^"]+", "gpu-[^"]+" and 2 more, and no NVIDIA GPU/] } },

  // ---- energy that cannot be measured ----
  { name: "doctor: no GPU and no RAPL: energy is not ok, says what will be null and why", args: ["doctor"], env: { ...LOCAL, LEM_POWERCAP_ROOT: "/nonexistent/powercap" },
    expect: { code: 0, stdout: [/^-- {3}energy +not measurable here: every result's energy \(total_j, J\/token, power\) will be null, since there is no NVIDIA GPU and RAPL not readable at \/nonexistent\/powercap/m, /fix: measure on a machine with an NVIDIA GPU, or on bare metal whose kernel exposes RAPL/] } },
  { name: "doctor: a RAPL counter that cannot be read: names it and why energy will be null", args: ["doctor"], env: { ...LOCAL, LEM_POWERCAP_ROOT: "powercap" },
    files: { "powercap/intel-rapl:0/name": "package-0\n", "powercap/intel-rapl:0/energy_uj/denied": "a folder where the counter should be\n" },
    expect: { code: 0, stdout: [/^-- {3}energy +not measurable here: .*RAPL not readable at powercap \(intel-rapl:0\/energy_uj unreadable \(EISDIR\)\)/m] } },
  { name: "doctor: readable RAPL: energy is ok for CPU runs", args: ["doctor", "--json"], env: { ...LOCAL, LEM_POWERCAP_ROOT: "powercap" },
    files: { "powercap/intel-rapl:0/name": "package-0\n", "powercap/intel-rapl:0/energy_uj": "123456\n", "powercap/intel-rapl:0:1/name": "dram\n", "powercap/intel-rapl:0:1/energy_uj": "42\n" },
    expect: { code: 0, stdout: [/"name":"energy","ok":true,"value":"CPU runs: RAPL \(1 package, DRAM beside it\)/] } },
  { name: "doctor: a DRAM zone that cannot be read: energy still ok, the zone named", args: ["doctor"], env: { ...LOCAL, LEM_POWERCAP_ROOT: "powercap" },
    files: { "powercap/intel-rapl:0/name": "package-0\n", "powercap/intel-rapl:0/energy_uj": "123456\n", "powercap/intel-rapl:0:1/name": "dram\n", "powercap/intel-rapl:0:1/energy_uj/denied": "a folder where the counter should be\n" },
    expect: { code: 0, stdout: [/^ok {3}energy +CPU runs: RAPL \(1 package, DRAM unreadable\) .*; not read: intel-rapl:0:1\/energy_uj unreadable \(EISDIR\)$/m] } },

  // ---- lem clean --all ----
  { name: "clean --all without a terminal or --yes: exit 2, nothing removed", args: ["clean", "--all"],
    expect: { code: 2, file: /results/, stderr: [/lem clean --all would remove all 1 stored config\(s\) in .*results, and there is no terminal to ask on/, /fix: pass --yes/] } },
  { name: "clean --all --dry-run: names what it would remove", args: ["clean", "--all", "--dry-run"],
    expect: { code: 0, stdout: [/^would remove kept {2}[0-9a-f]{16} {2}\(2 measured cycles\)$/m, /1 removed \(dry run\), 0 kept/] } },

  // ---- validation errors: the fields stand above the fix ----
  { name: "validation: a typo'd field stands above a fix that says so", body: withExperiment(`{ name: "a", precison: "fp32" }`), args: ["status"],
    expect: { code: 2, stderr: [/fix: fix the fields named above/], check: before(/precison: unknown field/, /fix:/) } },
  { name: "validation: .lem-config.yaml's fields stand above its fix", files: { ".lem-config.yaml": "jobs: 0\n" },
    expect: { code: 2, file: /\.lem-config\.yaml/, stderr: [/fix: fix the fields named above/], check: before(/jobs: must be >= 1/, /fix:/) } },
  { name: "validation: a missing dataset stands above the fix (lem clean)", body: withExperiment(`{ name: "d", dataset: "missing.jsonl" }`), args: ["clean"],
    expect: { code: 2, stderr: [/fix: fix the (fields|experiments) named above/], check: before(/experiment "d": dataset: no such file "missing\.jsonl"/, /fix:/) } },

  // ---- raising cycles ----
  { name: "status: raising cycles makes the new cycle pending as a new cycle", body: VALID_BODY.replace('"cycles":2', '"cycles":3'), args: ["status", "--json"],
    expect: { code: 0, stdout: [/"name":"kept","names":\["kept"\],"hash":"[0-9a-f]{16}","cycle":3,"state":"pending","reason":"new cycle"/] } },
];

runCorpus("messages that tell the truth", cases);
