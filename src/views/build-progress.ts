import type { PlannedNode } from "../graph/plan.js";
import type { ExperimentResult } from "../store/result.js";

// What both build views show beyond a node's own row: how many nodes are done, failed, interrupted
// or not started, the elapsed time, and an ETA from the store's durations and the cost model.

export type Estimate = (node: PlannedNode) => number | undefined;

/** The cost model's seconds for a node; `calibrated` when its scale came from wall times stored here. */
export interface ModelEstimate { seconds: (node: PlannedNode) => number; calibrated: boolean }

/** What a build view is told: expected seconds per node, nodes at a time, and a clock (tests). */
export interface ViewOptions {
  /** This config's own stored wall time on this hardware, where there is one. */
  estimate?: Estimate;
  /** The cost model (src/graph/cost-model.ts): relative sizes, rescaled by what this build measures. */
  model?: ModelEstimate;
  jobs?: number;
  now?: () => number;
  /** The lemfile's pauses before a node (execution.experiment_gap_seconds, cycle_gap_seconds): part of the time left. */
  gaps?: { experiment: number; cycle: number };
}

/** How a node ended, as the header counts it. */
export type Settled = "done" | "failed" | "interrupted" | "not started";

export const clock = (s: number) => {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
};

export class BuildProgress {
  private total = 0;
  private readonly startedAt = new Map<PlannedNode, number>();
  private readonly finished = new Map<PlannedNode, Settled>();
  /** This build's measured runs: actual seconds and what the cost model expected of them. */
  private readonly runs: { seconds: number; modelled: number }[] = [];
  private queue: PlannedNode[] = [];
  private queued = new Set<PlannedNode>();
  private begin = 0;
  private stopping = false;
  private readonly estimate: Estimate;
  private readonly jobs: number;
  private readonly now: () => number;

  constructor(private readonly options: ViewOptions = {}) {
    this.estimate = options.estimate ?? (() => undefined);
    this.jobs = Math.max(1, options.jobs ?? 1);
    this.now = options.now ?? Date.now;
  }

  planned(toRun: PlannedNode[]): void {
    this.total = toRun.length;
    this.queue = [...toRun];
    this.queued = new Set(toRun);
    this.begin = this.now();
  }

  started(node: PlannedNode): void { this.startedAt.set(node, this.now()); }

  /** Ctrl-C: from now on a node that ends without a result was interrupted. */
  interrupting(): void { this.stopping = true; }

  get interrupted(): boolean { return this.stopping; }

  /** A node ended; only measured runs teach the ETA. A skip is an interruption once Ctrl-C came. */
  settled(node: PlannedNode, how: "done" | "failed" | "skipped", seconds?: number): void {
    if (this.finished.has(node) || !this.queued.has(node)) return;
    this.finished.set(node, how === "skipped" ? (this.stopping ? "interrupted" : "not started") : how);
    if (seconds !== undefined && how === "done") this.runs.push({ seconds, modelled: this.options.model?.seconds(node) ?? 1 });
  }

  count(how: Settled): number {
    let n = 0;
    for (const v of this.finished.values()) if (v === how) n += 1;
    return n;
  }

  /** Whether every node has ended, and none failed or was left unmeasured. */
  get allDone(): boolean { return this.count("done") === this.total; }
  get over(): boolean { return this.finished.size >= this.total; }

  /**
   * Seconds left, or undefined before anything is known. A node's expected time is its own stored
   * wall time, else the cost model's, rescaled by this build's measured runs (Σ actual ÷ Σ modelled):
   * the model knows that a bigger config takes longer; the runs tell how fast this machine is.
   */
  eta(): number | undefined {
    const model = this.options.model;
    const actual = this.runs.reduce((a, r) => a + r.seconds, 0);
    const modelled = this.runs.reduce((a, r) => a + r.modelled, 0);
    const scale = this.runs.length && modelled > 0 ? actual / modelled : model?.calibrated ? 1 : undefined;
    const gaps = this.options.gaps;
    let left = 0;
    let previous: PlannedNode | undefined;
    for (const node of this.queue) {
      const before = previous;
      previous = node;
      if (this.finished.has(node)) continue;
      const expected = this.estimate(node) ?? (scale === undefined ? undefined : (model?.seconds(node) ?? 1) * scale);
      if (expected === undefined) return undefined;
      const since = this.startedAt.get(node);
      // The scheduler pauses before a node as it does here: the cycle gap when the cycle changes.
      const gap = !gaps || !before || since !== undefined ? 0 : before.cycle !== node.cycle ? gaps.cycle : gaps.experiment;
      left += gap + (since === undefined ? expected : Math.max(0, expected - (this.now() - since) / 1000));
    }
    return left / this.jobs;
  }

  /** e.g. "3/10 done · 1 failed · 1m05s elapsed · ETA 2m10s"; after Ctrl-C "1/4 done · 3 interrupted · …". */
  line(): string {
    const parts = [`${this.count("done")}/${this.total} done`];
    for (const how of ["failed", "interrupted", "not started"] as const) {
      const n = this.count(how);
      if (n) parts.push(`${n} ${how}`);
    }
    parts.push(`${clock((this.now() - this.begin) / 1000)} elapsed`);
    if (!this.over) {
      const eta = this.eta();
      parts.push(this.stopping ? "stopping" : `ETA ${eta === undefined ? "after the first node" : clock(eta)}`);
    }
    return parts.join(" · ");
  }
}

/** A finished node's headline figures: tokens/s, and J/token when energy was measured (or estimated, labelled). */
export function headline(result: ExperimentResult): string {
  const parts = [`${result.throughput.output_tokens_per_s.toFixed(1)} tok/s`];
  const j = result.energy.per_output_token_j;
  if (j !== null && result.energy.status !== "unavailable") {
    parts.push(`${j.toPrecision(3)} J/token${result.energy.status === "estimated" ? " (estimated)" : ""}`);
  }
  return parts.join(", ");
}

/** A reason as a row shows it: a 64-hex digest (a dataset's sha256) cut to 8 digits, so a row fits. */
export const shortReason = (reason: string) => reason.replace(/\b([0-9a-f]{8})[0-9a-f]{56}\b/g, "$1…");
