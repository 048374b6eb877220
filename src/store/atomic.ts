import { closeSync, fsyncSync, openSync, renameSync, writeSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { storeError } from "./store-error.js";
import { tempPath } from "./layout.js";

/** writeSync's shape; tests inject one that writes short to prove every byte is checked. */
export type WriteFn = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/**
 * Writes every byte of `data` to `fd`. A write that makes no progress is a full disk: Node's
 * writeSync returns short counts on some filesystems instead of throwing, so each count is checked.
 */
export function writeAll(fd: number, data: string | Uint8Array, write: WriteFn = writeSync): void {
  const buffer = typeof data === "string" ? Buffer.from(data) : data;
  for (let offset = 0; offset < buffer.length;) {
    const n = write(fd, buffer, offset, buffer.length - offset);
    if (!(n > 0)) throw Object.assign(new Error(`ENOSPC: wrote ${offset} of ${buffer.length} bytes`), { code: "ENOSPC" });
    offset += n;
  }
}

/**
 * Write-then-rename with fsync of the file and its folder: a reader (or a crash) sees either the
 * old file or the whole new one, never a prefix. Any failure removes the temp file and is thrown
 * as a StoreError naming the folder (full disk, read-only, a file in the way).
 */
export function writeFileAtomic(path: string, data: string, write: WriteFn = writeSync): void {
  const dir = dirname(path);
  const tmp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "wx", 0o644);
    writeAll(fd, data, write);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (error) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failed */ }
    try { unlinkSync(tmp); } catch { /* never created, or already gone */ }
    throw storeError(error, "writing", path, dir);
  }
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  }
}
