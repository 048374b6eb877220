import { setTimeout as sleep } from "node:timers/promises";
import { HASH_VERSION } from "../config/hash.js";
import { serverKey } from "../config/server-key.js";
import { needsRun, type PlannedNode } from "../graph/plan.js";
import type { ResultStore, StoreSnapshot } from "../store/store.js";
import { StoreError } from "../store/store-error.js";
import { nodeLabel, type BuildListener, type NodeError } from "./events.js";
import { reapOrphanedExchangeDirs } from "./exchange-dir.js";
import type { ExecutionConfig } from "../lemfile/types.js";
import type { Runner, ServerShare } from "./runner.js";
import { ServerLanes } from "./server-lanes.js";
import { inputError } from "../errors.js";
import { gpusNeeded, SHARED_DEVICE_FLAG, type DevicePool, type Gpu } from "./devices.js";

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
  /** The store as planned against: hashes whose config.json was lost are rewritten. */
  snapshot?: StoreSnapshot;
  /**
   * --gpus: nodes run in parallel, each on GPUs of its own (gpusNeeded: vLLM's tensor parallel size,
   * else one; a CPU node takes the whole machine). `jobs`, if set, caps how many run at once.
   */
  devices?: DevicePool;
  /**
   * --allow-shared-device: the nodes that share this machine's CPU and GPU with each other (not a
   * Slurm job's). A result whose run overlapped another such node's is flagged shared_device.
   */
  sharesDevice?: (node: PlannedNode) => boolean;
  /** How many GPUs a node needs (default gpusNeeded); tests inject their own. */
  gpusFor?: (node: PlannedNode) => number;
  /** A node's server key (default config/server-key.ts); tests inject their own. */
  serverKeyOf?: (node: PlannedNode) => string | null;
}

/** How often a node locked by another build is looked at again. */
const LOCK_POLL_MS = 250;

/**
 * Runs every node that needs it, in plan order, `jobs` at a time. A result reaches the store
 * only whole (atomic rename) and only for a node that finished; an interrupted node leaves nothing.
 * A node another build is measuring is waited for, then re-checked: each node is measured once.
 * A store that cannot be written (full disk, read-only, a file in the way) stops the build with
 * its StoreError once running nodes have ended.
 */
