import type { PlannedNode } from "../graph/plan.js";
import type { ExperimentResult } from "../store/result.js";
import type { NodeError } from "./events.js";
import type { Gpu } from "./devices.js";
import type { RunnerType } from "../config/runner-kinds.js";

export interface RunContext {
  /** Aborted on the first Ctrl-C: stop the node cleanly (SIGTERM), keep nothing. */
  stop: AbortSignal;
  /** Aborted on the second Ctrl-C: kill at once. */
  kill: AbortSignal;
  totalCycles: number;
  timeoutSeconds?: number;
  /** The GPUs this node holds (--gpus): the runner pins the harness to them. */
  devices?: Gpu[];
  /** Set for a serving node: where it stands among the nodes that share its server. */
  server?: ServerShare;
}

/**
 * A serving node's place among the nodes that share its server: the nodes of one server key run
 * back to back in one lane (a worker of the scheduler), on one server that lives where the runner
 * runs the harness (the local registry folder, a container, a Slurm job). Lanes run at once, each
 * with at most one server.
 */
export interface ServerShare {
  /** The node's server key (config/server-key.ts; also the envelope's server_key). */
  key: string;
  /** The lane running the key's nodes (0-based). */
  lane: number;
  /** The key's last node in this build: the server and its home may go after it. */
  last: boolean;
}

export type RunOutcome = (
  | { ok: true; result: ExperimentResult }
  | { ok: false; error: NodeError; interrupted?: boolean }
) & { /** Something the user should know that did not fail the node. */ warning?: string };

/** Runner metadata recorded in effective_config; never part of the hash. */
export interface RunnerMeta {
  runner_type: RunnerType;
  runner_image: string | null;
  runner_source: string;
  image_digest: string | null;
  /** Host-side seconds for the whole node, set by runInExchangeDir; lem matrix balances shards by it. */
  wall_s?: number;
  /** The GPUs the node was pinned to (--gpus), by index and UUID; absent when not pinned. */
  gpus?: { index: string; uuid: string | null }[];
}

export interface Runner {
  readonly kind: RunnerMeta["runner_type"];
  /** Long-lived setup before the first node (persistent containers start here). */
  prepare?(): Promise<void>;
  run(node: PlannedNode, ctx: RunContext): Promise<RunOutcome>;
  /** Tear down anything long-lived (persistent containers). */
  dispose?(): Promise<void>;
}
