import { inputError } from "../errors.js";

/** One config's share of the work: every cycle of a config goes to one shard. */
export interface ShardUnit { hash: string; nodes: number; seconds: number }

export interface Shard {
  /** 1-based. */
  index: number;
  /** Config hashes, sorted. */
  hashes: string[];
  nodes: number;
  seconds: number;
}

/** `I/N` → its parts; anything else is an input error naming the flag. */
export function parseShard(value: string, flag = "--shard"): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || count < 1 || index < 1 || index > count) throw inputError(`${flag}: expected I/N with 1 ≤ I ≤ N, got "${value}"`, `e.g. ${flag} 2/4`);
  return { index, count };
}

/**
 * Splits configs into at most `maxShards` shards of near-equal expected seconds: longest first,
 * each to the least loaded shard (LPT; within 4/3 of the best split). Ties break on hash and shard
 * index, so the same units give the same shards everywhere. Never an empty shard: there are
 * min(maxShards, units) of them, and the first of each goes to an empty one.
 */
export function balanceShards(units: readonly ShardUnit[], maxShards: number): Shard[] {
  const count = Math.min(maxShards, units.length);
  const shards: Shard[] = Array.from({ length: count }, (_, i) => ({ index: i + 1, hashes: [], nodes: 0, seconds: 0 }));
  const order = [...units].sort((a, b) => b.seconds - a.seconds || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  for (const unit of order) {
    let best = shards[0];
    for (const shard of shards) if (shard.seconds < best.seconds) best = shard;
    best.hashes.push(unit.hash);
    best.nodes += unit.nodes;
    best.seconds += unit.seconds;
  }
  for (const shard of shards) shard.hashes.sort();
  return shards;
}

/** max ÷ mean of the shards' expected seconds (1 is perfect); null without shards. */
export function imbalance(shards: readonly { seconds: number }[]): number | null {
  if (shards.length === 0) return null;
  const mean = shards.reduce((sum, s) => sum + s.seconds, 0) / shards.length;
  return mean > 0 ? Math.max(...shards.map((s) => s.seconds)) / mean : 1;
}
