import { spawnSync } from "node:child_process";

/** docker.health_check and docker.cold_start in .lem-config.yaml (the origin's v1 behaviour). */
export interface HealthPolicy {
  enabled: boolean;
  interval_experiments: number;
  gpu_memory_threshold_pct: number;
  restart_on_failure: boolean;
  max_restarts: number;
  force_cold_start: boolean;
}

export interface HealthState {
  failed: boolean;
  interrupted: boolean;
  /** Experiments run in the service since its last check. */
  sinceCheck: number;
  /** The fullest GPU's memory in use, percent; null without a GPU. */
  gpuMemoryPct: number | null;
  restarts: number;
}

/**
 * Whether a persistent service should be restarted after a node, and why. Pure. A cold start
 * restarts after every node (a fresh container for each); otherwise a failure or GPU memory left
 * in use past the threshold does, up to max_restarts, since such state leaks into the next node.
 */
export function restartReason(policy: HealthPolicy, s: HealthState): string | undefined {
  if (s.interrupted) return undefined;
  if (policy.force_cold_start) return "cold start (force_cold_start)";
  if (s.restarts >= policy.max_restarts) return undefined;
  if (s.failed && policy.restart_on_failure) return "the experiment failed";
  if (policy.enabled && s.sinceCheck >= policy.interval_experiments && s.gpuMemoryPct !== null && s.gpuMemoryPct > policy.gpu_memory_threshold_pct) {
    return `GPU memory ${s.gpuMemoryPct.toFixed(0)}% in use (threshold ${policy.gpu_memory_threshold_pct}%)`;
  }
  return undefined;
}

/** The fullest GPU's memory use in percent, from the host's nvidia-smi; null where there is none. */
export function gpuMemoryPct(): number | null {
  const r = spawnSync("nvidia-smi", ["--query-gpu=memory.used,memory.total", "--format=csv,noheader,nounits"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) return null;
  const pcts = r.stdout.trim().split("\n").map((line) => {
    const [used, total] = line.split(",").map(Number);
    return total > 0 ? (100 * used) / total : NaN;
  }).filter(Number.isFinite);
  return pcts.length ? Math.max(...pcts) : null;
}
