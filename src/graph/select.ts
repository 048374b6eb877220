import type { NodeSpec } from "./nodes.js";
import { inputError } from "../errors.js";
import { balanceShards, parseShard, type ShardUnit } from "./shard-plan.js";
import { modelSeconds } from "./cost-model.js";

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

/** The config hashes of `--shard-hashes` ("h1,h2 h3"), each one the lemfile has. */
export function parseShardHashes(value: string, nodes: readonly NodeSpec[]): Set<string> {
  const hashes = value.split(/[\s,]+/).filter(Boolean);
  // lem matrix never makes an empty shard: an empty list is an unset CI variable, not "measure nothing".
  if (hashes.length === 0) {
    throw inputError(`--shard-hashes: no config hash in ${JSON.stringify(value)}`,
      "pass the hashes field of one lem matrix entry (is the CI matrix variable set in this job?)");
  }
  const bad = hashes.find((h) => !/^[0-9a-f]{16}$/.test(h));
  if (bad !== undefined) throw inputError(`--shard-hashes: "${bad.slice(0, 40)}" is not a 16-hex-digit config hash`, "pass the hashes field of one lem matrix entry");
  const known = new Set(nodes.map((n) => n.hash));
  const unknown = hashes.filter((h) => !known.has(h));
  if (unknown.length > 0) {
    throw inputError(`--shard-hashes: ${unknown.length} of ${hashes.length} hashes are not in the lemfile (${unknown.slice(0, 3).join(", ")}${unknown.length > 3 ? ", …" : ""})`,
      "the lemfile changed after lem matrix ran: run the shard jobs on the commit the matrix was made from");
  }
  return new Set(hashes);
}

/**
 * `--shard I/N`: the I-th of N disjoint parts, every cycle of a config in one part.
 * With `hashes` (a lem matrix entry's): exactly those configs, however the store here differs.
 * Without: a pure function of the lemfile — every config, balanced by the cost model alone —
 * so every machine computes the same split.
 */
export function shardSelector(shard: string | undefined, nodes: readonly NodeSpec[], hashes?: string): (node: NodeSpec) => boolean {
  if (shard === undefined) {
    if (hashes !== undefined) throw inputError("--shard-hashes needs --shard I/N", "pass both fields of the lem matrix entry: --shard I/N --shard-hashes LIST");
    return () => true;
  }
  const { index, count } = parseShard(shard);
  if (hashes !== undefined) {
    const set = parseShardHashes(hashes, nodes);
    return (node) => set.has(node.hash);
  }
  const units = new Map<string, ShardUnit>();
  for (const node of nodes) {
    const unit = units.get(node.hash);
    if (unit) { unit.nodes += 1; unit.seconds += modelSeconds(node.config); }
    else units.set(node.hash, { hash: node.hash, nodes: 1, seconds: modelSeconds(node.config) });
  }
  const mine = new Set(balanceShards([...units.values()], count).find((s) => s.index === index)?.hashes ?? []);
  return (node) => mine.has(node.hash);
}
