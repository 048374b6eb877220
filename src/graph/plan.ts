import type { NodeSpec } from "./nodes.js";
import type { StoreSnapshot, StoreEntry } from "./snapshot.js";
import type { ExperimentConfig } from "../lemfile/types.js";

export type NodeState = "done" | "pending" | "failed";

export interface PlannedNode extends NodeSpec {
  state: NodeState;
  /** Why a pending or failed node runs: new, new cycle, changed: <field> <old> → <new>, failed before, forced, other hardware: ... */
  reason?: string;
  /** The last failure's message, for failed nodes. */
  error?: string;
  /** The hardware this node is measured on (fingerprint). */
  hardware: string;
}

export interface PlanOptions {
  /** The fingerprint a config would be measured on here. */
  hardwareFor: (config: ExperimentConfig) => string;
  force?: boolean;
  /** Hashes the lemfile has now (default: those of `nodes`); the rest of the store is history. */
  currentHashes?: Set<string>;
}

type Leaves = Map<string, unknown>;

function leaves(value: unknown, prefix = "", out: Leaves = new Map()): Leaves {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

function changedLeaves(before: ExperimentConfig, after: ExperimentConfig): string[] {
  const a = leaves(before);
  const b = leaves(after);
  const show = (v: unknown) => (v === undefined ? "(unset)" : typeof v === "string" ? v : JSON.stringify(v));
  return [...new Set([...a.keys(), ...b.keys()])]
    .sort()
    .filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)))
    .map((k) => `${k} ${show(a.get(k))} → ${show(b.get(k))}`);
}

/** "pytorch.batch_size 4 → 8, precision fp32 → bf16": every leaf that differs. */
export function describeChange(before: ExperimentConfig, after: ExperimentConfig): string {
  return changedLeaves(before, after).join(", ");
}

interface History {
  /** name → the most recently written measured entry under that name */
  byName: Map<string, StoreEntry>;
  /** sweep → measured entries of that sweep that the lemfile no longer has */
  orphansBySweep: Map<string, StoreEntry[]>;
}

function indexHistory(snapshot: StoreSnapshot, current: Set<string>): History {
  const byName = new Map<string, StoreEntry>();
  const orphansBySweep = new Map<string, StoreEntry[]>();
  for (const entry of snapshot.entries.values()) {
    if (entry.done.size === 0 || !entry.config) continue;
    for (const name of entry.names) {
      const seen = byName.get(name);
      if (!seen || seen.updatedAt < entry.updatedAt) byName.set(name, entry);
    }
    if (current.has(entry.hash)) continue;
    for (const group of entry.groups) orphansBySweep.set(group, [...(orphansBySweep.get(group) ?? []), entry]);
  }
  return { byName, orphansBySweep };
}

/**
 * What a new node replaced: the measured entry with its name, or else (a sweep value was edited,
 * which renames the point) the closest measured point of the same sweep that the lemfile lost.
 */
function changeReason(node: NodeSpec, history: History): string | undefined {
  for (const name of node.names) {
    const previous = history.byName.get(name);
    if (previous && previous.hash !== node.hash && previous.config) {
      const change = describeChange(previous.config, node.config);
      if (change) return `changed: ${change}`;
    }
  }
  let best: string[] | undefined;
  for (const group of node.groups) {
    for (const orphan of history.orphansBySweep.get(group) ?? []) {
      const diff = changedLeaves(orphan.config!, node.config);
      if (diff.length > 0 && (!best || diff.length < best.length)) best = diff;
    }
  }
  return best ? `changed: ${best.join(", ")}` : undefined;
}

/**
 * Each node against the store: done, or pending/failed with the reason it will run. Pure.
 * A result measured on other hardware does not satisfy a node: energy belongs to its hardware.
 */
export function planBuild(nodes: NodeSpec[], snapshot: StoreSnapshot, options: PlanOptions): PlannedNode[] {
  let history: History | undefined;
  return nodes.map((node) => {
    const hardware = options.hardwareFor(node.config);
    const entry = snapshot.entries.get(node.hash);
    const measuredOn = entry?.done.get(node.cycle) ?? [];
    if (measuredOn.includes(hardware)) {
      return options.force
        ? { ...node, hardware, state: "pending", reason: "forced" }
        : { ...node, hardware, state: "done" };
    }
    const failure = entry?.failed.get(node.cycle)?.get(hardware);
    if (failure) return { ...node, hardware, state: "failed", reason: "failed before", error: `${failure.type}: ${failure.message}` };
    if (measuredOn.length > 0) {
      return { ...node, hardware, state: "pending", reason: `other hardware: ${measuredOn[0]} → ${hardware}` };
    }
    // This config is already measured here (other cycles): a new cycle, never a changed sweep point.
    if (entry && [...entry.done.values()].some((on) => on.includes(hardware))) return { ...node, hardware, state: "pending", reason: "new cycle" };
    history ??= indexHistory(snapshot, options.currentHashes ?? new Set(nodes.map((n) => n.hash)));
    return { ...node, hardware, state: "pending", reason: changeReason(node, history) ?? "new" };
  });
}

export const needsRun = (node: PlannedNode) => node.state !== "done";
