import type { PlannedNode } from "../graph/plan.js";
import type { ExperimentResult } from "../store/result.js";

/** A failed node's error: the category, what happened, the fix, and where to look. */
export interface NodeError {
  type: string;
  message: string;
  fix?: string;
  stderrTail?: string;
  exchangeDir?: string;
}

/** Everything a build does, as data; reporters (listr2, plain lines, JSON) only render these. */
export type BuildEvent =
  | { type: "planned"; nodes: PlannedNode[]; toRun: PlannedNode[] }
  | { type: "cached"; node: PlannedNode }
  | { type: "started"; node: PlannedNode }
  | { type: "finished"; node: PlannedNode; seconds: number; result: ExperimentResult }
  | { type: "failed"; node: PlannedNode; seconds: number; error: NodeError }
  | { type: "skipped"; node: PlannedNode; why: string }
  | { type: "interrupting"; hard: boolean }
  | { type: "image"; tag: string; state: "building" | "built" | "present"; seconds?: number }
  | { type: "containers"; message: string }
  | { type: "warning"; message: string };

export type BuildListener = (event: BuildEvent) => void;

export const nodeLabel = (node: { names: string[]; cycle: number }) => `${node.names[0]} #${node.cycle}`;
