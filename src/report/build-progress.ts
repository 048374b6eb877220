import type { PlannedNode } from "../graph/plan.js";
import type { ExperimentResult } from "../result.js";

// What both build views show beyond a node's own row: done/total, elapsed time and an ETA from
// measured durations (the store's earlier results of the same config, else this build's nodes).

export type Estimate = (node: PlannedNode) => number | undefined;

/** What a build view is told: expected seconds per node, nodes at a time, and a clock (tests). */
export interface ViewOptions { estimate?: Estimate; jobs?: number; now?: () => number }

const clock = (s: number) => {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
};

export class BuildProgress {
  private total = 0;
  private done = 0;
  private readonly startedAt = new Map<PlannedNode, number>();
  private readonly finished = new Set<PlannedNode>();
  private readonly seconds: number[] = [];
  private queue: PlannedNode[] = [];
  private begin = 0;

  constructor(private readonly estimate: Estimate = () => undefined, private readonly jobs = 1, private readonly now: () => number = Date.now) {}

  planned(toRun: PlannedNode[]): void {
    this.total = toRun.length;
    this.queue = [...toRun];
    this.begin = this.now();
  }

  started(node: PlannedNode): void { this.startedAt.set(node, this.now()); }

  /** A node finished, failed or was skipped; only measured runs teach the ETA. */
  settled(node: PlannedNode, seconds?: number): void {
    if (this.finished.has(node)) return;
    this.finished.add(node);
    this.done += 1;
    if (seconds !== undefined) this.seconds.push(seconds);
  }

  /** Seconds left, or undefined before anything is known. */
  eta(): number | undefined {
    const learned = this.seconds.length ? this.seconds.reduce((a, b) => a + b, 0) / this.seconds.length : undefined;
    let left = 0;
    for (const node of this.queue) {
      if (this.finished.has(node)) continue;
      const expected = this.estimate(node) ?? learned;
      if (expected === undefined) return undefined;
      const since = this.startedAt.get(node);
      left += since === undefined ? expected : Math.max(0, expected - (this.now() - since) / 1000);
    }
    return left / Math.max(1, this.jobs);
  }

  /** e.g. "3/10 done · 1m05s elapsed · ETA 2m10s". */
  line(): string {
    const eta = this.eta();
    const tail = this.done === this.total ? "" : ` · ETA ${eta === undefined ? "after the first node" : clock(eta)}`;
    return `${this.done}/${this.total} done · ${clock((this.now() - this.begin) / 1000)} elapsed${tail}`;
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
