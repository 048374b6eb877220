import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FIRST_POLL_MS, BACKOFF, MAX_UNANSWERED, isQueued, leaveQueue, sh, slurm, unanswered } from "./slurm-cli.js";
import type { NodeError } from "../events.js";

// Nodes with the same job options go to Slurm together as one job array: one sbatch for all of
// them and one squeue per poll for the whole array, so a sweep of hundreds of nodes does not load
// slurmctld with hundreds of pollers. Arrays are split at the cluster's MaxArraySize; a batch of
// one is an ordinary job.

/** One node's job, ready to submit: sbatch options (job name and output aside), its script, its folder. */
export interface JobRequest {
  /** sbatch's options that every task of an array shares (no --job-name, --output or --array). */
  options: string[];
  /** This node's own name and output, for a job of its own. */
  name: string;
  dir: string;
  script: string;
}

/** A submitted job or array task: its id (`123` or `123_4`) and where Slurm writes its output. */
export interface Submitted {
  jobId: string;
  output: string;
  /** Resolves once the job has left the queue (squeue no longer shows it). */
  left: Promise<void>;
  /** Called once its output has been read or moved: an array's folder goes when all are done. */
  release(): void;
}

export type Submission = Submitted | { error: NodeError };

export interface ArrayPolicy {
  arrays: boolean;
  /** sbatch --array's %N. */
  throttle?: number;
  /** The cluster's MaxArraySize: task indices must stay below it. */
  maxArraySize: () => number;
  /** Backoff ceiling for squeue polling, ms. */
  maxPollMs: number;
}

/** How long submissions are gathered: the scheduler starts its nodes within a few milliseconds. */
const GATHER_MS = 250;

/** `--array=0-(n-1)` with the throttle. */
export const arraySpec = (count: number, throttle?: number) => `--array=0-${count - 1}${throttle ? `%${throttle}` : ""}`;

