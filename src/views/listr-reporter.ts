import { Listr, type ListrTask } from "listr2";
import { nodeLabel, type BuildEvent } from "../exec/events.js";
import { BuildProgress, headline, shortReason, type ViewOptions } from "./build-progress.js";
import { composeFrame, SPINNER, type FrameRow, type RowState } from "./build-frame.js";
import { LiveFrame } from "./live-frame.js";
import type { PlannedNode } from "../graph/plan.js";

type Settle =
  | { kind: "done"; seconds: number; figures: string }
  | { kind: "cached" }
  | { kind: "skip"; why: string }
  | { kind: "fail"; message: string; seconds: number };

/** Beyond this many cached nodes, they are one summary row instead of a row each. */
const MAX_CACHED_ROWS = 30;

export interface ListrViewOptions extends ViewOptions {
  /** "silent" draws nothing (tests read rows() instead); "default" draws on this terminal. */
  renderer?: "default" | "silent";
  /** How often the header's elapsed time and ETA, and the spinner, are redrawn. */
  tickMs?: number;
}

/** A row as listr2 holds it: its title and state (WAITING rows are queued: no spinner). */
export interface ViewRow { title: string; state: string }

const STATE: Record<string, RowState> = { STARTED: "running", WAITING: "queued", COMPLETED: "done", FAILED: "failed", SKIPPED: "skipped" };

/**
 * The terminal view: a header with done/failed/interrupted counts, elapsed and ETA, then a row per
 * node. listr2 runs the rows, `jobs` at a time in plan order as the scheduler starts nodes, so queued
 * rows wait without a spinner; a finished row shows its time and headline figures (tok/s, J/token).
 * The frame is drawn by build-frame.ts: the header stays pinned and finished rows roll up when the
 * terminal is shorter than the list.
 */
export class ListrReporter {
  private readonly settled = new Map<PlannedNode, { promise: Promise<Settle>; resolve: (s: Settle) => void }>();
  private readonly progress: BuildProgress;
  private list?: Listr;
  private running?: Promise<unknown>;
  private cachedRows = 0;
  private frame?: LiveFrame;
  private tick?: NodeJS.Timeout;
  private spin = 0;
  /** Updates the header row's title at once (a node settled) rather than at the next tick. */
  private redraw = () => {};

