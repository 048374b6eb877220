import { Listr, type ListrTask } from "listr2";
import { nodeLabel, type BuildEvent } from "../events.js";
import { BuildProgress, headline, type ViewOptions } from "./build-progress.js";
import type { PlannedNode } from "../graph/plan.js";

type Settle =
  | { kind: "done"; seconds: number; figures: string }
  | { kind: "cached" }
  | { kind: "skip"; why: string }
  | { kind: "fail"; message: string; seconds: number };

/** Beyond this many cached nodes, they are one summary row instead of a row each. */
const MAX_CACHED_ROWS = 30;

export interface ListrViewOptions extends ViewOptions {
  /** "silent" draws nothing (tests read rows() instead). */
  renderer?: "default" | "silent";
  /** How often the header's elapsed time and ETA are redrawn. */
  tickMs?: number;
}

/** A row as drawn: its title and listr2's state (WAITING rows are queued: no spinner). */
export interface ViewRow { title: string; state: string }

/**
 * The terminal view: a header with done/total, elapsed and ETA, then a listr2 row per node.
 * Rows start `jobs` at a time in plan order, as the scheduler starts nodes, so queued rows wait
 * without a spinner; a finished row shows its time and headline figures (tok/s, J/token).
 */
export class ListrReporter {
  private readonly settled = new Map<PlannedNode, { promise: Promise<Settle>; resolve: (s: Settle) => void }>();
  private readonly progress: BuildProgress;
  private list?: Listr;
  private running?: Promise<unknown>;
  /** Redraws the header at once (a node settled) rather than at the next tick. */
  private redraw = () => {};

  constructor(private readonly options: ListrViewOptions = {}) {
    this.progress = new BuildProgress(options.estimate, options.jobs, options.now);
  }

  readonly handle = (event: BuildEvent): void => {
    switch (event.type) {
      case "planned":
        this.progress.planned(event.toRun);
        this.start(event.nodes, event.toRun);
        break;
      case "started":
        this.progress.started(event.node);
        break;
      case "finished":
        this.settle(event.node, { kind: "done", seconds: event.seconds, figures: headline(event.result) });
        break;
      case "failed":
        this.settle(event.node, { kind: "fail", seconds: event.seconds, message: `${event.error.type}: ${event.error.message}${event.error.exchangeDir ? ` (kept ${event.error.exchangeDir})` : ""}` });
        break;
      case "skipped":
        this.settle(event.node, { kind: "skip", why: event.why });
        break;
      case "cached":
        // A node to run that another build measured meanwhile (found once its lock was taken).
        this.settle(event.node, { kind: "cached" });
        break;
      default:
        break;
    }
  };

  private start(nodes: PlannedNode[], toRun: PlannedNode[]) {
    for (const node of toRun) {
      let resolve!: (s: Settle) => void;
      const promise = new Promise<Settle>((r) => (resolve = r));
      this.settled.set(node, { promise, resolve });
    }
    const row = (node: PlannedNode): ListrTask => {
      const title = `${nodeLabel(node)} ${node.hash.slice(0, 8)}${node.reason ? ` (${node.reason})` : ""}`;
      return {
        title,
        // listr2's own timer would count from when the row started; the node's time comes with its event.
        task: async (_, task) => {
          const settle = await this.settled.get(node)!.promise;
          if (settle.kind === "skip") task.skip(`${nodeLabel(node)}: ${settle.why}`);
          else if (settle.kind === "cached") task.title = `${nodeLabel(node)} ${node.hash.slice(0, 8)} cached (measured meanwhile by another build)`;
          else task.title = `${title} [${settle.seconds.toFixed(1)}s]${settle.kind === "done" ? `  ${settle.figures}` : ""}`;
          if (settle.kind === "fail") throw new Error(settle.message);
        },
      };
    };
    const cached = nodes.filter((n) => n.state === "done");
    const cachedRows: ListrTask[] = cached.length > MAX_CACHED_ROWS
      ? [{ title: `${cached.length} nodes cached`, skip: () => true, task: async () => undefined }]
      : cached.map((node) => ({ title: `${nodeLabel(node)} ${node.hash.slice(0, 8)} cached`, skip: () => true, task: async () => undefined }));
    const all = [...this.settled.values()].map((s) => s.promise);
    const header: ListrTask = {
      title: this.progress.line(),
      task: async (_, task) => {
        this.redraw = () => { task.title = this.progress.line(); };
        const tick = setInterval(this.redraw, this.options.tickMs ?? 1000);
        try {
          await Promise.all(all);
        } finally {
          clearInterval(tick);
          this.redraw();
        }
      },
    };
    // The rows start as many at a time as the scheduler runs nodes: the rest show as queued.
    const width = Math.max(1, this.options.jobs ?? 1);
    const nodesGroup: ListrTask = {
      task: (_, task) => task.newListr([...cachedRows, ...toRun.map(row)], { concurrent: width, exitOnError: false }),
    };
    this.list = new Listr([header, nodesGroup], {
      concurrent: true,
      exitOnError: false,
      registerSignalListeners: false,
      renderer: this.options.renderer ?? "default",
      rendererOptions: { collapseErrors: false, collapseSkips: true, showSkipMessage: true, collapseSubtasks: false },
    });
    this.running = this.list.run().catch(() => undefined);
  }

  /** Only a measured run's seconds teach the ETA. */
  private settle(node: PlannedNode, settle: Settle) {
    const row = this.settled.get(node);
    if (!row) return;
    this.progress.settled(node, settle.kind === "done" ? settle.seconds : undefined);
    this.redraw();
    row.resolve(settle);
  }

  /** The header, then every node row, as the renderer draws them now. */
  rows(): ViewRow[] {
    const [header, group] = this.list?.tasks ?? [];
    if (!header) return [];
    return [header, ...(group?.subtasks ?? [])].map((t) => ({ title: t.title ?? "", state: t.state }));
  }

  /** Resolves once every row has settled and listr2 has drawn the last frame. */
  async done(): Promise<void> {
    await this.running;
  }
}