/** Splits n tasks into arrays of at most maxArraySize (indices 0..maxArraySize-1). */
export function arrayChunks<T>(items: T[], maxArraySize: number): T[][] {
  const size = Math.max(1, maxArraySize);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** The tasks of an array that are still queued or running, from `squeue -h -r -o "%i %T"`. */
export function liveTasks(squeueOutput: string, arrayId: string): Set<number> {
  const live = new Set<number>();
  for (const line of squeueOutput.split("\n")) {
    const [id, state = ""] = line.trim().split(/\s+/);
    const m = new RegExp(`^${arrayId}_(\\d+)$`).exec(id ?? "");
    if (m && isQueued(state)) live.add(Number(m[1]));
  }
  return live;
}

/** One poller for a whole array: each task's promise resolves when squeue no longer lists it. */
function watchArray(arrayId: string, count: number, maxPollMs: number): Promise<void>[] {
  const resolvers: (() => void)[] = [];
  const promises = Array.from({ length: count }, (_, i) => new Promise<void>((resolve) => { resolvers[i] = resolve; }));
  const waiting = new Set(resolvers.keys());
  void (async () => {
    let delay = FIRST_POLL_MS;
    let missed = 0;
    while (waiting.size > 0) {
      await sleep(delay);
      delay = Math.min(maxPollMs, delay * BACKOFF);
      const q = await slurm("squeue", ["-h", "-r", "-j", arrayId, "-o", "%i %T"]);
      // slurmctld busy: ask again (tasks may still run); an id it no longer knows: every task has left.
      missed = unanswered(q) ? missed + 1 : 0;
      if (missed > 0 && missed <= MAX_UNANSWERED) continue;
      const live = q.code === 0 ? liveTasks(q.stdout, arrayId) : new Set<number>();
      for (const i of [...waiting]) if (!live.has(i)) { waiting.delete(i); resolvers[i](); }
    }
  })();
  return promises;
}

const refused = (call: { stderr: string; stdout: string }): { error: NodeError } => ({ error: {
  type: "SlurmSubmitFailed", message: `sbatch refused the job: ${(call.stderr || call.stdout).trim().split("\n").slice(-3).join("; ")}`,
  fix: "check slurm.partition, slurm.account, slurm.qos, slurm.time_limit and slurm.sbatch_args in .lem-config.yaml against `sinfo` and `sacctmgr show assoc`",
} });

/** One job of its own (no array): its output goes to slurm-<id>.out in the request's folder. */
export async function submitJob(request: JobRequest, maxPollMs: number): Promise<Submission> {
  const call = await slurm("sbatch", ["--parsable", `--job-name=${request.name}`, `--output=${join(request.dir, "slurm-%j.out")}`, ...request.options, request.script]);
  const jobId = call.stdout.trim().split(";")[0];
  if (call.code !== 0 || !/^\d+$/.test(jobId)) return refused(call);
  return { jobId, output: join(request.dir, `slurm-${jobId}.out`), left: leaveQueue(jobId, maxPollMs), release: () => {} };
}

/**
 * Gathers job requests for a moment and submits those with the same options together: one array
 * per group (split at MaxArraySize), a plain job for a group of one, or one job each without arrays.
 */
export class JobSubmitter {
  private readonly groups = new Map<string, { requests: JobRequest[]; answers: ((s: Submission) => void)[] }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly policy: ArrayPolicy, private readonly parent: string) {}

  submit(request: JobRequest): Promise<Submission> {
    if (!this.policy.arrays) return this.single(request);
    return new Promise((answer) => {
      const key = JSON.stringify(request.options);
      const group = this.groups.get(key) ?? { requests: [], answers: [] };
      group.requests.push(request);
      group.answers.push(answer);
      this.groups.set(key, group);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), GATHER_MS);
    });
  }

  private flush(): void {
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const { requests, answers } of groups) {
      const indexed = requests.map((request, i) => ({ request, answer: answers[i] }));
      for (const chunk of arrayChunks(indexed, this.policy.maxArraySize())) {
        // A folder that cannot be written (full disk) fails these nodes, never leaves them waiting.
        const failed = (error: unknown) => chunk.map(() => ({ error: { type: "SlurmSubmitFailed", message: `could not submit: ${(error as Error).message}`, fix: "check slurm.shared_dir has room and is writable" } }));
        const submitted = chunk.length === 1 ? this.single(chunk[0].request).then((s) => [s]) : this.array(chunk.map((c) => c.request));
        void submitted.catch(failed).then((subs) => subs.forEach((s, i) => chunk[i].answer(s)));
      }
    }
  }

  private single(request: JobRequest): Promise<Submission> {
    return submitJob(request, this.policy.maxPollMs);
  }

  /** Task i runs line i+1 of tasks.txt: that node's own job script, in its own exchange dir. */
  private async array(requests: JobRequest[]): Promise<Submission[]> {
    const dir = mkdtempSync(join(this.parent, "array-"));
    writeFileSync(join(dir, "tasks.txt"), requests.map((r) => r.script).join("\n") + "\n");
    const dispatch = join(dir, "task.sh");
    writeFileSync(dispatch, [
      "#!/bin/sh",
      "# Written by lem: task i of this job array runs the job script on line i+1 of tasks.txt (one node each).",
      `exec /bin/sh "$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${sh(join(dir, "tasks.txt"))})"`,
      "",
    ].join("\n"), { mode: 0o755 });
    const call = await slurm("sbatch", [
      "--parsable", `--job-name=lem-array-${requests.length}`, `--output=${join(dir, "slurm-%A_%a.out")}`,
      arraySpec(requests.length, this.policy.throttle), ...requests[0].options, dispatch,
    ]);
    const arrayId = call.stdout.trim().split(";")[0];
    if (call.code !== 0 || !/^\d+$/.test(arrayId)) {
      rmSync(dir, { recursive: true, force: true });
      return requests.map(() => refused(call));
    }
    const left = watchArray(arrayId, requests.length, this.policy.maxPollMs);
    let open = requests.length;
    const release = () => { if (--open === 0) rmSync(dir, { recursive: true, force: true }); };
    return requests.map((_, i) => {
      let released = false;
      return { jobId: `${arrayId}_${i}`, output: join(dir, `slurm-${arrayId}_${i}.out`), left: left[i], release: () => { if (!released) { released = true; release(); } } };
    });
  }
}
