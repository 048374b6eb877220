import type { Experiment } from "../config/expand.js";
import { serverKey } from "../config/server-key.js";
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
 * Then serving nodes that share a server are brought together (groupByServer).
 */
export function buildNodes(experiments: Experiment[], execution: Required<ExecutionConfig>): NodeSpec[] {
  const node = (e: Experiment, cycle: number): NodeSpec => ({ hash: e.hash, cycle, names: e.names, groups: e.groups, config: e.config });
  const cycles = Array.from({ length: execution.cycles }, (_, i) => i + 1);
  if (execution.cycle_order === "sequential") return groupByServer(experiments.flatMap((e) => cycles.map((c) => node(e, c))));
  const rand = seededRandom(execution.shuffle_seed);
  return groupByServer(cycles.flatMap((c) =>
    (execution.cycle_order === "shuffled" ? shuffled(experiments, rand) : experiments).map((e) => node(e, c)),
  ));
}

/**
 * Serving nodes that can share a server (the same serverKey) run one after another, so the server
 * is started once: walking the order, the first node of a key brings every node of that key with
 * it (in their order), and they are passed over later. Offline nodes keep their order, and a
 * lemfile with no serving node keeps exactly the order cycle_order gives.
 */
export function groupByServer<T extends { hash: string; config: NodeSpec["config"] }>(nodes: T[]): T[] {
  if (!nodes.some((n) => n.config.scenario === "serving")) return nodes;
  const keyOf = new Map<string, string | null>();
  const key = (n: T) => {
    let k = keyOf.get(n.hash);
    if (k === undefined) keyOf.set(n.hash, (k = serverKey(n.config)));
    return k;
  };
  const byKey = new Map<string, T[]>();
  for (const n of nodes) {
    const k = key(n);
    if (k !== null) (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(n);
  }
  if (byKey.size === 0) return nodes;
  const out: T[] = [];
  const emitted = new Set<string>();
  for (const n of nodes) {
    const k = key(n);
    if (k === null) out.push(n);
    else if (!emitted.has(k)) { emitted.add(k); out.push(...byKey.get(k)!); }
  }
  return out;
}
