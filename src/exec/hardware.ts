import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { spawnSync } from "node:child_process";
import type { ExperimentConfig } from "../lemfile/types.js";

export interface HostHardware {
  cpu: string;
  /** `gpu:<name> x<count>` of every GPU nvidia-smi sees, else undefined (for display). */
  gpu?: string;
  gpuName?: string;
}

const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

/** The same fingerprints the harness writes into `hardware` (see docker/harness). */
export function detectHardware(): HostHardware {
  let model = cpus()[0]?.model;
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch { /* not Linux: os.cpus() is all there is */ }
  const cpu = `cpu:${collapse(model ?? "unknown")}`;
  const smi = spawnSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], { encoding: "utf8", timeout: 10_000 });
  const names = smi.status === 0 ? smi.stdout.split("\n").map(collapse).filter(Boolean) : [];
  return names.length ? { cpu, gpu: `gpu:${names[0]} x${names.length}`, gpuName: names[0] } : { cpu };
}

/**
 * Where a config would be measured here, as the harness will fingerprint it: the GPUs the run
 * uses (pytorch: one; vllm: tensor_parallel_size), or the CPU when it asks for it or has no GPU.
 */
export function hardwareFor(host: HostHardware): (config: ExperimentConfig) => string {
  return (config) => {
    if (!host.gpuName || config.pytorch?.device === "cpu") return host.cpu;
    const count = config.backend === "vllm" ? config.vllm?.engine?.tensor_parallel_size ?? 1 : 1;
    return `gpu:${host.gpuName} x${count}`;
  };
}
