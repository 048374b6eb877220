import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { spawnSync } from "node:child_process";
import type { ExperimentConfig } from "../lemfile/types.js";
import { inputError } from "../errors.js";

export interface HostHardware {
  cpu: string;
  /** `gpu:<name> x<count>` of every GPU nvidia-smi sees, else undefined (for display). */
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

/** The same fingerprints the harness writes into `hardware` (see docker/harness). */
export function detectHardware(): HostHardware {
  let cpuinfo: string | undefined;
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch { /* not Linux: os.cpus() is all there is */ }
  const cpu = cpuFingerprint(cpuinfo, cpus()[0]?.model);
  const smi = spawnSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], { encoding: "utf8", timeout: 10_000 });
  const names = smi.status === 0 ? smi.stdout.split("\n").map(collapse).filter(Boolean) : [];
  return names.length ? { cpu, gpu: gpuFingerprint(names[0], names.length), gpuName: names[0] } : { cpu };
}

/**
 * Where a config would be measured here, as the harness will fingerprint it: the GPUs the run
 * uses (pytorch: one; vllm: tensor_parallel_size), or the CPU when it asks for it or has no GPU.
 */
export function hardwareFor(host: HostHardware): (config: ExperimentConfig) => string {
  return (config) => {
    if (!host.gpuName || config.pytorch?.device === "cpu") return host.cpu;
    const count = config.backend === "vllm" ? config.vllm?.engine?.tensor_parallel_size ?? 1 : 1;
    return gpuFingerprint(host.gpuName, count);
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
