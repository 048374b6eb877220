import { LemError } from "../errors.js";

/**
 * A filesystem error in the store, turned into what the user can act on: which path, what is
 * wrong there, what to do. Full disk and read-only stores are the machine's state (exit 1);
 * a file where a folder belongs is a setup mistake (exit 2).
 */
export class StoreError extends LemError {
  constructor(message: string, fix: string, exitCode: 1 | 2, readonly code?: string) {
    super(message, fix, exitCode);
    this.name = "StoreError";
  }
}

/** `doing` says what lem was doing ("writing", "creating", "locking"); `path` is where it failed. */
export function storeError(error: unknown, doing: string, path: string, folder: string): StoreError | unknown {
  if (error instanceof LemError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return new StoreError(`no space left while ${doing} ${path}`,
        `free space on the filesystem holding ${folder} (or set results_dir to a folder with room), then run lem build again: finished results are kept and nothing half-written was left`, 1, code);
    case "EROFS":
      return new StoreError(`${folder} is on a read-only filesystem (while ${doing} ${path})`,
        `remount it read-write, or set results_dir in .lem-config.yaml (or the lemfile) to a writable folder`, 1, code);
    case "EACCES":
    case "EPERM":
      return new StoreError(`no permission for ${doing} ${path}`,
        `make ${folder} writable for this user (chmod/chown), or set results_dir to a writable folder`, 1, code);
    case "ENOTDIR":
    case "EEXIST":
      return new StoreError(`${path}: a file is in the way where lem keeps a folder (while ${doing} it)`,
        `move that file out of ${folder}: lem needs a folder there`, 2, code);
    case "EISDIR":
      return new StoreError(`${path}: a folder is in the way where lem keeps a file (while ${doing} it)`,
        `move that folder out of ${folder}: lem needs a file there`, 2, code);
    default:
      return error;
  }
}
