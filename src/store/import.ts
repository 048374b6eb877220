import { mkdirSync, readdirSync, rmSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFileAtomic } from "./atomic.js";
import { hardwareId, isHashDirName, parseResultFile, isBookkeepingName, configPath, hashDir, hardwareDir, resultPath, failurePath } from "./layout.js";
import { readRegularFile, readJsonFile, parseJson, NotRegularFile, NotJson } from "./read-regular.js";
import { checkStoredConfig, type StoredConfig } from "./stored-config.js";
import { storeError } from "./store-error.js";
import type { LockInfo } from "./lock.js";
import type { ResultStore } from "./store.js";
import { validators } from "../config/schemas.js";
import { formatSchemaErrors } from "../config/format-errors.js";
import { canonicalJson } from "../config/canonical-json.js";
import { measurementHash, HASH_VERSION } from "../config/hash.js";
import type { ExperimentResult } from "./result.js";

export type ImportState = "imported" | "duplicate" | "conflict" | "refused";

/** What happened to one file of a results folder being imported. */
export interface ImportItem {
  source: string;
  state: ImportState;
  /** Where it went (or would go, or what it collided with) in this store. */
  target?: string;
  hash?: string;
  cycle?: number;
  hardware?: string;
  /** Why a file was refused or conflicts. */
  reason?: string;
}

export interface ImportReport {
  files: ImportItem[];
  summary: Record<ImportState, number>;
  /** Names that are not part of a results folder (ignored, not refused): `path: why`. */
  ignored: string[];
}

export interface ImportOptions {
  dryRun?: boolean;
  /** Called once per file whose cycle a running build holds locked, before waiting for it. */
  onWait?: (target: string, holder: LockInfo) => void;
  /** Poll interval while a build holds a cycle's lock. */
  pollMs?: number;
}

/** A result that passed every check, with its original bytes (written as they are). */
interface Checked { source: string; text: string; canonical: string; hash: string; cycle: number; hardware: string }

interface CheckedEntry { hash: string; configText: StoredConfig; results: Checked[] }

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0];
/** Why a file could not be read, never quoting what it holds (nor what a link points at: links are not followed). */
const unreadable = (error: unknown) =>
  error instanceof NotRegularFile ? (error.kind === "symbolic link" ? "a symbolic link; lem import does not follow links" : `a ${error.kind}, not a regular file`)
    : error instanceof NotJson ? error.message
      : (error as NodeJS.ErrnoException).code ?? firstLine(error);
const LINK = "a symbolic link; lem import does not follow links out of the folder it reads";

function list(dir: string): Dirent[] {
  return readdirSync(dir, { withFileTypes: true });
}

/**
 * config.json of an entry: readable, a valid experiment config, and hashing to the folder's name
 * (with this lem's hash_version); else why not.
 */
function checkConfig(root: string, hash: string): StoredConfig | string {
  let data: unknown;
  try {
    data = readJsonFile(configPath(root, hash));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "no config.json: the folder's hash cannot be checked" : `config.json unreadable (${unreadable(error)})`;
  }
  const file = checkStoredConfig(data);
  if (typeof file === "string") return file;
  if (file.hash !== undefined && file.hash !== hash) return `config.json: its hash ${file.hash} is not its folder's ${hash}`;
  if (file.hash_version !== undefined && file.hash_version !== HASH_VERSION) return `config.json has hash_version ${file.hash_version}, this lem hashes with ${HASH_VERSION}`;
  const config = structuredClone(file.config);
  if (!validators.experiment(config)) return `config.json: not a valid experiment config (${formatSchemaErrors(validators.experiment.errors ?? [], config).slice(0, 3).join("; ")})`;
  const recomputed = measurementHash(file.config);
  if (recomputed !== hash) return `config.json hashes to ${recomputed}, not to its folder's name ${hash}`;
  return file;
}

