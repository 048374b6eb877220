import { join } from "node:path";
import { watchInterrupts } from "../interrupts.js";
import { jobStateError, serverJobEndedError } from "./slurm-errors.js";
import { hideHarnessError, signalName, tail } from "./job-output.js";
import { HARNESS_LOG, ServerJob, serverJobName, within, type NodeExit } from "./server-job.js";
import type { JobState } from "./slurm-cli.js";
import type { NodeError } from "../events.js";
import type { ExchangeDir, LaunchOutcome } from "../exchange-dir.js";
import type { RunContext, ServerShare } from "../runner.js";

/** What the worker's harness exits with on SIGTERM (docker/PROTOCOL.md): from outside lem, the job is being stopped. */
const EXIT_INTERRUPTED = 143;
/** How long a node whose harness was stopped from outside waits for the job to leave, for Slurm's reason. */
const STOPPED_JOB_MS = 60_000;

export interface ServerJobSettings {
  /** The shared folder: queue folders go there. */
  parent: string;
  maxPollMs: number;
  /** A finished job's state (slurm-cli's finalState with this cluster's settings). */
  finalState(jobId: string): Promise<JobState | undefined>;
}

/** How a node's server job is submitted when its lane has none for its key. */
export interface ServerJobSpec { options: string[]; script: (queueDir: string) => string }

/**
 * The server jobs of a build, one per lane at most (lanes run at once; a lane runs one key's nodes
 * back to back): the first node of a key in a lane submits one, the key's last node finishes it, a
 * node of another key in that lane finishes the old one first, and dispose finishes what is left.
 */
export class ServerJobs {
  private readonly byLane = new Map<number, ServerJob>();
  private readonly warnings: string[] = [];

  constructor(private readonly settings: ServerJobSettings) {}

  /** Runs one node on its lane's server job; the outcome is read like any launch's (exchange-dir.ts). */
  async launch(x: ExchangeDir, ctx: RunContext, share: ServerShare, spec: ServerJobSpec): Promise<LaunchOutcome> {
    const none = { exitCode: null, stderrTail: "", timedOut: false, containerId: null };
    if (ctx.stop.aborted) return { ...none, interrupted: true };
    const job = await this.jobFor(share, spec);
    if ("error" in job) return { ...none, interrupted: false, error: job.error };
    const seq = job.hand(x, share.last);
    const watch = watchInterrupts(ctx, { terminate: () => job.cancel(), kill: () => job.cancel("KILL") });
    let exit: NodeExit | undefined;
    try {
      exit = await job.waitExit(seq);
      // Stopped by lem (Ctrl-C, timeout): the job goes, and lem waits until it has left the queue.
      if (watch.interrupted || watch.timedOut) await job.left;
      // Stopped from outside (scancel, Slurm's time limit): wait for the job's end, whose state says why.
      else if (exit?.exit_code === EXIT_INTERRUPTED) await within(job.left, STOPPED_JOB_MS);
    } finally {
      watch.dispose();
    }
    const base = { stderrTail: tail(join(x.dir, HARNESS_LOG)), interrupted: watch.interrupted, timedOut: watch.timedOut, containerId: null };
    if (watch.interrupted || watch.timedOut) {
      this.forget(job);
      return { ...base, exitCode: exit?.exit_code ?? null };
    }
    // The harness ran to its end (the job may have ended just after: its next node submits a fresh one).
    if (exit && (exit.exit_code !== EXIT_INTERRUPTED || !job.ended)) {
      if (job.ended) this.forget(job);
      const error = exit.error ? { type: "SlurmJobFailed", message: exit.error, fix: "a bug of lem's: report it with the kept exchange dir" } : undefined;
      return { ...base, exitCode: exit.exit_code, signal: signalName(exit.signal), ...(error ? { error } : {}) };
    }
    // The job left the queue under this node: Slurm's verdict (time limit, memory, cancelled) or the worker's failure.
    const state = await this.settings.finalState(job.jobId);
    const output = job.keepOutputIn(x);
    this.forget(job);
    const stderrTail = [base.stderrTail, tail(output, 10)].filter(Boolean).join("\n");
    if (state?.state === "TIMEOUT") return { ...base, stderrTail, exitCode: null, timedOut: true, error: jobStateError(job.jobId, state, output) };
    const error = (state && jobStateError(job.jobId, state, output)) ?? (exit ? undefined : serverJobEndedError(job.jobId, state, output));
    if (error) return { ...base, stderrTail, exitCode: null, error: { ...error, stderrTail }, ...hideHarnessError(x) };
    return { ...base, stderrTail, exitCode: exit?.exit_code ?? null };
  }

  /** The lane's live job for the key, else a new one (a job of another key in the lane is finished first). */
  private async jobFor(share: ServerShare, spec: ServerJobSpec): Promise<ServerJob | { error: NodeError }> {
    const current = this.byLane.get(share.lane);
    if (current && current.key === share.key && !current.ended) return current;
    if (current) this.say(await this.finish(share.lane));
    const job = await ServerJob.submit({ share, options: spec.options, script: spec.script, parent: this.settings.parent, maxPollMs: this.settings.maxPollMs });
    if (!("error" in job)) this.byLane.set(share.lane, job);
    return job;
  }

  /**
   * Ends the lane's job: `done`, the worker stops its server, the job leaves the queue. A warning
   * when it did not end cleanly (its queue folder, with the job's output, is then kept).
   */
  async finish(lane: number): Promise<string | undefined> {
    const job = this.byLane.get(lane);
    if (!job) return undefined;
    this.byLane.delete(lane);
    const late = await job.finish();
    const state = await this.settings.finalState(job.jobId);
    const clean = state?.state === "COMPLETED" && state.exitCode === 0;
    job.close(!clean);
    if (clean || late) return late;
    return `the server job ${job.jobId} (${serverJobName(job.share)}) ended ${state ? `${state.state}, exit ${state.exitCode ?? "?"}` : "without a record"} ` +
      `after its last node, which is measured; its output is kept in ${job.output}`;
  }

  /** Finishes every lane's job (the end of the build, however it ended). */
  async dispose(): Promise<void> {
    for (const warning of await Promise.all([...this.byLane.keys()].map((lane) => this.finish(lane)))) this.say(warning);
  }

  /** Warnings not yet given to a node's outcome (a job that ended badly between nodes). */
  takeWarnings(): string[] {
    return this.warnings.splice(0);
  }

  private say(warning: string | undefined): void {
    if (warning) this.warnings.push(warning);
  }

  /** A job that left the queue under a node: the lane's next node submits a fresh one. */
  private forget(job: ServerJob): void {
    for (const [lane, j] of this.byLane) if (j === job) this.byLane.delete(lane);
    job.close();
  }
}
