import { openSync, closeSync, unlinkSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { writeAll } from "./atomic.js";
import { currentOwner, ownerDead, type OwnerIdentity } from "./process-identity.js";
import { storeError } from "./store-error.js";
import { readRegularFile } from "./read-regular.js";

export { processAlive } from "./process-identity.js";

export interface LockInfo extends OwnerIdentity { started_at: string }

export type LockResult = { acquired: true; release: () => void } | { acquired: false; holder: LockInfo };

const UNKNOWN: LockInfo = { pid: 0, host: "?", started_at: "" };

/**
 * An O_EXCL lock file holding the owner's identity (pid, process start time, boot id). A lock
 * whose owner is provably gone (dead, pid reused, rebooted) is stale and broken; one held by a
 * live owner, or by another host, is respected. A lock that cannot be written whole (full disk)
 * is removed and thrown as a StoreError.
 */
export function tryLock(path: string): LockResult {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(path, "wx", 0o644);
      const info: LockInfo = { ...currentOwner(), started_at: new Date().toISOString() };
      writeAll(fd, JSON.stringify(info));
      closeSync(fd);
      return { acquired: true, release: () => { try { unlinkSync(path); } catch { /* already gone */ } } };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || fd !== undefined) {
        if (fd !== undefined) {
          try { closeSync(fd); } catch { /* already failed */ }
          try { unlinkSync(path); } catch { /* nothing to remove */ }
        }
        throw storeError(error, "locking", path, dirname(path));
      }
    }
    const holder = readLock(path);
    if (holder && !ownerDead(holder)) return { acquired: false, holder };
    if (!holder && !olderThan(path, 10_000)) return { acquired: false, holder: UNKNOWN };
    try { unlinkSync(path); } catch { /* another build broke it first */ }
  }
  return { acquired: false, holder: readLock(path) ?? UNKNOWN };
}

function olderThan(path: string, ms: number): boolean {
  try { return Date.now() - statSync(path).mtimeMs > ms; } catch { return true; }
}

/** A lock file being written by its owner can be empty for an instant; treat it as unreadable. */
export function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readRegularFile(path)) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}
