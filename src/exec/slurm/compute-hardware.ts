import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpuFingerprint, gpuFingerprint, hostAs, parseGpuList, runGpu, type HostHardware } from "../hardware.js";
import { leaveQueue, slurm } from "./slurm-cli.js";
import { gpusForJob, placementOptions, sharedDir } from "./slurm-runner.js";
import { LemError } from "../../errors.js";
import type { SlurmSettings } from "../../config/user-config.js";
import type { ExperimentConfig } from "../../lemfile/types.js";
import { asksForCpu, gpusPerRun } from "../../config/gpus.js";

// Results on a cluster carry the compute node's fingerprint, not the login node's. Planning
// against the login node would call every measured node "other hardware" and measure it again,
// so lem plans Slurm nodes against the compute nodes: slurm.hardware where set, else a probe job
// whose answer is kept in the shared folder.

export const PROBE_FILE = "compute-hardware.json";

/** Whether the probe job must ask for a GPU: any node's job does (sbatchOptions' rule), or gres is set. */
export const probeNeedsGpu = (settings: SlurmSettings, configs: ExperimentConfig[]): boolean =>
  Boolean(settings.gres) || configs.some((config) => gpusForJob(settings, config) > 0);

/** Where a config runs on the cluster: on GPUs when its job asks for them (as sbatchOptions does), else on the CPU. */
export function computeHardwareFor(settings: SlurmSettings, host: HostHardware): (config: ExperimentConfig) => string {
  return (config) => {
    const gpus = settings.gres ? 1 : gpusForJob(settings, config);
    if (!host.gpuName || gpus === 0 || asksForCpu(config)) return host.cpu;
    return gpuFingerprint(host.gpuName, gpusPerRun(config));
  };
}

/** The job options a probe shares with the nodes' jobs: a change of any of them may mean other machines. */
function probeKey(settings: SlurmSettings, gpu: boolean): string {
  const { partition, account, qos, gres, sbatch_args } = settings;
  return createHash("sha256").update(JSON.stringify({ partition, account, qos, gres, sbatch_args, gpu })).digest("hex").slice(0, 16);
}

interface ProbeRecord { key: string; host: HostHardware; job: string; probed_at: string }

/** The compute nodes' hardware without asking the cluster: the setting, else a kept probe for these options. */
export function knownComputeHost(settings: SlurmSettings, projectRoot: string, gpu: boolean, login: HostHardware): { host: HostHardware; source: string } | undefined {
  if (settings.hardware?.length) return { host: hostAs(login, settings.hardware, ".lem-config.yaml: slurm.hardware"), source: "slurm.hardware" };
  try {
    const record = JSON.parse(readFileSync(join(sharedDir(settings, projectRoot), PROBE_FILE), "utf8")) as ProbeRecord;
    if (record.key === probeKey(settings, gpu) && typeof record.host?.cpu === "string") return { host: record.host, source: `probe job ${record.job} (${record.probed_at})` };
  } catch { /* none kept yet, or unreadable: probe again */ }
  return undefined;
}

/** `model name` and GPU names as the job sees them: the same facts detectHardware reads on this machine. */
const PROBE_SCRIPT = [
  "#!/bin/sh",
  "# Written by lem: what hardware the compute nodes have, for planning (no harness, no Python).",
  "grep -m1 '^model name' /proc/cpuinfo",
  // The GPUs Slurm gave the job: a MIG slice is keyed to its profile, as detectHardware does here.
  "echo \"--- visible ${CUDA_VISIBLE_DEVICES:-}\"",
  "echo '--- gpus'",
  "nvidia-smi -L 2>/dev/null || true",
  "",
].join("\n");

export function parseProbe(output: string): HostHardware {
  const [head, gpuPart = ""] = output.split("--- gpus");
  const [cpuPart, visiblePart = ""] = head.split("--- visible");
  const cpu = cpuFingerprint(cpuPart);
  const gpu = runGpu(parseGpuList(gpuPart.replace(/^\n/, "")), visiblePart.trim() || undefined);
  return gpu ? { cpu, gpu: gpuFingerprint(gpu.name, gpu.count), gpuName: gpu.name } : { cpu };
}

/**
 * Submits a one-second job with the nodes' options (GPUs when any node asks for them) and reads
 * its hardware; kept in the shared folder for the next plan. Ctrl-C cancels it.
 */
export async function probeComputeHost(settings: SlurmSettings, projectRoot: string, gpu: boolean, signal: AbortSignal): Promise<{ host: HostHardware; source: string }> {
  const dir = sharedDir(settings, projectRoot);
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "probe.sh");
  writeFileSync(script, PROBE_SCRIPT, { mode: 0o755 });
  const output = join(dir, "probe-%j.out");
  const submitted = await slurm("sbatch", [
    "--parsable", "--job-name=lem-probe", `--output=${output}`, "--nodes=1", "--ntasks=1", "--time=2", ...placementOptions(settings),
    ...(gpu ? [settings.gres ? `--gres=${settings.gres}` : "--gpus-per-node=1"] : []),
    ...settings.sbatch_args, script,
  ]);
  const job = submitted.stdout.trim().split(";")[0];
  if (submitted.code !== 0 || !/^\d+$/.test(job)) {
    throw new LemError(`Slurm refused the hardware probe job: ${(submitted.stderr || submitted.stdout).trim().split("\n").slice(-2).join("; ")}`,
      "check slurm.partition, account, qos and sbatch_args in .lem-config.yaml, or name the compute nodes' hardware in slurm.hardware (e.g. [\"gpu:NVIDIA H100 80GB HBM3\", \"cpu:AMD EPYC 9654 96-Core Processor\"])", 2);
  }
  try {
    await leaveQueue(job, settings.poll_max_seconds * 1000, signal);
    if (signal.aborted) {
      await slurm("scancel", [job]);
      rmSync(output.replace("%j", job), { force: true });
      throw new LemError("interrupted while probing the compute nodes' hardware (the probe job was cancelled)", undefined, 130);
    }
  } finally {
    rmSync(script, { force: true });
  }
  const file = output.replace("%j", job);
  let text: string;
  try { text = readFileSync(file, "utf8"); } catch {
    throw new LemError(`the hardware probe job ${job} wrote no output (${file})`, `slurm.shared_dir (${dir}) must be visible to the compute nodes at the same path; or set slurm.hardware`, 1);
  }
  rmSync(file, { force: true });
  const host = parseProbe(text);
  keepProbe(settings, projectRoot, gpu, host, job);
  return { host, source: `probe job ${job}` };
}

/** What a probe job found, for the next plans with the same job options (knownComputeHost). */
export function keepProbe(settings: SlurmSettings, projectRoot: string, gpu: boolean, host: HostHardware, job: string, at = new Date()): void {
  const record: ProbeRecord = { key: probeKey(settings, gpu), host, job, probed_at: at.toISOString() };
  writeFileSync(join(sharedDir(settings, projectRoot), PROBE_FILE), JSON.stringify(record, null, 2) + "\n");
}
