import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { queuedState, slurm } from "./slurm-cli.js";
import { submitJob } from "./job-array.js";
import type { ExchangeDir } from "../exchange-dir.js";
import type { NodeError } from "../events.js";
import type { ServerShare } from "../runner.js";

// The serving nodes of one server key share one server (issue 20 §2); on Slurm that server lives
// inside one job per lane and key, a "server job", whose worker (docker/harness/lem_harness/serving/
// job_worker.py) runs the nodes lem hands it one by one. They talk through a queue folder on the
// shared folder: lem writes node-<seq>.json and, after the key's last node, `done`, and rewrites
// `heartbeat` while the job lives; the worker writes node-<seq>.exit.json when a node's harness exits.

/** The queue folder's files; job_worker.py is the other side. */
export const queueFiles = {
  heartbeat: "heartbeat",
  done: "done",
  node: (seq: number) => `node-${seq}.json`,
  exit: (seq: number) => `node-${seq}.exit.json`,
} as const;

/** How often lem rewrites the heartbeat; the worker gives up after 60 s of silence (LEM_JOB_HEARTBEAT_TIMEOUT_S). */
export const HEARTBEAT_MS = 5_000;
/** How long a worker told `done` gets to stop its server and leave the queue before it is cancelled. */
export const FINISH_MS = 120_000;
/** The exit marker is looked for this often at most (it is a file on the shared folder). */
const EXIT_POLL_MAX_MS = 1_000;

/** What the worker says about a node's harness once it has exited. */
export interface NodeExit { exit_code: number | null; signal: string | null; error?: string }

/** A server job's name: squeue shows which key and lane it serves. */
export const serverJobName = (share: Pick<ServerShare, "key" | "lane">) => `lem-srv-${share.key}-l${share.lane}`;

/** What a server job is submitted with: the node's sbatch options and the worker's script for a queue folder. */
export interface ServerJobRequest {
  share: Pick<ServerShare, "key" | "lane">;
  options: string[];
  script: (queueDir: string) => string;
  /** The shared folder, where the queue folder goes. */
  parent: string;
  maxPollMs: number;
}

/** One submitted server job: hand it nodes, wait for each, then finish or cancel it. */
export class ServerJob {
  private seq = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private gone = false;

  private constructor(
    readonly share: Pick<ServerShare, "key" | "lane">,
    /** The queue folder, which also holds the job script and the job's output. */
    readonly dir: string,
    readonly jobId: string,
    readonly output: string,
    /** Resolves once squeue no longer lists the job. */
    readonly left: Promise<void>,
    heartbeat: NodeJS.Timeout,
  ) {
    this.heartbeat = heartbeat;
    void left.then(() => { this.gone = true; });
  }

  /** Makes the queue folder, starts the heartbeat and submits the job. */
  static async submit(request: ServerJobRequest): Promise<ServerJob | { error: NodeError }> {
    const dir = mkdtempSync(join(request.parent, "server-job-"));
    chmodSync(dir, 0o700);
    let beats = 0;
    const beat = () => writeAtomic(join(dir, queueFiles.heartbeat), `${++beats}\n`);
    beat();
    // A lem that goes (SIGKILL) stops beating; the worker then stops the server and exits.
    const heartbeat = setInterval(() => { try { beat(); } catch { /* the shared folder hiccupped: next beat */ } }, HEARTBEAT_MS);
    heartbeat.unref();
    const script = join(dir, "job.sh");
    writeFileSync(script, request.script(dir), { mode: 0o700 });
    const submitted = await submitJob({ options: request.options, name: serverJobName(request.share), dir, script }, request.maxPollMs)
      .catch((error: unknown) => ({ error: { type: "SlurmSubmitFailed", message: `could not submit: ${(error as Error).message}`, fix: "check slurm.shared_dir has room and is writable" } }));
    if ("error" in submitted) {
      clearInterval(heartbeat);
      rmSync(dir, { recursive: true, force: true });
      return submitted;
    }
    return new ServerJob(request.share, dir, submitted.jobId, submitted.output, submitted.left, heartbeat);
  }

  get key(): string { return this.share.key; }

  /** The job has left the queue: it takes no more nodes. */
  get ended(): boolean { return this.gone; }

  /** Hands a node to the worker (temp file + rename: it sees all of it or nothing); returns its seq. */
  hand(x: ExchangeDir, last: boolean): number {
    const seq = ++this.seq;
    writeAtomic(join(this.dir, queueFiles.node(seq)), JSON.stringify({
      seq, config_path: join(x.dir, x.configFile), log_path: join(x.dir, HARNESS_LOG), last,
    }));
    return seq;
  }

  /** The node's exit, once the worker has written it; undefined when the job left the queue first. */
  async waitExit(seq: number): Promise<NodeExit | undefined> {
    for (let delay = 100; ; delay = Math.min(EXIT_POLL_MAX_MS, delay * 1.5)) {
      // Looked at once more after the job has gone: the worker writes the marker before it exits.
      const gone = this.gone;
      const exit = this.readExit(seq);
      if (exit || gone) return exit;
      await Promise.race([sleep(delay), this.left]);
    }
  }

  private readExit(seq: number): NodeExit | undefined {
    try { return JSON.parse(readFileSync(join(this.dir, queueFiles.exit(seq)), "utf8")) as NodeExit; } catch { return undefined; }
  }

  /** scancel: SIGTERM to the worker and its harness (they stop the server and write Interrupted), or SIGKILL. */
  cancel(signal?: "KILL"): void {
    void slurm("scancel", [...(signal ? [`--signal=${signal}`, "--full"] : []), this.jobId]);
  }

  /**
   * After the key's last node: `done`, then waits until the worker has stopped the server and the
   * job has left the queue; a job still pending (it never ran a node) or past FINISH_MS is cancelled.
   * Returns a warning when it had to cancel.
   */
  async finish(graceMs = FINISH_MS): Promise<string | undefined> {
    if (this.gone) return undefined;
    writeAtomic(join(this.dir, queueFiles.done), "");
    if (await queuedState(this.jobId) === "PENDING") this.cancel();
    if (await within(this.left, graceMs)) return undefined;
    this.cancel();
    await this.left;
    return `the server job ${this.jobId} (${serverJobName(this.share)}) did not stop within ${Math.round(graceMs / 1000)} s of its last node and was cancelled`;
  }

  /** Stops the heartbeat and removes the queue folder (unless `keep`: its output is the only account of a failure). */
  close(keep = false): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The job's output copied into a node's exchange dir (kept with it on failure); where it now is. */
  keepOutputIn(x: ExchangeDir): string {
    const kept = join(x.dir, `slurm-${this.jobId}.out`);
    try { writeFileSync(kept, readFileSync(this.output)); return kept; } catch { return existsSync(this.output) ? this.output : kept; }
  }
}

/** The harness's output in a node's exchange dir, as the local runner keeps it. */
export const HARNESS_LOG = "harness.log";

/** Whether `promise` settles within `ms`; the timer goes either way (it must not keep lem running). */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true), sleep(ms, false, { signal: timer.signal }).catch(() => false)]);
  } finally {
    timer.abort();
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
