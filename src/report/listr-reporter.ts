import { Listr } from "listr2";
import { nodeLabel, type BuildEvent } from "../events.js";
import type { PlannedNode } from "../graph/plan.js";

type Settle = { kind: "done"; seconds: number } | { kind: "skip"; why: string } | { kind: "fail"; message: string; seconds: number };

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
        this.settle(event.node, { kind: "done", seconds: event.seconds });
        break;
      case "failed":
        this.settle(event.node, { kind: "fail", seconds: event.seconds, message: `${event.error.type}: ${event.error.message}${event.error.exchangeDir ? ` (kept ${event.error.exchangeDir})` : ""}` });
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
    const row = (node: PlannedNode) => {
      const title = `${nodeLabel(node)} ${node.hash.slice(0, 8)}${node.reason ? ` (${node.reason})` : ""}`;
      return {
        title,
        // Rows wait concurrently, so listr2's own timer would count from the build's start;
        // the node's own running time comes with its event instead.
        task: async (_: unknown, task: { skip: (m: string) => void; title: string }) => {
          const settle = await this.settled.get(node)!.promise;
          if (settle.kind === "skip") task.skip(`${nodeLabel(node)}: ${settle.why}`);
          else task.title = `${title} [${settle.seconds.toFixed(1)}s]`;
          if (settle.kind === "fail") throw new Error(settle.message);
        },
      };
    };
    const cachedRows = cached.length > MAX_CACHED_ROWS
      ? [{ title: `${cached.length} nodes cached`, skip: () => true, task: async () => undefined }]
      : cached.map((node) => ({ title: `${nodeLabel(node)} ${node.hash.slice(0, 8)} cached`, skip: () => true, task: async () => undefined }));
    const list = new Listr([...cachedRows, ...toRun.map(row)], {
      concurrent: true,
      exitOnError: false,
      registerSignalListeners: false,
      rendererOptions: { collapseErrors: false, collapseSkips: true, showSkipMessage: true },
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
