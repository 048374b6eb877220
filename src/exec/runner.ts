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
  /** The build's registry of shared servers (server-registry.ts): the local runner gives it to the harness as LEM_SERVER_DIR. */
  serverDir?: string;
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