/** One result file against the schema, its folder's hash and cycle, and its hardware folder. */
function checkResult(path: string, hash: string, hwDir: string, cycle: number): Checked | string {
  let text: string;
  let result: ExperimentResult;
  try {
    text = readRegularFile(path);
    result = parseJson(text) as ExperimentResult;
  } catch (error) {
    return `unreadable (${unreadable(error)})`;
  }
  const copy = structuredClone(result);
  if (!validators.result(copy)) return `invalid against schemas/result.schema.json (${formatSchemaErrors(validators.result.errors ?? [], copy).slice(0, 3).join("; ")})`;
  if (result.hash !== hash) return `its hash ${result.hash} is not its folder's ${hash}`;
  if (result.cycle !== cycle) return `its cycle ${result.cycle} is not its file name's ${cycle}`;
  if (measurementHash(result.config) !== hash) return `its config hashes to ${measurementHash(result.config)}, not to ${hash}`;
  if (hardwareId(result.hardware) !== hwDir) return `measured on "${result.hardware}", which belongs in ${hardwareId(result.hardware)}/, not ${hwDir}/`;
  return { source: path, text, canonical: canonicalJson(result), hash, cycle, hardware: result.hardware };
}

/** Checks every entry of one results folder; writes nothing. */
function checkFolder(root: string, files: ImportItem[], ignored: string[]): CheckedEntry[] {
  const entries: CheckedEntry[] = [];
  for (const child of list(root).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = hashDir(root, child.name);
    if (isHashDirName(child.name) && child.isSymbolicLink()) {
      files.push({ source: dir, state: "refused", reason: LINK });
      continue;
    }
    if (!isHashDirName(child.name) || !child.isDirectory()) {
      if (!child.name.startsWith(".")) ignored.push(`${dir}: not a result folder (a config hash)`);
      continue;
    }
    const hash = child.name;
    const config = checkConfig(root, hash);
    const results: Checked[] = [];
    const refusals: ImportItem[] = [];
    for (const hw of list(dir).sort((a, b) => a.name.localeCompare(b.name))) {
      const hwPath = join(dir, hw.name);
      if (hw.isSymbolicLink() && !isBookkeepingName(hw.name)) {
        refusals.push({ source: hwPath, state: "refused", hash, reason: LINK });
        continue;
      }
      if (!hw.isDirectory()) {
        if (!isBookkeepingName(hw.name)) ignored.push(`${hwPath}: not part of a result folder`);
        continue;
      }
      for (const file of list(hwPath).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(hwPath, file.name);
        const cycle = parseResultFile(file.name);
        if (cycle === undefined) {
          if (!isBookkeepingName(file.name)) ignored.push(`${path}: not a result file`);
          continue;
        }
        const checked = checkResult(path, hash, hw.name, cycle);
        if (typeof checked === "string") refusals.push({ source: path, state: "refused", hash, cycle, reason: checked });
        else results.push(checked);
      }
    }
    if (typeof config === "string") {
      // Nothing of an entry whose config cannot be trusted is written.
      files.push({ source: configPath(root, hash), state: "refused", hash, reason: config });
      for (const r of results) files.push({ source: r.source, state: "refused", hash, cycle: r.cycle, hardware: r.hardware, reason: "its folder's config.json was refused" });
      files.push(...refusals);
      continue;
    }
    files.push(...refusals);
    entries.push({ hash, configText: config, results });
  }
  return entries;
}

/** The stored file's fate against an incoming one: nothing there, the same result, or a different one. */
function compare(target: string, incoming: Checked): { state: "absent" | "duplicate" | "conflict"; reason?: string } {
  let text: string;
  try {
    text = readRegularFile(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: "absent" };
    return { state: "conflict", reason: `the stored file cannot be read (${firstLine(error)}); kept — run lem status, which moves a bad file aside, then import again` };
  }
  try {
    if (canonicalJson(JSON.parse(text)) === incoming.canonical) return { state: "duplicate" };
  } catch { /* unparseable: a conflict, below */ }
  return { state: "conflict", reason: "a different result for the same hash, hardware and cycle is stored; the stored one is kept" };
}

function mkdir(dir: string, root: string) {
  try { mkdirSync(dir, { recursive: true }); } catch (error) { throw storeError(error, "creating", dir, root); }
}

