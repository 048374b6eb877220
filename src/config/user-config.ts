import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { validators, schemas } from "./schemas.js";
import { formatSchemaErrors } from "./format-errors.js";
import { inputError } from "../errors.js";
import type { Backend } from "../lemfile/types.js";
import type { RunnerName, Strategy } from "./runner-kinds.js";
import type { Setting } from "./settings.js";

export interface UserConfig {
  results_dir: string;
  python?: string;
  jobs: number;
  /** --gpus's default: "all" or a device list; null runs one node at a time. */
  gpus: string | null;
  timeout_seconds: number | null;
  /** gCO2e/kWh for the report's CO2e; unset: none. */
  grid_intensity?: number;
  /** The user's note on where grid_intensity comes from. */
  grid_intensity_source?: string;
  runners?: Partial<Record<Backend, RunnerName>>;
  docker: {
    strategy: Strategy;
    warmup_delay: number;
    auto_teardown: boolean;
    shm_size: string;
    gpus: string;
    memory?: string;
    secrets: string[];
    health_check: { enabled: boolean; interval_experiments: number; gpu_memory_threshold_pct: number; restart_on_failure: boolean; max_restarts: number };
    cold_start: { force_cold_start: boolean };
  };
  /** --runner slurm (schemas/user-config.schema.json says what each field does). */
  slurm: SlurmSettings;
}

export interface SlurmSettings {
  partition?: string;
  account?: string;
  qos?: string;
  time_limit?: string;
  gpus_per_node?: number;
  gres?: string;
  sbatch_args: string[];
  python: string;
  container?: string;
  /** The compute nodes' fingerprints (gpu:<name>, cpu:<model>) for planning; unset: a probe job finds them. */
  hardware?: string[];
  shared_dir: string;
  poll_max_seconds: number;
  /** Nodes on the cluster at once (the scheduler's width for Slurm-only builds, unless --jobs). */
  max_jobs: number;
  /** Same-options nodes as one job array (job-array.ts). */
  arrays: boolean;
  /** sbatch --array's %N. */
  array_throttle?: number;
}

export const USER_CONFIG_FILE = ".lem-config.yaml";

// yaml is loaded only when there is a .lem-config.yaml to read (~50 ms of start-up otherwise).
const loadYaml = () => createRequire(import.meta.url)("yaml") as typeof Yaml;

/** Reads .lem-config.yaml from the project root (optional), validated, with defaults applied. */
export function loadUserConfig(root: string): UserConfig {
  const path = join(root, USER_CONFIG_FILE);
  let data: unknown = {};
  if (existsSync(path)) {
    const { parse, YAMLParseError } = loadYaml();
    try {
      data = parse(readFileSync(path, "utf8")) ?? {};
    } catch (error) {
      const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : "";
      throw inputError(`${path}: not valid YAML${where}: ${(error as Error).message.split("\n")[0]}`, "fix the YAML syntax");
    }
  }
  // What the file itself says, before the validator fills in defaults: a setting's source is the
  // file only where the file gives it.
  const given = structuredClone(data);
  if (!validators.userConfig(data)) {
    throw inputError(`${path}: invalid settings`, "fix the fields named above (see the README's .lem-config.yaml section)",
      formatSchemaErrors(validators.userConfig.errors ?? [], data, schemas.userConfig));
  }
  GIVEN.set(data as UserConfig, given);
  return data as UserConfig;
}

const GIVEN = new WeakMap<UserConfig, unknown>();

/**
 * A .lem-config.yaml field as the two lowest settings layers: the file's value where the file gives
 * it, and the schema's default otherwise. `path` is dotted ("docker.strategy").
 */
export type UserLayers<T> = { user: Setting<T | undefined>; default: Setting<T> };

export function userLayers<T>(user: UserConfig, path: string): UserLayers<T> {
  const at = (root: unknown) => path.split(".").reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), root);
  const value = at(user) as T;
  const raw = GIVEN.has(user) ? at(GIVEN.get(user)) : value;
  return { user: { value: raw === undefined ? undefined : value, source: `${USER_CONFIG_FILE}: ${path}` }, default: { value, source: "default" } };
}

/** The grid intensity for CO2e: --grid-intensity wins over .lem-config.yaml; neither gives none (never a guess). */
export function resolveGridIntensity(flag: number | undefined, user: Pick<UserConfig, "grid_intensity" | "grid_intensity_source">): GridIntensity | null {
  if (flag !== undefined) return { gco2ePerKwh: flag, source: "--grid-intensity" };
  if (user.grid_intensity === undefined) return null;
  const note = user.grid_intensity_source ? ` (${user.grid_intensity_source})` : "";
  return { gco2ePerKwh: user.grid_intensity, source: `${USER_CONFIG_FILE} grid_intensity${note}` };
}

/** A grid's carbon intensity that the user gave, and where it came from; lem never guesses one. */
export interface GridIntensity {
  gco2ePerKwh: number;
  /** Where lem read it (the flag or the settings file), and the user's own note on its origin if any. */
  source: string;
}