  constructor(private readonly options: ListrViewOptions = {}) {
    this.progress = new BuildProgress(options);
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
      case "interrupting":
        this.progress.interrupting();
        this.redraw();
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
      const title = `${nodeLabel(node)} ${node.hash.slice(0, 8)}${node.reason ? ` (${shortReason(node.reason)})` : ""}`;
      return {
        title,
        // listr2's own timer would count from when the row started; the node's time comes with its event.
        task: async (_, task) => {
          const settle = await this.settled.get(node)!.promise;
          if (settle.kind === "skip") {
            task.title = `${nodeLabel(node)} ${node.hash.slice(0, 8)}: ${settle.why}`;
            task.skip(settle.why);
          } else if (settle.kind === "cached") task.title = `${nodeLabel(node)} ${node.hash.slice(0, 8)} cached (measured meanwhile by another build)`;
          else task.title = `${title} [${settle.seconds.toFixed(1)}s]${settle.kind === "done" ? `  ${settle.figures}` : ""}`;
          if (settle.kind === "fail") throw new Error(settle.message);
        },
      };
    };
    const cached = nodes.filter((n) => n.state === "done");
    const cachedRows: ListrTask[] = cached.length > MAX_CACHED_ROWS
      ? [{ title: `${cached.length} nodes cached`, skip: () => true, task: async () => undefined }]
      : cached.map((node) => ({ title: `${nodeLabel(node)} ${node.hash.slice(0, 8)} cached`, skip: () => true, task: async () => undefined }));
    this.cachedRows = cachedRows.length;
    const all = [...this.settled.values()].map((s) => s.promise);
    const header: ListrTask = {
      title: this.progress.line(),
      task: async (_, task) => {
        this.redraw = () => { task.title = this.progress.line(); };
        const tick = setInterval(this.redraw, this.options.tickMs ?? 1000).unref();
        try {
          await Promise.all(all);
        } finally {
          clearInterval(tick);
          this.redraw();
        }
        // A build with failed, interrupted or unstarted nodes did not succeed: the header says so.
        if (!this.progress.allDone) throw new Error(this.progress.line());
      },
    };
    // The rows start as many at a time as the scheduler runs nodes: the rest show as queued.
    const width = Math.max(1, this.options.jobs ?? 1);
    const nodesGroup: ListrTask = {
      task: (_, task) => task.newListr([...cachedRows, ...toRun.map(row)], { concurrent: width, exitOnError: false }),
    };
    // listr2 runs the rows; the frame is ours (build-frame.ts), so it can pin the header.
    this.list = new Listr([header, nodesGroup], {
      concurrent: true,
      exitOnError: false,
      registerSignalListeners: false,
      renderer: "silent",
    });
    if ((this.options.renderer ?? "default") === "default") {
      this.frame = new LiveFrame();
      this.frame.start();
      this.tick = setInterval(() => this.paint(), Math.min(this.options.tickMs ?? 1000, 120)).unref();
      this.paint();
    }
    this.running = this.list.run().catch(() => undefined);
  }

  /** Only a measured run's seconds teach the ETA. */
  private settle(node: PlannedNode, settle: Settle) {
    const row = this.settled.get(node);
    if (!row) return;
    this.progress.settled(node, settle.kind === "fail" ? "failed" : settle.kind === "skip" ? "skipped" : "done", settle.kind === "done" ? settle.seconds : undefined);
    this.redraw();
    row.resolve(settle);
  }

  /** The header, then every node row, as listr2 holds them now. */
  rows(): ViewRow[] {
    const [header, group] = this.list?.tasks ?? [];
    if (!header) return [];
    return [header, ...(group?.subtasks ?? [])].map((t) => ({ title: t.title ?? "", state: t.state }));
  }

  /** The header line with its mark, and the node rows, as the frame draws them. */
  frameRows(): { header: string; rows: FrameRow[] } {
    const [header, group] = this.list?.tasks ?? [];
    const mark = !this.progress.over ? SPINNER[this.spin % SPINNER.length] : this.progress.allDone ? "✔" : this.progress.interrupted ? "■" : "✖";
    const rows = (group?.subtasks ?? []).map((t, i): FrameRow => ({
      title: t.title ?? "",
      state: i < this.cachedRows ? "cached" : STATE[t.state] ?? "queued",
      detail: t.message.error ?? undefined,
    }));
    return { header: `${mark} ${header?.title ?? this.progress.line()}`, rows };
  }

  private paint() {
    if (!this.frame) return;
    this.spin += 1;
    const { header, rows } = this.frameRows();
    this.frame.draw(composeFrame(header, rows, this.frame.size, SPINNER[this.spin % SPINNER.length]));
  }

  /** The build ended in an error before every row settled: leave the frame as it is and let go of the terminal. */
  abandon(): void {
    if (this.tick) clearInterval(this.tick);
    if (!this.frame) return;
    const { header, rows } = this.frameRows();
    this.frame.stop(composeFrame(header, rows, this.frame.size));
    this.frame = undefined;
  }

  /** Resolves once every row has settled; the last frame stays on the terminal. */
  async done(): Promise<void> {
    await this.running;
    if (this.tick) clearInterval(this.tick);
    if (this.frame) {
      this.redraw();
      const { header, rows } = this.frameRows();
      // The rolled-up frame, then every failure in full: what ran well is in the summary below.
      const failures = rows.filter((r) => r.state === "failed").flatMap((r) => [`✖ ${r.title}`, ...(r.detail ? [`    ${r.detail}`] : [])]);
      this.frame.stop([...composeFrame(header, rows, this.frame.size), ...(failures.length ? ["", ...failures] : [])]);
      this.frame = undefined;
    }
  }
}
