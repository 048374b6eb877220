import type { Experiment } from "../config/expand.js";
import type { ExecutionConfig, ExperimentConfig } from "../lemfile/types.js";

/** One unit of work: a config hash measured for one cycle. The cycle is identity, not hash. */
export interface NodeSpec {
  hash: string;
  cycle: number;
  names: string[];
  /** Sweeps the node's experiment came from. */
  groups: string[];
  config: ExperimentConfig;
}

/** Deterministic PRNG (mulberry32): the same shuffle_seed gives the same order on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Experiments × cycles in run order. sequential: every cycle of one experiment, then the next;
 * interleaved: cycle 1 of every experiment, then cycle 2...; shuffled: like interleaved with the
 * experiments in a seeded random order within each cycle (so drift is not confounded with order).
 */
export function buildNodes(experiments: Experiment[], execution: Required<ExecutionConfig>): NodeSpec[] {
  const node = (e: Experiment, cycle: number): NodeSpec => ({ hash: e.hash, cycle, names: e.names, groups: e.groups, config: e.config });
  const cycles = Array.from({ length: execution.cycles }, (_, i) => i + 1);
  if (execution.cycle_order === "sequential") return experiments.flatMap((e) => cycles.map((c) => node(e, c)));
  const rand = seededRandom(execution.shuffle_seed);
  return cycles.flatMap((c) =>
    (execution.cycle_order === "shuffled" ? shuffled(experiments, rand) : experiments).map((e) => node(e, c)),
  );
}
