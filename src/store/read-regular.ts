import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";

/** Thrown for a path that exists but is not a regular file (a link, a FIFO, a socket, a folder, a device). */
export class NotRegularFile extends Error {
  readonly code = "ENOTREG";
  constructor(readonly path: string, readonly kind: string) {
    super(kind === "symbolic link" ? `${path} is a symbolic link; lem does not follow links` : `${path} is a ${kind}, not a regular file`);
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
 * Reads a file only if it is a regular one, never through a symbolic link: a link in a results
 * folder someone else wrote could point at any file of this machine (O_NOFOLLOW). O_NONBLOCK makes
 * opening a FIFO return at once instead of waiting for a writer (which hung `lem status`); fstat
 * then refuses it.
 */
export function readRegularFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") throw new NotRegularFile(path, "symbolic link");
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new NotRegularFile(path, kindOf(stat));
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/** Thrown for a file that is not JSON; its message says where, never what the file holds. */
export class NotJson extends Error {
  readonly code = "ENOTJSON";
}

/**
 * Parses JSON text from a file. Node's own message quotes the text ("SECRET_TOK"... is not valid
 * JSON), and a refusal must never show what a file holds: only where it stops being JSON.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    const at = /at position (\d+)/.exec(message);
    throw new NotJson(/end of JSON input/.test(message) ? "not valid JSON: cut short" : at ? `not valid JSON at character ${at[1]}` : "not valid JSON");
  }
}

/** readRegularFile, then parseJson. */
export function readJsonFile(path: string): unknown {
  return parseJson(readRegularFile(path));
}
