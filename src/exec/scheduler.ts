import { setTimeout as sleep } from "node:timers/promises";
import { HASH_VERSION } from "../graph/hash.js";
import { needsRun, type PlannedNode } from "../graph/plan.js";
import type { ResultStore } from "../store/store.js";
import type { BuildListener, NodeError } from "../events.js";
import type { ExecutionConfig } from "../lemfile/types.js";
import type { Runner } from "./runner.js";

export type NodeOutcomeState = "ran" | "cached" | "failed" | "skipped";

export interface NodeOutcome {
  node: PlannedNode;
  state: NodeOutcomeState;
  error?: NodeError;
}

export interface BuildOutcome {
  nodes: NodeOutcome[];
  summary: { ran: number; cached: number; failed: number; skipped: number };
  interrupted: boolean;
}

export interface ExecuteOptions {
  planned: PlannedNode[];
  runnerFor: (node: PlannedNode) => Runner;
  store: ResultStore;
  execution: Required<ExecutionConfig>;
  jobs?: number;
  keepGoing?: boolean;
  timeoutSeconds?: number;
  /** First Ctrl-C: start nothing new, stop running nodes cleanly. */
  stop: AbortSignal;
  /** Second Ctrl-C: kill running nodes. */
  kill: AbortSignal;
  emit: BuildListener;
}

/**
 * Runs every node that needs it, in plan order, `jobs` at a time. A result reaches the store
 * only whole (atomic rename) and only for a node that finished; an interrupted node leaves nothing.
 */
export async function executeBuild(options: ExecuteOptions): Promise<BuildOutcome> {
  const { planned, store, emit, stop } = options;
  const toRun = planned.filter(needsRun);
  emit({ type: "planned", nodes: planned, toRun });
  const outcomes = new Map<PlannedNode, NodeOutcome>();
  for (const node of planned) {
    if (!needsRun(node)) {
      outcomes.set(node, { node, state: "cached" });
      emit({ type: "cached", node });
    }
  }
  const savedConfigs = new Set<string>();
  let failedOnce = false;
  let previous: PlannedNode | undefined;
  const queue = [...toRun];

  const skip = (node: PlannedNode, why: string) => {
    outcomes.set(node, { node, state: "skipped", error: { type: "Skipped", message: why } });
    emit({ type: "skipped", node, why });
  };

  const worker = async () => {
    for (let node = queue.shift(); node; node = queue.shift()) {
      if (stop.aborted) { skip(node, "interrupted before it started"); continue; }
      if (failedOnce && !options.keepGoing) { skip(node, "not started after an earlier failure (use --keep-going)"); continue; }
      const gap = previous && previous.cycle !== node.cycle ? options.execution.cycle_gap_seconds : previous ? options.execution.experiment_gap_seconds : 0;
      previous = node;
      if (gap > 0) await sleep(gap * 1000, undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted) { skip(node, "interrupted before it started"); continue; }
      await runOne(node);
    }
  };

  const runOne = async (node: PlannedNode) => {
    const lock = store.lock(node.hash, node.cycle);
    if (!lock.acquired) {
      skip(node, `being measured by another lem build (pid ${lock.holder.pid} on ${lock.holder.host})`);
      return;
    }
    try {
      if (!savedConfigs.has(node.hash)) {
        store.saveConfig(node.hash, node.names, node.groups, node.config, HASH_VERSION);
        savedConfigs.add(node.hash);
      }
      emit({ type: "started", node });
      const started = performance.now();
      const outcome = await options.runnerFor(node).run(node, {
        stop, kill: options.kill, totalCycles: options.execution.cycles, timeoutSeconds: options.timeoutSeconds,
      });
      const seconds = (performance.now() - started) / 1000;
      if (outcome.warning) emit({ type: "warning", message: outcome.warning });
      if (outcome.ok) {
        store.saveResult(outcome.result);
        outcomes.set(node, { node, state: "ran" });
        emit({ type: "finished", node, seconds, result: outcome.result });
        if (outcome.result.hardware !== node.hardware) {
          emit({ type: "warning", message: `${node.names[0]} #${node.cycle}: measured on ${outcome.result.hardware}, expected ${node.hardware}; it stays pending here` });
        }
      } else if (outcome.interrupted) {
        skip(node, "interrupted while running; nothing was stored");
      } else {
        failedOnce = true;
        store.saveFailure(node.hash, node.cycle, node.hardware, {
          type: outcome.error.type, message: outcome.error.message, at: new Date().toISOString(), exchange_dir: outcome.error.exchangeDir,
        });
        outcomes.set(node, { node, state: "failed", error: outcome.error });
        emit({ type: "failed", node, seconds, error: outcome.error });
      }
    } finally {
      lock.release();
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs ?? 1, toRun.length)) }, worker));

  const nodes = planned.map((node) => outcomes.get(node)!);
  const count = (state: NodeOutcomeState) => nodes.filter((n) => n.state === state).length;
  return {
    nodes,
    summary: { ran: count("ran"), cached: count("cached"), failed: count("failed"), skipped: count("skipped") },
    interrupted: stop.aborted,
  };
}
