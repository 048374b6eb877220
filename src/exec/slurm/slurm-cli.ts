import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** Single-quoted for sh (job scripts). */
export const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** What one Slurm client command printed. */
export interface SlurmCall { code: number; stdout: string; stderr: string }

/** Runs a Slurm client (sbatch, squeue, scontrol, scancel, sacct); SLURM_CONF comes from the environment. */
export function slurm(cmd: string, args: string[], timeoutMs = 30_000): Promise<SlurmCall> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "utf8", timeout: timeoutMs, env: process.env }, (error, stdout, stderr) => {
      // 127: not installed; 124: killed at the time limit (Slurm clients retry a missing slurm.conf for 60 s).
      const code = !error ? 0 : typeof error.code === "number" ? error.code : error.code === "ENOENT" ? 127 : 124;
      resolve({ code, stdout, stderr: stderr || (error && code === 127 ? error.message : "") });
    });
  });
}

/** A job's state as Slurm words it (PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...) and its exit. */
export interface JobState { state: string; exitCode: number | null; signal: number | null; reason?: string }

/** `Key=Value Key=Value` (scontrol show -o, jobcomp/filetxt lines) into a map. */
export function parseKeyValues(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of line.matchAll(/(\w+)=(\S*)/g)) out.set(m[1], m[2]);
  return out;
}

/** `3:0` (exit code : signal) as Slurm prints ExitCode. */
export function parseExitCode(text: string | undefined): { exitCode: number | null; signal: number | null } {
  const m = /^(\d+):(\d+)$/.exec(text ?? "");
  return m ? { exitCode: Number(m[1]), signal: Number(m[2]) || null } : { exitCode: null, signal: null };
}

/** First word of a state: `CANCELLED by 0` → CANCELLED. */
const word = (state: string) => state.split(/[\s+]/)[0];

/** The settings of `scontrol show config` that lem reads. */
export interface ClusterConfig { maxArraySize: number; accounting: boolean; jobcompFile?: string }

export function parseClusterConfig(text: string): ClusterConfig {
  const get = (key: string) => new RegExp(`^${key}\\s*=\\s*(.*)$`, "m").exec(text)?.[1].trim();
  const jobcomp = get("JobCompType") === "jobcomp/filetxt" ? get("JobCompLoc") : undefined;
  return {
    maxArraySize: Number(get("MaxArraySize") ?? 1001),
    accounting: (get("AccountingStorageType") ?? "accounting_storage/none") !== "accounting_storage/none",
    ...(jobcomp ? { jobcompFile: jobcomp } : {}),
  };
}

/** Still queued or running: the state squeue shows, else undefined once the job has left the queue. */
export async function queuedState(jobId: string): Promise<string | undefined> {
  const q = await slurm("squeue", ["-h", "-j", jobId, "-o", "%T"]);
  if (unanswered(q)) return UNANSWERED;
  const state = q.code === 0 ? q.stdout.trim() : "";
  return isQueued(state) ? state : undefined;
}

/** What queuedState says when squeue could not ask slurmctld (busy, restarting): the job may still run. */
export const UNANSWERED = "UNANSWERED";
/** How many unanswered polls in a row before lem stops waiting and asks for the final state. */
export const MAX_UNANSWERED = 10;

/** squeue failed for another reason than an id slurmctld no longer knows (a job long gone). */
export const unanswered = (q: SlurmCall): boolean => q.code !== 0 && !/invalid job id/i.test(q.stderr);

/** The first poll comes this soon after submission; later ones back off ×1.5 to poll_max_seconds. */
export const FIRST_POLL_MS = 200;
export const BACKOFF = 1.5;

/** Resolves once a job has left the queue (or the signal aborts), polling squeue with backoff. */
export async function leaveQueue(jobId: string, maxPollMs: number, signal?: AbortSignal): Promise<void> {
  let delay = FIRST_POLL_MS;
  let missed = 0;
  for (;;) {
    if (signal?.aborted) return;
    const state = await queuedState(jobId);
    missed = state === UNANSWERED ? missed + 1 : 0;
    if (state === undefined || missed > MAX_UNANSWERED) return;
    await sleep(delay, undefined, { signal }).catch(() => undefined);
    delay = Math.min(maxPollMs, delay * BACKOFF);
  }
}

/** A state squeue shows for a job still queued or running (it may briefly show a final one). */
export const isQueued = (state: string): boolean =>
  state !== "" && !/^(COMPLETED|FAILED|TIMEOUT|CANCELLED|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)/.test(state);

/**
 * A finished job's final state: sacct when accounting exists, else `scontrol show job` (kept for
 * MinJobAge), else the jobcomp/filetxt line, which is permanent.
 */
export async function finalState(jobId: string, cluster: ClusterConfig, readJobcomp: () => string): Promise<JobState | undefined> {
  if (cluster.accounting) {
    const a = await slurm("sacct", ["-n", "-P", "-X", "-j", jobId, "-o", "State,ExitCode,Reason"]);
    const [state, exit, reason] = a.code === 0 ? a.stdout.trim().split("\n")[0]?.split("|") ?? [] : [];
    if (state) return { state: word(state), ...parseExitCode(exit), reason };
  }
  const s = await slurm("scontrol", ["show", "job", "-o", jobId]);
  if (s.code === 0 && s.stdout.trim()) {
    const kv = parseKeyValues(s.stdout);
    const state = kv.get("JobState");
    if (state) return { state: word(state), ...parseExitCode(kv.get("ExitCode")), reason: kv.get("Reason") };
  }
  if (cluster.jobcompFile) {
    const kv = jobcompEntry(readJobcomp(), jobId);
    if (kv) return { state: word(kv.get("JobState") ?? "UNKNOWN"), ...parseExitCode(kv.get("ExitCode")) };
  }
  return undefined;
}

/**
 * The last jobcomp/filetxt line of a job: `JobId=<id>`, or for an array task `<array>_<task>`, the
 * line with that ArrayJobId and ArrayTaskId (each task has a JobId of its own there).
 */
export function jobcompEntry(text: string, jobId: string): Map<string, string> | undefined {
  const [array, task] = jobId.split("_");
  for (const line of text.split("\n").reverse()) {
    if (task === undefined ? !line.startsWith(`JobId=${jobId} `) : !line.includes(` ArrayJobId=${array} `)) continue;
    const kv = parseKeyValues(line);
    if (task === undefined || kv.get("ArrayTaskId") === task) return kv;
  }
  return undefined;
}
