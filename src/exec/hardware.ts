import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { spawnSync } from "node:child_process";
import type { ExperimentConfig } from "../lemfile/types.js";

export interface HostHardware {
  cpu: string;
  /** `gpu:<name> x<count>` when nvidia-smi sees GPUs, else undefined. */
  gpu?: string;
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
  return { cpu, gpu: names.length ? `gpu:${names[0]} x${names.length}` : undefined };
}

/** Where a config would be measured here: its GPU unless it asks for the CPU or there is none. */
export function hardwareFor(host: HostHardware): (config: ExperimentConfig) => string {
  return (config) => (config.pytorch?.device === "cpu" || !host.gpu ? host.cpu : host.gpu);
}
