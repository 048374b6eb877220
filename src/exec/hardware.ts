import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { spawnSync } from "node:child_process";
import type { ExperimentConfig } from "../lemfile/types.js";
import { inputError } from "../errors.js";
import { asksForCpu, gpusPerRun } from "../config/gpus.js";

export interface HostHardware {
  cpu: string;
  /** `gpu:<name> x<count>` of every GPU nvidia-smi sees (on MIG: every slice like the one a run uses), else undefined (for display). */
  gpu?: string;
  gpuName?: string;
}

const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

/**
 * `cpu:<model>` from /proc/cpuinfo's first non-empty `model name` (whitespace runs collapsed), else
 * the fallback; the harness's environment.cpu_model does the same (a test runs both on one text).
 */
export function cpuFingerprint(cpuinfo: string | undefined, fallback?: string): string {
  for (const line of (cpuinfo ?? "").split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== "model name") continue;
    const model = collapse(line.slice(colon + 1));
    if (model) return `cpu:${model}`;
  }
  return `cpu:${collapse(fallback ?? "") || "unknown"}`;
}

/** `gpu:<name> x<count>`, as the harness's hardware_fingerprint writes it. */
export const gpuFingerprint = (name: string, count: number) => `gpu:${collapse(name) || "unknown"} x${count}`;

/** A GPU as `nvidia-smi -L` lists it, with the MIG instances listed under it. */
export interface ListedGpu {
  name: string;
  uuid: string;
  migs: { profile: string; uuid: string }[];
}

/**
 * `nvidia-smi -L`: "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-…)" lines, each followed by its MIG
 * instances, "  MIG 1g.10gb     Device  0: (UUID: MIG-…)".
 */
export function parseGpuList(output: string): ListedGpu[] {
  const gpus: ListedGpu[] = [];
  for (const line of output.split("\n")) {
    const gpu = /^GPU \d+:\s*(.+?)\s*\(UUID:\s*([^)]+?)\s*\)\s*$/.exec(line);
    const mig = gpu ? null : /^\s+MIG\s+(\S+)\s+Device\s+\d+:\s*\(UUID:\s*([^)]+?)\s*\)\s*$/.exec(line);
    if (gpu) gpus.push({ name: collapse(gpu[1]), uuid: gpu[2], migs: [] });
    else if (mig && gpus.length) gpus[gpus.length - 1].migs.push({ profile: mig[1], uuid: mig[2] });
  }
  return gpus;
}

/**
 * The GPU a run here computes on, named as the harness fingerprints it: the first GPU's name; a MIG
 * slice as `<GPU name> MIG <profile>`, where CUDA_VISIBLE_DEVICES names the slice (`MIG-…`) or the
 * first GPU has MIG instances (CUDA then runs on its first). `count`: GPUs, or slices of that name.
 */
export function runGpu(gpus: readonly ListedGpu[], visible?: string): { name: string; count: number } | undefined {
  const slices = gpus.flatMap((g) => g.migs.map((m) => ({ ...m, name: `${g.name} MIG ${m.profile}` })));
  const wanted = visible?.split(",")[0]?.trim();
  const named = wanted?.startsWith("MIG-") ? slices.find((m) => m.uuid.startsWith(wanted)) : undefined;
  const first = gpus[0]?.migs[0] ? `${gpus[0].name} MIG ${gpus[0].migs[0].profile}` : undefined;
  const slice = named?.name ?? first;
  if (slice) return { name: slice, count: slices.filter((m) => m.name === slice).length };
  return gpus.length ? { name: gpus[0].name, count: gpus.length } : undefined;
}

/** The same fingerprints the harness writes into `hardware` (see docker/harness). */
export function detectHardware(): HostHardware {
  let cpuinfo: string | undefined;
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch { /* not Linux: os.cpus() is all there is */ }
  const cpu = cpuFingerprint(cpuinfo, cpus()[0]?.model);
  const smi = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 10_000 });
  const gpu = smi.status === 0 ? runGpu(parseGpuList(smi.stdout), process.env.CUDA_VISIBLE_DEVICES) : undefined;
  return gpu ? { cpu, gpu: gpuFingerprint(gpu.name, gpu.count), gpuName: gpu.name } : { cpu };
}

/**
 * Where a config would be measured here, as the harness will fingerprint it: the GPUs the run
 * uses (pytorch: one; vllm: tensor_parallel_size), or the CPU when it asks for it or has no GPU.
 */
export function hardwareFor(host: HostHardware): (config: ExperimentConfig) => string {
  return (config) => {
    if (!host.gpuName || asksForCpu(config)) return host.cpu;
    return gpuFingerprint(host.gpuName, gpusPerRun(config));
  };
}

/**
 * The host as another machine (`--hardware`), for planning there from here: a CI plan job on a
 * CPU runner plans for GPU shards. Each entry is a fingerprint as results record it: `gpu:<name>`
 * (a ` xK` count is ignored: each config's own count applies) or `cpu:<model>`. The target has no
 * GPU unless a gpu: entry names one; without a cpu: entry it has this host's CPU.
 */
export function hostAs(host: HostHardware, fingerprints: readonly string[], flag = "--hardware"): HostHardware {
  let cpu = host.cpu;
  let gpuName: string | undefined;
  for (const fp of fingerprints) {
    const m = /^(cpu|gpu):(.+)$/.exec(fp.trim());
    const name = m ? collapse(m[2].replace(/\s+x\d+$/, "")) : "";
    if (!m || !name) throw inputError(`${flag}: expected gpu:<name> or cpu:<model>, got "${fp}"`, `copy a fingerprint from \`lem doctor\` on that machine or from a result's "hardware", e.g. ${flag} "gpu:NVIDIA H100 80GB HBM3"`);
    if (m[1] === "cpu") cpu = `cpu:${name}`;
    else if (gpuName !== undefined && gpuName !== name) throw inputError(`${flag}: two GPU models ("${gpuName}", "${name}"); a node runs on one`, `plan each machine kind on its own: one lem matrix per ${flag}`);
    else gpuName = name;
  }
  return gpuName ? { cpu, gpu: gpuFingerprint(gpuName, 1), gpuName } : { cpu };
}
