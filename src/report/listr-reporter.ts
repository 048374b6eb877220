import { Listr, PRESET_TIMER } from "listr2";
import { nodeLabel, type BuildEvent } from "../events.js";
import type { PlannedNode } from "../graph/plan.js";

type Settle = { kind: "done" } | { kind: "skip"; why: string } | { kind: "fail"; message: string };

/** Beyond this many cached nodes, they are one summary row instead of a row each. */
const MAX_CACHED_ROWS = 30;

/**
 * The terminal view: a listr2 row per node with its state and elapsed time; cached nodes show
 * as skipped. Each row's task just waits for the build events about its node.
 */
export class ListrReporter {
  private settled = new Map<PlannedNode, { promise: Promise<Settle>; resolve: (s: Settle) => void }>();
  private running?: Promise<unknown>;

  readonly handle = (event: BuildEvent): void => {
    switch (event.type) {
      case "planned":
        this.start(event.nodes, event.toRun);
        break;
      case "finished":
        this.settle(event.node, { kind: "done" });
        break;
      case "failed":
        this.settle(event.node, { kind: "fail", message: `${event.error.type}: ${event.error.message}${event.error.exchangeDir ? ` (kept ${event.error.exchangeDir})` : ""}` });
        break;
      case "skipped":
        this.settle(event.node, { kind: "skip", why: event.why });
        break;
      default:
        break;
    }
  };

  private start(nodes: PlannedNode[], toRun: PlannedNode[]) {
    const cached = nodes.filter((n) => n.state === "done");
    for (const node of toRun) {
      let resolve!: (s: Settle) => void;
      const promise = new Promise<Settle>((r) => (resolve = r));
      this.settled.set(node, { promise, resolve });
    }
    const row = (node: PlannedNode) => ({
      title: `${nodeLabel(node)} ${node.hash.slice(0, 8)}${node.reason ? ` (${node.reason})` : ""}`,
      task: async (_: unknown, task: { skip: (m: string) => void }) => {
        const settle = await this.settled.get(node)!.promise;
        if (settle.kind === "skip") task.skip(`${nodeLabel(node)}: ${settle.why}`);
        if (settle.kind === "fail") throw new Error(settle.message);
      },
    });
    const cachedRows = cached.length > MAX_CACHED_ROWS
      ? [{ title: `${cached.length} nodes cached`, skip: () => `${cached.length} nodes cached`, task: async () => undefined }]
      : cached.map((node) => ({ title: nodeLabel(node), skip: () => `${nodeLabel(node)} cached`, task: async () => undefined }));
    const list = new Listr([...cachedRows, ...toRun.map(row)], {
      concurrent: true,
      exitOnError: false,
      registerSignalListeners: false,
      rendererOptions: { timer: PRESET_TIMER, collapseErrors: false, collapseSkips: false, showSkipMessage: true },
    });
    this.running = list.run().catch(() => undefined);
  }

  private settle(node: PlannedNode, settle: Settle) {
    this.settled.get(node)?.resolve(settle);
  }

  /** Resolves once every row has settled and listr2 has drawn the last frame. */
  async done(): Promise<void> {
    await this.running;
  }
}
