import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { tryLock, type LockResult } from "./lock.js";
import { hardwareId } from "./hardware-id.js";
import { validators } from "../config/schemas.js";
import { formatSchemaErrors } from "../config/format-errors.js";
import type { ExperimentConfig } from "../lemfile/types.js";
import type { ExperimentResult } from "../report/result.js";

export interface FailureRecord {
  type: string;
  message: string;
  at: string;
  exchange_dir?: string;
}

/** What the store knows about one config hash; read once per command by snapshot(). */
export interface StoreEntry {
  hash: string;
  names: string[];
  groups: string[];
  config?: ExperimentConfig;
  updatedAt: string;
  /** cycle → hardware fingerprints that have a valid result for it */
  done: Map<number, string[]>;
  /** cycle → hardware fingerprint → last failure there */
  failed: Map<number, Map<string, FailureRecord>>;
}

export interface StoreSnapshot {
  entries: Map<string, StoreEntry>;
  /** Files that could not be used (corrupt, invalid) and were moved aside. */
  warnings: string[];
}

interface ConfigFile { hash_version: number; hash: string; names: string[]; groups?: string[]; config: ExperimentConfig; updated_at: string }

const HASH_DIR = /^[0-9a-f]{16}$/;
const RESULT_FILE = /^cycle-(\d+)\.json$/;
const FAILURE_FILE = /^cycle-(\d+)\.failed\.json$/;

/**
 * results/<hash>/config.json                   the canonical config and every name it had
 * results/<hash>/<hardware-id>/cycle-<n>.json   one measured cycle (schemas/result.schema.json)
 * results/<hash>/<hardware-id>/cycle-<n>.failed.json   the last failure of that cycle there
 * results/<hash>/cycle-<n>.lock                 held while a build measures that cycle
 * Every write is atomic, so a file that exists is complete.
 */
export class ResultStore {
  constructor(readonly root: string) {}

  snapshot(): StoreSnapshot {
    const entries = new Map<string, StoreEntry>();
    const warnings: string[] = [];
    if (!existsSync(this.root)) return { entries, warnings };
    for (const hash of readdirSync(this.root)) {
      if (!HASH_DIR.test(hash)) continue;
      const entry = this.readEntry(hash, warnings);
      if (entry) entries.set(hash, entry);
    }
    return { entries, warnings };
  }

  private readEntry(hash: string, warnings: string[]): StoreEntry | undefined {
    const dir = join(this.root, hash);
    const entry: StoreEntry = { hash, names: [], groups: [], updatedAt: "", done: new Map(), failed: new Map() };
    const config = this.readJson<ConfigFile>(join(dir, "config.json"), warnings);
    if (config) {
      entry.names = config.names ?? [];
      entry.groups = config.groups ?? [];
      entry.config = config.config;
      entry.updatedAt = config.updated_at ?? "";
    }
    for (const child of readdirSync(dir, { withFileTypes: true })) {
      if (!child.isDirectory()) continue;
      const hwDir = join(dir, child.name);
      for (const file of readdirSync(hwDir)) {
        const done = RESULT_FILE.exec(file);
        const failed = FAILURE_FILE.exec(file);
        if (done) {
          const result = this.readResult(join(hwDir, file), hash, Number(done[1]), warnings);
          if (result) push(entry.done, Number(done[1]), result.hardware);
        } else if (failed) {
          const record = this.readJson<FailureRecord & { hardware: string }>(join(hwDir, file), warnings);
          if (record) {
            const byHw = entry.failed.get(Number(failed[1])) ?? new Map<string, FailureRecord>();
            byHw.set(record.hardware, record);
            entry.failed.set(Number(failed[1]), byHw);
          }
        }
      }
    }
    return entry;
  }

  /** A result that cannot be parsed or fails the schema is moved aside and reported, never fatal. */
  private readResult(path: string, hash: string, cycle: number, warnings: string[]): ExperimentResult | undefined {
    const result = this.readJson<ExperimentResult>(path, warnings);
    if (!result) return undefined;
    if (!validators.result(result) || result.hash !== hash || result.cycle !== cycle) {
      const why = validators.result.errors?.length
        ? formatSchemaErrors(validators.result.errors, result).slice(0, 3).join("; ")
        : "hash or cycle does not match its file name";
      warnings.push(`${path}: invalid result (${why}); moved to ${this.quarantine(path)} and will be measured again`);
      return undefined;
    }
    return result;
  }

  private readJson<T>(path: string, warnings: string[]): T | undefined {
    try {
      return JSON.parse(readFileSync(path, "utf8")) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      warnings.push(`${path}: unreadable (${(error as Error).message.split("\n")[0]}); moved to ${this.quarantine(path)}`);
      return undefined;
    }
  }

  private quarantine(path: string): string {
    const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "")}`;
    renameSync(path, aside);
    return aside;
  }

  /** Records the config and names; rewritten when names change so `changed:` can be explained later. */
  saveConfig(hash: string, names: string[], groups: string[], config: ExperimentConfig, hashVersion: number): void {
    const dir = join(this.root, hash);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "config.json");
    const previous = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as ConfigFile) : undefined;
    const union = (a: string[] = [], b: string[]) => [...new Set([...a, ...b])];
    const file: ConfigFile = {
      hash_version: hashVersion, hash, names: union(previous?.names, names), groups: union(previous?.groups, groups),
      config, updated_at: new Date().toISOString(),
    };
    writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n");
  }

  lock(hash: string, cycle: number): LockResult {
    mkdirSync(join(this.root, hash), { recursive: true });
    return tryLock(join(this.root, hash, `cycle-${cycle}.lock`));
  }

  saveResult(result: ExperimentResult): string {
    const dir = join(this.root, result.hash, hardwareId(result.hardware));
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `cycle-${result.cycle}.json`);
    writeFileAtomic(path, JSON.stringify(result, null, 2) + "\n");
    rmSync(join(dir, `cycle-${result.cycle}.failed.json`), { force: true });
    return path;
  }

  saveFailure(hash: string, cycle: number, hardware: string, failure: FailureRecord): void {
    const dir = join(this.root, hash, hardwareId(hardware));
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, `cycle-${cycle}.failed.json`), JSON.stringify({ ...failure, hardware }, null, 2) + "\n");
  }

  /** Every valid result stored for a hash, all hardware, sorted by cycle. */
  results(hash: string): ExperimentResult[] {
    const dir = join(this.root, hash);
    if (!existsSync(dir)) return [];
    const out: ExperimentResult[] = [];
    const warnings: string[] = [];
    for (const child of readdirSync(dir, { withFileTypes: true })) {
      if (!child.isDirectory()) continue;
      for (const file of readdirSync(join(dir, child.name))) {
        const m = RESULT_FILE.exec(file);
        const result = m && this.readResult(join(dir, child.name, file), hash, Number(m[1]), warnings);
        if (result) out.push(result);
      }
    }
    return out.sort((a, b) => a.cycle - b.cycle || a.hardware.localeCompare(b.hardware));
  }

  /** Removes a hash's folder; returns whether it existed. */
  remove(hash: string): boolean {
    const dir = join(this.root, hash);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  }
}

function push(map: Map<number, string[]>, key: number, value: string) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
