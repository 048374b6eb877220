// Shared by the benches: wall time of a command, interleaved rounds, medians.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { performance } from "node:perf_hooks";

export interface Command {
  label: string;
  argv: string[];
  options?: SpawnSyncOptions;
  /** Runs before each timed run (not timed): e.g. a fresh cache folder. */
  before?: () => void;
}

/** Seconds one run took; throws with the command's stderr when it fails. */
export function timeOnce(command: Command): number {
  command.before?.();
  const t0 = performance.now();
  const r = spawnSync(command.argv[0], command.argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 30, ...command.options });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${command.label} (${command.argv.join(" ")}) exited ${r.status ?? r.signal}:\n${String(r.stderr).slice(-2000)}`);
  return seconds;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Runs every command once per round, in an order rotated each round, so a load that comes and
 * goes on a shared machine falls on all of them alike; returns each command's median.
 */
export function interleaved(commands: Command[], rounds: number, warmup = 1): Map<string, number[]> {
  const times = new Map(commands.map((c) => [c.label, [] as number[]]));
  for (let round = -warmup; round < rounds; round++) {
    for (let k = 0; k < commands.length; k++) {
      const command = commands[(k + Math.max(round, 0)) % commands.length];
      const seconds = timeOnce(command);
      if (round >= 0) times.get(command.label)!.push(seconds);
    }
  }
  return times;
}

export const ms = (seconds: number) => `${(seconds * 1000).toFixed(0)} ms`;
