import { mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, openSync, closeSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { tryLock, type LockResult } from "./lock.js";
import { isHashDirName, parseResultFile, parseFailureFile, configPath, hashDir, hardwareDir, resultPath, failurePath, lockPath, asidePath, writeCheckPath } from "./layout.js";
import { readJsonFile, NotRegularFile } from "./read-regular.js";
import { checkStoredConfig, type StoredConfig } from "./stored-config.js";
import { StoreError, storeError } from "./store-error.js";
import { validators } from "../config/schemas.js";
import { formatSchemaErrors } from "../config/format-errors.js";
import type { ExperimentConfig } from "../lemfile/types.js";
import type { ExperimentResult } from "./result.js";
import type { FailureRecord, StoreEntry, StoreSnapshot } from "../graph/snapshot.js";

export type { FailureRecord, StoreEntry, StoreSnapshot } from "../graph/snapshot.js";

/**
 * A results folder, laid out as ./layout.ts describes (one folder per config hash, one per
 * hardware in it, a file per cycle). Every write is atomic, so a file that exists is complete.
 */
export interface StoreOptions {
  /**
   * A folder someone else wrote, read without changing it (lem compare): links are not followed
   * and a bad file stays where it is instead of being moved aside.
   */
  readOnly?: boolean;
}

export class ResultStore {
  constructor(readonly root: string, private readonly options: StoreOptions = {}) {}

  snapshot(): StoreSnapshot {
    const entries = new Map<string, StoreEntry>();
    const warnings: string[] = [];
    for (const child of this.listRoot()) {
      if (!isHashDirName(child.name)) continue;
      if (!this.isDir(this.root, child, warnings)) {
        if (child.isSymbolicLink() && this.options.readOnly) continue; // named by isDir
        warnings.push(`${join(this.root, child.name)}: a file named like a result folder; ignored (move it out of ${this.root})`);
        continue;
      }
      const entry = this.readEntry(child.name, warnings);
      if (entry) entries.set(child.name, entry);
    }
    return { entries, warnings };
  }

  /** The root's entries; none when it does not exist yet; a clear error when it is not a readable folder. */
  private listRoot(): Dirent[] {
    try {
      return readdirSync(this.root, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      if ((error as NodeJS.ErrnoException).code === "ENOTDIR") {
        throw new StoreError(`results_dir ${this.root} is a file, not a folder`,
          "move that file away, or set results_dir (lemfile or .lem-config.yaml) to a folder", 2, "ENOTDIR");
      }
      throw storeError(error, "reading", this.root, this.root);
    }
  }

  private readEntry(hash: string, warnings: string[]): StoreEntry | undefined {
    const dir = hashDir(this.root, hash);
    const entry: StoreEntry = { hash, names: [], groups: [], configState: "missing", updatedAt: "", done: new Map(), failed: new Map() };
    const configFile = configPath(this.root, hash);
    const before = warnings.length;
    const raw = this.readJson<unknown>(configFile, warnings);
    const config = raw === undefined ? undefined : checkStoredConfig(raw);
    if (typeof config === "string") {
      warnings.push(`${configFile}: ${config}; ignored${this.options.readOnly ? "" : " (the next build rewrites it)"}`);
    } else if (config) {
      entry.names = config.names ?? [];
      entry.groups = config.groups ?? [];
      entry.config = config.config;
      entry.updatedAt = config.updated_at ?? "";
      entry.configState = "ok";
    } else if (warnings.length > before) {
      entry.configState = "unreadable";
    }
    for (const child of this.list(dir, warnings)) {
      if (!this.isDir(dir, child, warnings)) continue;
      const hwDir = join(dir, child.name);
      for (const file of this.list(hwDir, warnings)) {
        const done = parseResultFile(file.name);
        const failed = parseFailureFile(file.name);
        if (done !== undefined) {
          const result = this.readResult(join(hwDir, file.name), hash, done, warnings);
          if (result) push(entry.done, done, result.hardware);
        } else if (failed !== undefined) {
          const record = this.readJson<FailureRecord & { hardware: string }>(join(hwDir, file.name), warnings);
          if (record) {
            const byHw = entry.failed.get(failed) ?? new Map<string, FailureRecord>();
            byHw.set(record.hardware, record);
            entry.failed.set(failed, byHw);
          }
        }
      }
    }
    return entry;
  }

  private list(dir: string, warnings: string[]): Dirent[] {
    try {
      return readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      warnings.push(`${dir}: cannot be listed (${(error as Error).message}); ignored`);
      return [];
    }
  }

  /** A result that cannot be parsed or fails the schema is moved aside and reported, never fatal. */
  private readResult(path: string, hash: string, cycle: number, warnings: string[]): ExperimentResult | undefined {
    const result = this.readJson<ExperimentResult>(path, warnings);
    if (!result) return undefined;
    if (!validators.result(result) || result.hash !== hash || result.cycle !== cycle) {
      const why = validators.result.errors?.length
        ? formatSchemaErrors(validators.result.errors, result).slice(0, 3).join("; ")
        : "hash or cycle does not match its file name";
      warnings.push(`${path}: invalid result (${why}); ${this.quarantine(path)}${this.options.readOnly ? "" : " and will be measured again"}`);
      return undefined;
    }
    return result;
  }

  private readJson<T>(path: string, warnings: string[]): T | undefined {
    try {
      return readJsonFile(path) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      if (error instanceof NotRegularFile) {
        warnings.push(error.kind === "symbolic link" ? `${path}: a symbolic link; not followed, ignored` : `${path}: a ${error.kind}, not a regular file; ignored (remove it)`);
        return undefined;
      }
      warnings.push(`${path}: unreadable (${(error as Error).message.split("\n")[0]}); ${this.quarantine(path)}`);
      return undefined;
    }
  }

  /** Moves a bad file aside; on a read-only store it stays where it is and is still ignored. */
  private quarantine(path: string): string {
    if (this.options.readOnly) return "ignored (left as it is)";
    const aside = asidePath(path);
    try {
      renameSync(path, aside);
      return `moved to ${aside}`;
    } catch (error) {
      return `could not be moved aside (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}), ignored`;
    }
  }

  private mkdir(dir: string): void {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw storeError(error, "creating", dir, this.root);
    }
    // mkdir -p succeeds on a symlink to a file on some systems; check what is there.
    if (!statSync(dir).isDirectory()) throw storeError(Object.assign(new Error("not a folder"), { code: "ENOTDIR" }), "creating", dir, this.root);
  }

  /**
   * Checks once, before any node runs, that results can be written: the root is a folder (made if
   * missing) and a file can be created in it. Read-only, full or foreign-owned stores fail here,
   * naming the path, instead of after a measurement.
   */
  checkWritable(): void {
    const rootKind = statKind(this.root);
    if (rootKind === "file") {
      throw new StoreError(`results_dir ${this.root} is a file, not a folder`,
        "move that file away, or set results_dir (lemfile or .lem-config.yaml) to a folder", 2, "ENOTDIR");
    }
    this.mkdir(this.root);
    const probe = writeCheckPath(this.root);
    try {
      closeSync(openSync(probe, "w"));
      unlinkSync(probe);
    } catch (error) {
      try { unlinkSync(probe); } catch { /* never created */ }
      throw storeError(error, "creating a file in", this.root, this.root);
    }
  }

  /** Makes the folders a node's files go in, before it runs: a file in the way is an error now, not after measuring. */
  prepareNode(hash: string, hardware: string, cycle: number): void {
    const dir = hardwareDir(this.root, hash, hardware);
    this.mkdir(dir);
    // A folder where the result (or its failure record) goes would fail the rename after measuring.
    for (const file of [resultPath(this.root, hash, hardware, cycle), failurePath(this.root, hash, hardware, cycle)]) {
      if (statKind(file) === "dir") {
        throw new StoreError(`${file}: a folder is in the way where lem keeps a result file`,
          `move that folder out of ${dir}: lem writes the cycle's result there`, 2, "EISDIR");
      }
    }
  }

  /**
   * Whether a valid result for this cycle and hardware is stored (written at or after `sinceMs`,
   * when given): the re-check after taking a node's lock, since another build may have measured
   * it after this one planned.
   */
  hasResult(hash: string, cycle: number, hardware: string, sinceMs?: number): boolean {
    const path = resultPath(this.root, hash, hardware, cycle);
    if (sinceMs !== undefined) {
      try { if (statSync(path).mtimeMs < sinceMs) return false; } catch { return false; }
    }
    const warnings: string[] = [];
    const result = this.readResult(path, hash, cycle, warnings);
    return result?.hardware === hardware;
  }

  /** Records the config and names; rewritten when names change so `changed:` can be explained later. */
  saveConfig(hash: string, names: string[], groups: string[], config: ExperimentConfig, hashVersion: number): void {
    this.mkdir(hashDir(this.root, hash));
    const path = configPath(this.root, hash);
    let previous: StoredConfig | undefined;
    try {
      const checked = checkStoredConfig(readJsonFile(path));
      if (typeof checked !== "string") previous = checked;
    } catch { /* missing or unreadable: the config is known, write it whole */ }
    const union = (a: string[] = [], b: string[]) => [...new Set([...a, ...b])];
    const file: StoredConfig = {
      hash_version: hashVersion, hash, names: union(previous?.names, names), groups: union(previous?.groups, groups),
      config, updated_at: new Date().toISOString(),
    };
    writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n");
  }

  lock(hash: string, cycle: number): LockResult {
    this.mkdir(hashDir(this.root, hash));
    return tryLock(lockPath(this.root, hash, cycle));
  }

  saveResult(result: ExperimentResult): string {
    this.mkdir(hardwareDir(this.root, result.hash, result.hardware));
    const path = resultPath(this.root, result.hash, result.hardware, result.cycle);
    writeFileAtomic(path, JSON.stringify(result, null, 2) + "\n");
    rmSync(failurePath(this.root, result.hash, result.hardware, result.cycle), { force: true });
    return path;
  }

  saveFailure(hash: string, cycle: number, hardware: string, failure: FailureRecord): void {
    this.mkdir(hardwareDir(this.root, hash, hardware));
    writeFileAtomic(failurePath(this.root, hash, hardware, cycle), JSON.stringify({ ...failure, hardware }, null, 2) + "\n");
  }

  /** Every valid result stored for a hash, all hardware, sorted by cycle. */
  results(hash: string): ExperimentResult[] {
    const dir = hashDir(this.root, hash);
    if (statKind(dir) !== "dir") return [];
    const out: ExperimentResult[] = [];
    const warnings: string[] = [];
    for (const child of this.list(dir, warnings)) {
      if (!this.isDir(dir, child, warnings)) continue;
      for (const file of this.list(join(dir, child.name), warnings)) {
        const cycle = parseResultFile(file.name);
        const result = cycle !== undefined && this.readResult(join(dir, child.name, file.name), hash, cycle, warnings);
        if (result) out.push(result);
      }
    }
    return out.sort((a, b) => a.cycle - b.cycle || a.hardware.localeCompare(b.hardware));
  }

  /** A folder entry that is a directory; a link to one is followed in this project's own store only. */
  private isDir(parent: string, entry: Dirent, warnings: string[]): boolean {
    if (entry.isDirectory()) return true;
    if (!entry.isSymbolicLink()) return false;
    if (!this.options.readOnly) return statKind(join(parent, entry.name)) === "dir";
    warnings.push(`${join(parent, entry.name)}: a symbolic link; not followed, ignored`);
    return false;
  }

  /** The names of the root's config folders (real folders, not links to one); none when the root cannot be listed. */
  hashFolders(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true }).filter((d) => d.isDirectory() && isHashDirName(d.name)).map((d) => d.name);
    } catch {
      return []; // no store yet
    }
  }

  /** Removes a hash's folder; returns whether it existed. */
  remove(hash: string): boolean {
    const dir = hashDir(this.root, hash);
    if (statKind(dir) !== "dir") return false;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      throw storeError(error, "removing", dir, this.root);
    }
    return true;
  }
}

function statKind(path: string): "dir" | "file" | "none" {
  try { return statSync(path).isDirectory() ? "dir" : "file"; } catch { return "none"; }
}

function push(map: Map<number, string[]>, key: number, value: string) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
