import type { PlannedNode } from "./plan.js";
import { needsRun } from "./plan.js";
import { balanceShards, imbalance, type ShardUnit } from "./shard-plan.js";
import type { CostModel } from "./cost-model.js";

/** One CI job: the configs it measures (all their pending cycles) and what that should take. */
export interface MatrixShard {
  /** `I/N`, as `lem build --shard` takes it. */
  shard: string;
  /** Unique and artifact-safe: `lem-shard-I-of-N`. */
  name: string;
  nodes: number;
  configs: number;
  estimated_seconds: number;
  /** Config hashes, sorted: `lem build --shard-hashes` takes them, so the job runs exactly these. */
  hashes: string[];
}

export interface MatrixPlan {
  shards: MatrixShard[];
  /** Pending (or failed) nodes in all shards. */
  pending: number;
  /** Of those, how many were estimated from their config's own stored wall times. */
  measured: number;
  /** max ÷ mean expected seconds; null when nothing is pending. */
  imbalance: number | null;
  /** measured ÷ modelled seconds (1 when nothing was measured). */
  scale: number;
}

/** Rounded so the printed matrix is the same bytes for the same input on any platform. */
const round = (seconds: number) => Math.round(seconds * 10) / 10;

/**
 * The nodes a build would run, grouped by config and split into at most `maxJobs` shards balanced
 * by expected seconds. Pure: the same plan and costs give the same shards.
 */
export function planMatrix(planned: readonly PlannedNode[], cost: CostModel, maxJobs: number): MatrixPlan {
  const units = new Map<string, ShardUnit>();
  let pending = 0;
  let measured = 0;
  for (const node of planned) {
    if (!needsRun(node)) continue;
    pending += 1;
    if (cost.measured(node.hash)) measured += 1;
    const seconds = cost.seconds(node.hash, node.config);
    const unit = units.get(node.hash);
    if (unit) { unit.nodes += 1; unit.seconds += seconds; }
    else units.set(node.hash, { hash: node.hash, nodes: 1, seconds });
  }
  const shards = balanceShards([...units.values()], maxJobs);
  const n = shards.length;
  return {
    shards: shards.map((s) => ({
      shard: `${s.index}/${n}`, name: `lem-shard-${s.index}-of-${n}`, nodes: s.nodes, configs: s.hashes.length,
      estimated_seconds: round(s.seconds), hashes: s.hashes,
    })),
    pending, measured, imbalance: imbalance(shards), scale: cost.scale,
  };
}