export async function executeBuild(options: ExecuteOptions): Promise<BuildOutcome> {
  const { planned, store, emit, stop } = options;
  const toRun = planned.filter(needsRun);
  const gpusFor = options.gpusFor ?? ((node: PlannedNode) => gpusNeeded(node.config));
  if (options.devices) checkDeviceNeeds(toRun, gpusFor, options.devices);
  const buildStarted = Date.now();
  if (toRun.length > 0) store.checkWritable();
  emit({ type: "planned", nodes: planned, toRun });
  const reaped = reapOrphanedExchangeDirs();
  if (reaped.length) emit({ type: "warning", message: `removed ${reaped.length} exchange dir(s) left by lem builds that were killed: ${reaped.join(", ")}` });
  const savedConfigs = new Set<string>();
  repairConfigs(options, savedConfigs);
  const outcomes = new Map<PlannedNode, NodeOutcome>();
  for (const node of planned) {
    if (!needsRun(node)) {
      outcomes.set(node, { node, state: "cached" });
      emit({ type: "cached", node });
    }
  }
  let failedOnce = false;
  let fatal: unknown;
  let previous: PlannedNode | undefined;
  const queue = [...toRun];
  /** Nodes whose lock another live build holds: looked at again once the queue is empty. */
  const busy: PlannedNode[] = [];
  const waitingFor = new Set<PlannedNode>();
  /** Nodes on the shared machine now, and every node that ran while another did. */
  const onDevice = new Set<PlannedNode>();
  const overlapped = new Set<PlannedNode>();

  const skip = (node: PlannedNode, why: string) => {
    outcomes.set(node, { node, state: "skipped", error: { type: "Skipped", message: why } });
    emit({ type: "skipped", node, why });
  };

  const whyNotStart = (): string | undefined => {
    if (stop.aborted) return "interrupted before it started";
    if (fatal) return "not started: the results folder cannot be written";
    if (failedOnce && !options.keepGoing) return "not started after an earlier failure (use --keep-going)";
    return undefined;
  };

  // Serving nodes of one server key run back to back in one lane, on the GPUs the lane holds for them.
  const lanes = new ServerLanes(queue, options.serverKeyOf ?? ((node) => serverKey(node.config)), busy);

  const worker = async (lane: number) => {
    /** GPUs this lane keeps between nodes of one server key: the server stays on them. */
    let held: { key: string; devices: Gpu[] } | undefined;
    const releaseHeld = () => { if (held) options.devices!.release(held.devices); held = undefined; };
    try {
      for (;;) {
        let node = lanes.take(lane);
        if (!node) {
          node = busy.shift();
          if (!node) return;
          await sleep(LOCK_POLL_MS, undefined, { signal: stop }).catch(() => undefined);
        }
        const share = lanes.share(node, lane);
        if (held && held.key !== share?.key) releaseHeld();
        const notNow = whyNotStart();
        if (notNow) { skip(node, notNow); continue; }
        if (!waitingFor.has(node)) {
          const gap = previous && previous.cycle !== node.cycle ? options.execution.cycle_gap_seconds : previous ? options.execution.experiment_gap_seconds : 0;
          previous = node;
          if (gap > 0) await sleep(gap * 1000, undefined, { signal: stop }).catch(() => undefined);
          if (stop.aborted) { skip(node, "interrupted before it started"); continue; }
        }
        let devices: Gpu[] | undefined = held?.devices;
        if (options.devices && !devices) {
          devices = await options.devices.acquire(gpusFor(node), stop);
          // While it waited for GPUs, another node may have failed or the store filled up.
          const notNow = devices ? whyNotStart() : "interrupted before it started";
          if (notNow) { if (devices) options.devices.release(devices); skip(node, notNow); continue; }
          if (share && devices) held = { key: share.key, devices };
        }
        try {
          await runOne(node, devices, share);
        } catch (error) {
          if (!(error instanceof StoreError)) throw error;
          fatal ??= error;
          skip(node, error.message);
        } finally {
          if (devices && !held) options.devices!.release(devices);
          if (share?.last) releaseHeld();
        }
      }
    } finally {
      releaseHeld();
    }
  };

  const runOne = async (node: PlannedNode, devices: Gpu[] | undefined, server: ServerShare | undefined) => {
    const lock = store.lock(node.hash, node.cycle);
    if (!lock.acquired) {
      if (!waitingFor.has(node)) {
        waitingFor.add(node);
        emit({ type: "warning", message: `${nodeLabel(node)}: being measured by another lem build (pid ${lock.holder.pid} on ${lock.holder.host}); waiting for it` });
      }
      busy.push(node);
      return;
    }
    try {
      // Another build may have measured it between our plan and our lock: never measure twice.
      if (store.hasResult(node.hash, node.cycle, node.hardware, node.reason === "forced" ? buildStarted : undefined)) {
        outcomes.set(node, { node, state: "cached" });
        emit({ type: "cached", node });
        return;
      }
      store.prepareNode(node.hash, node.hardware, node.cycle);
      if (!savedConfigs.has(node.hash)) {
        store.saveConfig(node.hash, node.names, node.groups, node.config, HASH_VERSION);
        savedConfigs.add(node.hash);
      }
      emit({ type: "started", node });
      const started = performance.now();
      const shared = options.sharesDevice?.(node) ?? false;
      if (shared) {
        if (onDevice.size > 0) for (const other of [...onDevice, node]) overlapped.add(other);
        onDevice.add(node);
      }
      const outcome = await options.runnerFor(node).run(node, {
        stop, kill: options.kill, totalCycles: options.execution.cycles, timeoutSeconds: options.timeoutSeconds, devices,
        ...(server ? { server } : {}),
      }).finally(() => onDevice.delete(node));
      const seconds = (performance.now() - started) / 1000;
      if (outcome.warning) emit({ type: "warning", message: outcome.warning });
      if (outcome.ok) {
        const result = overlapped.has(node) && !outcome.result.quality_flags.includes(SHARED_DEVICE_FLAG)
          ? { ...outcome.result, quality_flags: [...outcome.result.quality_flags, SHARED_DEVICE_FLAG] } : outcome.result;
        store.saveResult(result);
        outcomes.set(node, { node, state: "ran" });
        emit({ type: "finished", node, seconds, result });
        if (result.hardware !== node.hardware) {
          emit({ type: "warning", message: `${node.names[0]} #${node.cycle}: measured on ${result.hardware}, expected ${node.hardware}; it stays pending here` });
        }
      } else if (outcome.interrupted) {
        skip(node, "interrupted while running; nothing was stored");
      } else {
        failedOnce = true;
        outcomes.set(node, { node, state: "failed", error: outcome.error });
        store.saveFailure(node.hash, node.cycle, node.hardware, {
          type: outcome.error.type, message: outcome.error.message, at: new Date().toISOString(), exchange_dir: outcome.error.exchangeDir,
        });
        emit({ type: "failed", node, seconds, error: outcome.error });
      }
    } finally {
      lock.release();
    }
  };

  // With GPUs each node holds at least one, so at most one worker per GPU has work at a time.
  const slots = options.devices ? Math.min(options.jobs ?? options.devices.size, options.devices.size) : options.jobs ?? 1;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(slots, toRun.length)) }, (_, lane) => worker(lane)));
  if (fatal) throw fatal;

  const nodes = planned.map((node) => outcomes.get(node)!);
  const count = (state: NodeOutcomeState) => nodes.filter((n) => n.state === state).length;
  return {
    nodes,
    summary: { ran: count("ran"), cached: count("cached"), failed: count("failed"), skipped: count("skipped") },
    interrupted: stop.aborted,
  };
}

/** A node that needs more GPUs than --gpus gives could never start: say so before any does. */
function checkDeviceNeeds(toRun: PlannedNode[], gpusFor: (node: PlannedNode) => number, pool: DevicePool): void {
  const tooBig = toRun.find((node) => gpusFor(node) > pool.size);
  if (!tooBig) return;
  throw inputError(
    `${nodeLabel(tooBig)} needs ${gpusFor(tooBig)} GPUs (vllm.engine.tensor_parallel_size) and --gpus gives ${pool.size} (${pool.gpus.map((g) => g.index).join(",")})`,
    `give it more GPUs (--gpus all), or lower tensor_parallel_size`,
  );
}

/**
 * A measured hash whose config.json is missing or unreadable gets it back: the config is known
 * from the lemfile, and without it `changed:` reasons and `lem show` lose their history.
 */
function repairConfigs(options: ExecuteOptions, saved: Set<string>): void {
  const entries = options.snapshot?.entries;
  if (!entries) return;
  for (const node of options.planned) {
    const entry = entries.get(node.hash);
    if (!entry || entry.configState === "ok" || saved.has(node.hash)) continue;
    options.store.saveConfig(node.hash, node.names, node.groups, node.config, HASH_VERSION);
    saved.add(node.hash);
    options.emit({ type: "warning", message: `${options.store.root}/${node.hash}/config.json was ${entry.configState}: rewritten from the lemfile` });
  }
}
