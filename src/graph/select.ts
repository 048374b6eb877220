import type { NodeSpec } from "./nodes.js";
import { inputError } from "../errors.js";

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/**
 * Selectors match an experiment name (glob: * and ?) or a hash prefix (4+ hex digits).
 * No selectors select everything.
 */
export function makeSelector(selectors: string[]): (node: NodeSpec) => boolean {
  if (selectors.length === 0) return () => true;
  const globs = selectors.map(globToRegExp);
  const prefixes = selectors.filter((s) => /^[0-9a-f]{4,16}$/.test(s));
  return (node) =>
    prefixes.some((p) => node.hash.startsWith(p)) || node.names.some((name) => globs.some((g) => g.test(name)));
}

/**
 * `--shard I/N`: the I-th of N disjoint parts, by config hash, so every cycle of a config lands
 * in the same shard and every machine computes the same split.
 */
export function shardSelector(shard: string | undefined): (node: NodeSpec) => boolean {
  if (shard === undefined) return () => true;
  const m = /^(\d+)\/(\d+)$/.exec(shard);
  const [i, n] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || n < 1 || i < 1 || i > n) throw inputError(`--shard: expected I/N with 1 ≤ I ≤ N, got "${shard}"`, "e.g. --shard 2/4");
  return (node) => parseInt(node.hash.slice(0, 8), 16) % n === i - 1;
}
