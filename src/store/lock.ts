import { hostname } from "node:os";
import { openSync, writeSync, closeSync, readFileSync, unlinkSync, statSync } from "node:fs";

export interface LockInfo { pid: number; host: string; started_at: string }

export type LockResult = { acquired: true; release: () => void } | { acquired: false; holder: LockInfo };

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An O_EXCL lock file holding the owner's pid. A lock whose owner is dead (same host) is stale
 * and broken; one held by a live process, or by another host, is respected.
 */
export function tryLock(path: string): LockResult {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      const info: LockInfo = { pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      return { acquired: true, release: () => { try { unlinkSync(path); } catch { /* already gone */ } } };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readLock(path);
    if (holder && (holder.host !== hostname() || processAlive(holder.pid))) return { acquired: false, holder };
    if (!holder && !olderThan(path, 10_000)) return { acquired: false, holder: { pid: 0, host: "?", started_at: "" } };
    try { unlinkSync(path); } catch { /* another build broke it first */ }
  }
  const holder = readLock(path);
  return { acquired: false, holder: holder ?? { pid: 0, host: "?", started_at: "" } };
}

function olderThan(path: string, ms: number): boolean {
  try { return Date.now() - statSync(path).mtimeMs > ms; } catch { return true; }
}

/** A lock file being written by its owner can be empty for an instant; treat it as unreadable. */
export function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}
