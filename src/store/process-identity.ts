import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Who owns a lock or an exchange dir, precisely enough to tell a dead owner from a live one even
 * after its pid was reused: the pid, the process's start time (/proc/<pid>/stat field 22, clock
 * ticks since boot) and the boot id. Off Linux the last two are absent and only the pid is checked.
 */
export interface OwnerIdentity {
  pid: number;
  host: string;
  proc_start?: string;
  boot_id?: string;
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parens, so parse after the last ")". */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

let boot: string | null | undefined;
export function bootId(): string | undefined {
  if (boot === undefined) {
    try { boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(); } catch { boot = null; }
  }
  return boot ?? undefined;
}

export function currentOwner(): OwnerIdentity {
  const start = processStartTime(process.pid);
  const id = bootId();
  return { pid: process.pid, host: hostname(), ...(start ? { proc_start: start } : {}), ...(id ? { boot_id: id } : {}) };
}

/**
 * True only when the owner is provably gone: same host, and another boot, or no such pid, or a
 * pid now held by a process that started at another time (reused). Another host: never provable.
 */
export function ownerDead(owner: Partial<OwnerIdentity> & { started_at?: unknown }): boolean {
  if (typeof owner.pid !== "number" || owner.host !== hostname()) return false;
  const id = bootId();
  if (owner.boot_id && id && owner.boot_id !== id) return true;
  if (!processAlive(owner.pid)) return true;
  if (owner.proc_start) {
    const now = processStartTime(owner.pid);
    return now !== undefined && now !== owner.proc_start;
  }
  // The earlier lock format (pid, host, started_at): the process now holding that pid started after
  // the lock was taken (or the lock predates this boot), so it is another process reusing the pid.
  const takenMs = typeof owner.started_at === "string" ? Date.parse(owner.started_at) : NaN;
  const startedMs = processStartedAtMs(owner.pid);
  return Number.isFinite(takenMs) && startedMs !== undefined && startedMs > takenMs + CLOCK_SLACK_MS;
}

/** btime is whole seconds and start ticks are 10 ms: allow for both, and for a clock stepped a little. */
const CLOCK_SLACK_MS = 2_000;
/** USER_HZ, the unit of /proc/<pid>/stat's start time: 100 on every Linux architecture lem runs on. */
const USER_HZ = 100;

/** When a process started, in ms since the epoch (Linux: boot time plus its start ticks); undefined elsewhere. */
export function processStartedAtMs(pid: number): number | undefined {
  const ticks = Number(processStartTime(pid));
  let btime: number;
  try {
    btime = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
  } catch {
    return undefined;
  }
  return Number.isFinite(ticks) && btime > 0 ? btime * 1000 + (ticks / USER_HZ) * 1000 : undefined;
}
