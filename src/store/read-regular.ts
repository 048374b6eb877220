import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";

/** Thrown for a path that exists but is not a regular file (a FIFO, a socket, a folder, a device). */
export class NotRegularFile extends Error {
  readonly code = "ENOTREG";
  constructor(readonly path: string, readonly kind: string) {
    super(`${path} is a ${kind}, not a regular file`);
  }
}

function kindOf(stat: import("node:fs").Stats): string {
  if (stat.isFIFO()) return "FIFO";
  if (stat.isSocket()) return "socket";
  if (stat.isDirectory()) return "folder";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "device";
  return "special file";
}

/**
 * Reads a file only if it is a regular one. O_NONBLOCK makes opening a FIFO return at once
 * instead of waiting for a writer (which hung `lem status`); fstat then refuses it.
 */
export function readRegularFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new NotRegularFile(path, kindOf(stat));
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