/** Adds the entry's names and sweeps to this store's config.json (or writes it), atomically. */
function mergeConfig(store: ResultStore, entry: CheckedEntry): void {
  mkdir(hashDir(store.root, entry.hash), store.root);
  const path = configPath(store.root, entry.hash);
  let previous: StoredConfig | undefined;
  try {
    const checked = checkStoredConfig(readJsonFile(path));
    if (typeof checked !== "string") previous = checked;
  } catch { /* missing or unreadable: write it whole */ }
  const union = (a: string[] = [], b: string[] = []) => [...new Set([...a, ...b])];
  const names = union(previous?.names, entry.configText.names);
  const groups = union(previous?.groups, entry.configText.groups);
  if (previous && typeof previous.config === "object" && names.length === (previous.names ?? []).length && groups.length === (previous.groups ?? []).length) return;
  const file = {
    hash_version: HASH_VERSION, hash: entry.hash, names, groups, config: entry.configText.config,
    updated_at: [previous?.updated_at ?? "", entry.configText.updated_at ?? ""].sort().at(-1) || new Date().toISOString(),
  };
  writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n");
}

/**
 * Merges results folders (what CI shard jobs upload) into `store`. Every file of every folder is
 * checked first (schema, hash recomputed from config.json, hardware folder) and a refused one is
 * never written; then each result is written atomically under its cycle's lock — the lock a
 * `lem build` holds while it measures that cycle — so an import never overwrites what a concurrent
 * build writes. An identical stored result is a duplicate; a different one is kept and reported.
 */
export async function importStores(store: ResultStore, dirs: readonly string[], options: ImportOptions = {}): Promise<ImportReport> {
  const files: ImportItem[] = [];
  const ignored: string[] = [];
  const entries = dirs.flatMap((dir) => checkFolder(dir, files, ignored));
  /** What this import has written (or, in a dry run, would have) at each target, so a second copy compares against it. */
  const planned = new Map<string, Checked>();
  for (const entry of entries) {
    if (!options.dryRun && entry.results.length > 0) mergeConfig(store, entry);
    for (const result of entry.results) {
      const hwDir = hardwareDir(store.root, result.hash, result.hardware);
      const target = resultPath(store.root, result.hash, result.hardware, result.cycle);
      const item: ImportItem = { source: result.source, state: "imported", target, hash: result.hash, cycle: result.cycle, hardware: result.hardware };
      const earlier = planned.get(target);
      if (options.dryRun) {
        const seen = earlier ? (earlier.canonical === result.canonical ? { state: "duplicate" as const } : { state: "conflict" as const, reason: `differs from ${earlier.source}, imported first` }) : compare(target, result);
        if (seen.state === "absent") planned.set(target, result);
        files.push({ ...item, state: seen.state === "absent" ? "imported" : seen.state, ...(seen.reason ? { reason: seen.reason } : {}) });
        continue;
      }
      const release = await lockCycle(store, result.hash, result.cycle, target, options);
      try {
        const seen = compare(target, result);
        if (seen.state === "absent") {
          mkdir(hwDir, store.root);
          writeFileAtomic(target, result.text.endsWith("\n") ? result.text : result.text + "\n");
          rmSync(failurePath(store.root, result.hash, result.hardware, result.cycle), { force: true });
          planned.set(target, result);
          files.push(item);
        } else {
          const reason = seen.state === "conflict" && earlier ? `differs from ${earlier.source}, imported first; that one is kept` : seen.reason;
          files.push({ ...item, state: seen.state, ...(reason ? { reason } : {}) });
        }
      } finally {
        release();
      }
    }
  }
  const summary: Record<ImportState, number> = { imported: 0, duplicate: 0, conflict: 0, refused: 0 };
  for (const f of files) summary[f.state] += 1;
  return { files, summary, ignored };
}

/** Takes a cycle's lock, waiting while a live build holds it (it is measuring that cycle now). */
async function lockCycle(store: ResultStore, hash: string, cycle: number, target: string, options: ImportOptions): Promise<() => void> {
  let told = false;
  for (;;) {
    const lock = store.lock(hash, cycle);
    if (lock.acquired) return lock.release;
    if (!told) { options.onWait?.(target, lock.holder); told = true; }
    await sleep(options.pollMs ?? 200);
  }
}
