import type { PlannedNode } from "../graph/plan.js";
import type { ServerShare } from "./runner.js";

/**
 * Which lane (scheduler worker) runs which node, so that serving nodes of one server key run back
 * to back in one lane and share its server (issue 20 §2): the first lane to take a node of a key
 * holds the key, and only it takes the key's other nodes. Offline nodes go to any lane, in plan
 * order; graph/nodes.ts's groupByServer has already put each key's nodes together.
 */
export class ServerLanes {
  private readonly laneOf = new Map<string, number>();

  constructor(
    /** The nodes not yet taken, in plan order (shared with the scheduler, which also reads it). */
    private readonly queue: PlannedNode[],
    private readonly keyOf: (node: PlannedNode) => string | null,
    /** Nodes another build is measuring, taken later: a key with one there is not finished. */
    private readonly waiting: readonly PlannedNode[] = [],
  ) {}

  /** The lane's next node: one of the key it holds first, else the first that no other lane holds. */
  take(lane: number): PlannedNode | undefined {
    let index = this.queue.findIndex((n) => { const k = this.keyOf(n); return k !== null && this.laneOf.get(k) === lane; });
    if (index < 0) index = this.queue.findIndex((n) => { const k = this.keyOf(n); return k === null || !this.laneOf.has(k); });
    if (index < 0) return undefined;
    const [node] = this.queue.splice(index, 1);
    const key = this.keyOf(node);
    if (key !== null && !this.laneOf.has(key)) this.laneOf.set(key, lane);
    return node;
  }

  /** A taken serving node's place among its key's nodes (undefined for an offline node). */
  share(node: PlannedNode, lane: number): ServerShare | undefined {
    const key = this.keyOf(node);
    if (key === null) return undefined;
    const last = ![...this.queue, ...this.waiting].some((n) => n !== node && this.keyOf(n) === key);
    return { key, lane, last };
  }
}
