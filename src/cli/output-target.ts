import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import { inputError, LemError } from "../errors.js";

// Where a command writes outside the store (report --out, $GITHUB_OUTPUT): checked before the
// lemfile loads, and a write that still fails is a message naming the path, never a stack.

const kindOf = (path: string): "dir" | "file" | "none" | "other" => {
  try {
    const s = statSync(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : "other";
  } catch {
    return "none";
  }
};

/** A folder to write into (made if missing): a file there, or above it, is an input error. */
export function checkOutputFolder(path: string, what: string): void {
  const kind = kindOf(path);
  if (kind === "dir" || (kind === "none" && nearestExisting(path) === "dir")) return;
  const where = kind === "none" ? `${path}: a file is in the way above it` : `${path} is a ${kind === "file" ? "file" : "special file"}, not a folder`;
  throw inputError(`${what}: ${where}`, `pass ${what} a folder (made if missing), e.g. ${what} lem-report`);
}

function nearestExisting(path: string): "dir" | "file" | "none" | "other" {
  for (let p = dirname(path); ; p = dirname(p)) {
    const kind = kindOf(p);
    if (kind !== "none" || dirname(p) === p) return kind;
  }
}

function whyNotWritable(path: string): string | undefined {
  let p = dirname(path);
  while (kindOf(p) === "none" && dirname(p) !== p) p = dirname(p);
  try {
    accessSync(p, constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

/** A file that must already exist to be appended to ($GITHUB_OUTPUT: the runner makes it for each step). */
export function checkAppendTarget(path: string, what: string): void {
  const kind = kindOf(path);
  if (kind === "file" || kind === "other") return; // "other": a FIFO or /dev/stdout, appended to as is
  throw inputError(kind === "dir" ? `${what} (${path}) is a folder, not a file` : `${what} (${path}) does not exist`,
    "inside a GitHub Actions step the runner creates that file; elsewhere point it at an existing file, or drop --github-output to print the matrix");
}

/** A failed write to `path` as a message: a setup mistake (exit 2) or the machine's state (exit 1). */
export function writeFailed(error: unknown, path: string, what: string): unknown {
  const failed = (error as NodeJS.ErrnoException | undefined)?.path ?? path;
  let code = (error as NodeJS.ErrnoException | undefined)?.code;
  // mkdir -p on a read-only or foreign folder says ENOENT: ask the nearest folder that exists why.
  if (code === "ENOENT") code = whyNotWritable(failed) ?? code;
  switch (code) {
    case "ENOTDIR": case "EEXIST": case "EISDIR":
      return inputError(`${what}: cannot write ${failed}: a ${code === "EISDIR" ? "folder" : "file"} is in the way`, `pass ${what} a path where lem can write`);
    case "EROFS":
      return new LemError(`${what}: ${failed} is on a read-only filesystem`, `pass ${what} a writable place`, 1);
    case "EACCES": case "EPERM":
      return new LemError(`${what}: no permission to write ${failed}`, `make it writable for this user, or pass ${what} a writable place`, 1);
    case "ENOSPC": case "EDQUOT":
      return new LemError(`${what}: no space left while writing ${failed}`, "free some space, or write somewhere with room", 1);
    default:
      return error;
  }
}
